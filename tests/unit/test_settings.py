from pathlib import Path

import pytest

from notifier.settings import ConfigError, load_policy, load_settings

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
    assert [w.name for w in policy.windows.business] == ["morning", "afternoon"]
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


def test_production_starts_with_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_ENVIRONMENT", "production")
    monkeypatch.setenv("NOTIFIER_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("NOTIFIER_TWILIO__ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.setenv("NOTIFIER_TWILIO__AUTH_TOKEN", "a" * 32)
    monkeypatch.setenv("NOTIFIER_TWILIO__MESSAGING_SERVICE_SID", "MG" + "0" * 32)
    assert load_settings().environment == "production"


def test_invalid_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_SMTP__PORT", "twenty-five")
    with pytest.raises(ConfigError, match="NOTIFIER_SMTP__PORT"):
        load_settings()
