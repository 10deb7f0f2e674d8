"""Settings from the environment (``NOTIFIER_*``, nested with ``__``, or ``.env``) and the
policy file ``config/notifier.toml``. Both are validated once, at start; a bad value stops
the program with a message that names the setting or the policy key.
"""

from __future__ import annotations

import logging
import secrets
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from notifier import shipped
from notifier.credentials import (
    KeyFileError,
    is_placeholder,
    key_file_for,
    read_or_create_key,
    secret_key_problem,
)
from notifier.domain.policy import Policy

# The policy a `config/` folder in the working directory overrides; without one, the policy
# shipped inside the package (notifier.shipped), wherever `notifier` runs from.
DEFAULT_POLICY_PATH = Path("config/notifier.toml")
SHIPPED_POLICY_PATH = shipped.POLICY_FILE
log = logging.getLogger("notifier.settings")


class ConfigError(Exception):
    """A setting or the policy file is wrong; the message names what and where."""


class TwilioSettings(BaseModel):
    account_sid: str = ""
    auth_token: SecretStr = SecretStr("")
    from_number: str = ""
    messaging_service_sid: str = ""
    api_base: str = "https://api.twilio.com"
    rate_per_second: float = 10.0
    # Click-to-call (Twilio Voice, issue 14): off unless the deployment turns it on; the
    # caller id both phones see is voice_from (a Twilio voice number, E.164).
    voice_enabled: bool = False
    voice_from: str = ""


class SmtpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 25
    username: str = ""
    password: SecretStr = SecretStr("")
    starttls: bool = False
    ssl: bool = False
    from_: str = "notifier@localhost"

    model_config = {"populate_by_name": True}

    @model_validator(mode="before")
    @classmethod
    def _from_alias(cls, data: object) -> object:
        # `from` is a keyword in Python; accept NOTIFIER_SMTP__FROM as users write it.
        if isinstance(data, dict) and "from" in data:
            data = dict(data)
            data["from_"] = data.pop("from")
        return data


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NOTIFIER_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    environment: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///./notifier.db"
    public_url: str = "http://127.0.0.1:8000"
    # No constant here: a Settings built in code (tests, tools) gets a key of its own for
    # the process; load_settings() reads the real one (production: the environment only;
    # development: generated once and kept beside the database, see credentials.py).
    secret_key: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))
    config_path: Path = DEFAULT_POLICY_PATH
    # A directory laid out like templates/ (templates/README.md) instead of the templates
    # shipped inside the package.
    templates_dir: Path | None = None
    # How long a command waits for another process's SQLite write lock before it gives up.
    sqlite_busy_timeout_seconds: float = Field(default=30.0, ge=0)
    # `capture` writes every message to files under capture_dir instead of sending it
    # (demos, staging): nothing reaches Twilio or an SMTP server.
    delivery_mode: Literal["live", "capture"] = "live"
    capture_dir: Path = Path("outbox")
    # How often a worker's delivery sweep wakes (seconds). Each run drains the backlog in
    # batches of [delivery] batch until a claim comes back short or the interval is
    # nearly used up, so one worker is not capped at one batch per interval.
    deliver_every_seconds: float = Field(default=60.0, gt=0)
    twilio: TwilioSettings = TwilioSettings()
    smtp: SmtpSettings = SmtpSettings()
    # Exposure (web): GET /metrics answers `Authorization: Bearer <metrics_token>` (a
    # Prometheus scraper) or a manager's or admin's API token; empty means API tokens only.
    # /docs and /redoc are for logged-in users unless public_docs.
    metrics_token: SecretStr = SecretStr("")
    public_docs: bool = False

    @property
    def secret_key_given(self) -> bool:
        """The key came from the environment, ``.env`` or the caller, not the default."""
        return "secret_key" in self.model_fields_set and bool(
            self.secret_key.get_secret_value().strip()
        )

    def check_production(self) -> None:
        """Refuse to run in production with missing, weak or placeholder secrets. The
        message names each setting, never its value."""
        if self.environment != "production":
            return
        problems: list[str] = []
        secret = self.secret_key.get_secret_value() if self.secret_key_given else ""
        why = secret_key_problem(secret)
        if why is not None or secret.startswith("dev-"):
            problems.append(f"NOTIFIER_SECRET_KEY {why or 'is a development key'}")
        if not self.twilio.account_sid:
            problems.append("NOTIFIER_TWILIO__ACCOUNT_SID is missing")
        elif is_placeholder(self.twilio.account_sid):
            problems.append("NOTIFIER_TWILIO__ACCOUNT_SID is a placeholder")
        if is_placeholder(self.twilio.auth_token.get_secret_value()):
            problems.append("NOTIFIER_TWILIO__AUTH_TOKEN is missing or a placeholder")
        if not (self.twilio.from_number or self.twilio.messaging_service_sid):
            problems.append(
                "NOTIFIER_TWILIO__FROM_NUMBER or NOTIFIER_TWILIO__MESSAGING_SERVICE_SID is needed"
            )
        if self.twilio.voice_enabled and not self.twilio.voice_from:
            problems.append("NOTIFIER_TWILIO__VOICE_FROM is needed for click-to-call")
        smtp_password = self.smtp.password.get_secret_value()
        # An SMTP relay without login needs no password; one given must be real.
        if (self.smtp.username or smtp_password) and is_placeholder(smtp_password):
            problems.append("NOTIFIER_SMTP__PASSWORD is missing or a placeholder")
        if self.smtp.username and is_placeholder(self.smtp.username):
            problems.append("NOTIFIER_SMTP__USERNAME is a placeholder")
        if problems:
            raise ConfigError("refusing to start in production: " + "; ".join(problems))


