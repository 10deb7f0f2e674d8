import logging
import re
import secrets
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from notifier.credentials import (
    is_placeholder,
    key_file_for,
    read_or_create_key,
    secret_key_problem,
)
from notifier.settings import ConfigError, Settings, load_policy, load_settings
from tests.support import ROOT, run

POLICY = Path("config/notifier.toml")


def write_policy(tmp_path: Path, old: str, new: str) -> Path:
    text = POLICY.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "notifier.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_shipped_policy_loads_with_the_domain_defaults() -> None:
    policy = load_policy(POLICY)
    assert policy.stages.m3_max == 90
    assert str(policy.penalty.default_daily_rate) == "0.0005"
    assert [w.name for w in policy.windows.business] == ["morning", "afternoon", "calls"]
    assert policy.quiet_hours.for_country("CN").end.hour == 22
    assert policy.quiet_hours.for_country("FR").end.hour == 21  # default


def test_bad_value_in_policy_names_the_key(tmp_path: Path) -> None:
    path = write_policy(tmp_path, 'm1      = { A = "friendly"', 'm1      = { A = "cheerful"')
    with pytest.raises(ConfigError, match=r"tone\.m1\.A"):
        load_policy(path)


def test_unknown_key_in_policy_is_refused_not_ignored(tmp_path: Path) -> None:
    path = write_policy(tmp_path, "m1_max = 30", "m1_maks = 30")
    with pytest.raises(ConfigError, match=r"stages\.m1_maks"):
        load_policy(path)


def test_bad_window_time_names_the_window(tmp_path: Path) -> None:
    path = write_policy(tmp_path, 'start = "09:00"', 'start = "9 o\'clock"')
    with pytest.raises(ConfigError, match=r"windows\.business\.0\.start"):
        load_policy(path)


def test_missing_policy_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_policy(tmp_path / "nope.toml")


def test_policy_file_that_is_not_toml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[stages\nm1_max=", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_policy(path)


def test_nested_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_DATABASE_URL", "sqlite:///x.db")
    monkeypatch.setenv("NOTIFIER_SECRET_KEY", secrets.token_urlsafe(32))  # no key file made
    monkeypatch.setenv("NOTIFIER_TWILIO__FROM_NUMBER", "+15005550006")
    monkeypatch.setenv("NOTIFIER_SMTP__FROM", "ar@example.com")
    monkeypatch.setenv("NOTIFIER_SMTP__STARTTLS", "true")
    settings = load_settings()
    assert settings.database_url == "sqlite:///x.db"
    assert settings.twilio.from_number == "+15005550006"
    assert settings.smtp.from_ == "ar@example.com"
    assert settings.smtp.starttls is True


def test_production_refuses_placeholder_secrets_naming_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NOTIFIER_ENVIRONMENT", "production")
    monkeypatch.setenv("NOTIFIER_SECRET_KEY", "changeme")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "NOTIFIER_SECRET_KEY" in message
    assert "NOTIFIER_TWILIO__ACCOUNT_SID" in message


def production(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    """A production environment with real-looking secrets, ``values`` overriding them."""
    real = {
        "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "TWILIO__ACCOUNT_SID": "AC" + secrets.token_hex(16),
        "TWILIO__AUTH_TOKEN": secrets.token_hex(16),
        "TWILIO__MESSAGING_SERVICE_SID": "MG" + secrets.token_hex(16),
    }
    for name, value in {**real, **values}.items():
        monkeypatch.setenv("NOTIFIER_" + name, value)


def test_production_starts_with_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch)
    assert load_settings().environment == "production"


@pytest.mark.parametrize(
    "key",
    [
        "replace-with-at-least-32-random-characters",  # config/.env.example
        "a" * 32,
        "ab" * 20,
        "abcdefghij" * 4,  # ten characters, repeated
        "0123456789" + "0" * 30,  # one character is most of the key
        "Zx9#kQ2!mP",  # varied but short
        "dev-only-secret-key",
    ],
)
def test_production_refuses_a_weak_or_example_secret_key_without_showing_it(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    production(monkeypatch, SECRET_KEY=key)
    with pytest.raises(ConfigError, match="NOTIFIER_SECRET_KEY") as info:
        load_settings()
    assert key not in str(info.value)


def test_production_refuses_a_missing_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch)
    monkeypatch.delenv("NOTIFIER_SECRET_KEY")
    with pytest.raises(ConfigError, match="NOTIFIER_SECRET_KEY is missing"):
        load_settings()


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("TWILIO__AUTH_TOKEN", "your_auth_token"),
        ("TWILIO__AUTH_TOKEN", "changeme"),
        ("TWILIO__AUTH_TOKEN", "<auth token>"),
        ("TWILIO__ACCOUNT_SID", "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        ("SMTP__PASSWORD", "changeme"),
        ("SMTP__PASSWORD", "your_smtp_password"),
    ],
)
def test_production_refuses_placeholder_credentials_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, setting: str, value: str
) -> None:
    production(monkeypatch, **{setting: value})
    if setting.startswith("SMTP"):
        monkeypatch.setenv("NOTIFIER_SMTP__USERNAME", "billing")
    with pytest.raises(ConfigError, match="NOTIFIER_" + setting) as info:
        load_settings()
    assert value not in str(info.value)


def test_every_secret_in_the_env_example_is_refused_in_production() -> None:
    """Copying config/.env.example as it is never gives a production that starts."""
    found = {}
    for line in (ROOT / "config" / ".env.example").read_text(encoding="utf-8").splitlines():
        line = line.lstrip("# ")
        name, sep, value = line.partition("=")
        if sep and re.search(r"SECRET|TOKEN|PASSWORD", name):
            found[name] = value
    assert "NOTIFIER_SECRET_KEY" in found
    for name, value in found.items():
        assert is_placeholder(value), (name, value)
        assert secret_key_problem(value) is not None


def test_production_through_the_notifier_command_refuses_the_example_key(
    tmp_path: Path,
) -> None:
    key = "replace-with-at-least-32-random-characters"
    env = {"NOTIFIER_ENVIRONMENT": "production", "NOTIFIER_SECRET_KEY": key,
           "NOTIFIER_TWILIO__AUTH_TOKEN": "your_auth_token"}  # fmt: skip
    result = run("drafts", db=f"sqlite:///{tmp_path / 'n.db'}", env=env)
    assert result.returncode == 1
    assert "NOTIFIER_SECRET_KEY" in result.stderr
    assert "NOTIFIER_TWILIO__AUTH_TOKEN" in result.stderr
    assert key not in result.stderr + result.stdout
    assert "your_auth_token" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_no_constant_secret_a_missing_key_is_generated_once_and_kept_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("NOTIFIER_SECRET_KEY", raising=False)
    url = f"sqlite:///{tmp_path / 'notifier.db'}"
    with caplog.at_level(logging.WARNING, logger="notifier.settings"):
        first = load_settings(database_url=url).secret_key.get_secret_value()
    path = tmp_path / "notifier.db.secret"
    assert path.read_text(encoding="ascii").strip() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_key_problem(first) is None
    [warning] = [r.getMessage() for r in caplog.records]
    assert str(path) in warning and first not in warning
    assert load_settings(database_url=url).secret_key.get_secret_value() == first  # reused
    # No key in the source: two settings built in code never share one.
    assert Settings().secret_key.get_secret_value() != Settings().secret_key.get_secret_value()
    assert "dev-only-secret-key" not in (ROOT / "notifier" / "settings.py").read_text()


def test_a_placeholder_key_in_development_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    placeholder = "replace-with-at-least-32-random-characters"
    monkeypatch.setenv("NOTIFIER_SECRET_KEY", placeholder)
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'n.db'}")
    assert settings.secret_key.get_secret_value() != placeholder
    assert (tmp_path / "n.db.secret").exists()


def test_processes_starting_together_agree_on_the_generated_key(tmp_path: Path) -> None:
    path = tmp_path / "db" / "notifier.db.secret"
    barrier = threading.Barrier(8)

    def start() -> tuple[str, bool]:
        barrier.wait()
        return read_or_create_key(path)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: start(), range(8)))
    assert len({key for key, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def test_the_key_file_sits_beside_a_sqlite_database_else_in_the_working_directory() -> None:
    assert key_file_for("sqlite:////srv/n/notifier.db") == Path("/srv/n/notifier.db.secret")
    assert key_file_for("postgresql://u@h/notifier") == Path("notifier.secret")
    assert key_file_for("sqlite://") == Path("notifier.secret")


def test_invalid_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_SMTP__PORT", "twenty-five")
    with pytest.raises(ConfigError, match="NOTIFIER_SMTP__PORT"):
        load_settings()