def load_settings(**overrides: object) -> Settings:
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_describe(exc, prefix="NOTIFIER_", sep="__")) from exc
    settings.check_production()
    if settings.environment == "production":
        return settings
    if settings.secret_key_given:
        if not is_placeholder(settings.secret_key.get_secret_value()):
            return settings
        # A copied .env.example: that key is public, so it would sign forgeable cookies.
        log.warning("NOTIFIER_SECRET_KEY is a placeholder: ignored, using a generated key")
    return settings.model_copy(update={"secret_key": SecretStr(_development_key(settings))})


def _development_key(settings: Settings) -> str:
    """Development without NOTIFIER_SECRET_KEY: the key generated once and kept in a file
    beside the database, so that sessions and tracking links survive a restart and every
    process of this installation agrees. Where that file cannot be written (a read-only
    folder), a key for this process only, so that commands that do not need it still run."""
    path = key_file_for(settings.database_url)
    try:
        key, created = read_or_create_key(path)
    except KeyFileError as exc:
        raise ConfigError(f"NOTIFIER_SECRET_KEY is not set and {exc}") from exc
    except OSError as exc:
        log.warning(
            "NOTIFIER_SECRET_KEY is not set and the key file %s cannot be written (%s): "
            "using a key for this process only; sessions and tracking links end with it",
            path, exc.strerror or exc.__class__.__name__,
        )  # fmt: skip
        return secrets.token_urlsafe(32)
    if created:
        log.warning(
            "NOTIFIER_SECRET_KEY is not set: generated a development key and kept it in %s "
            "(mode 0600); production needs NOTIFIER_SECRET_KEY", path,
        )  # fmt: skip
    else:
        log.info("NOTIFIER_SECRET_KEY is not set: using the development key in %s", path)
    return key


def load_policy(path: Path | str = DEFAULT_POLICY_PATH) -> Policy:
    """Read and validate the policy file; errors name the file and the key.

    ``config/notifier.toml`` (the default) is read from the working directory when it is
    there, else from the package; any other path (``--config``, NOTIFIER_CONFIG_PATH)
    must exist."""
    path = Path(path)
    if path == DEFAULT_POLICY_PATH and not path.exists():
        path = SHIPPED_POLICY_PATH
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"policy file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"policy file {path} is not valid TOML: {exc}") from exc
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"policy file {path}: " + _describe(exc, prefix="", sep=".")) from exc


def _describe(exc: ValidationError, *, prefix: str, sep: str) -> str:
    parts = []
    for error in exc.errors():
        key = sep.join(str(p) for p in error["loc"])
        name = (prefix + key.upper()) if prefix else key
        parts.append(f"{name}: {error['msg']}")
    return "; ".join(parts)
