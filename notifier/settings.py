"""Settings from the environment (``NOTIFIER_*``, nested with ``__``, or ``.env``) and the
policy file ``config/notifier.toml``. Both are validated once, at start; a bad value stops
the program with a message that names the setting or the policy key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from notifier.domain.policy import Policy

DEFAULT_POLICY_PATH = Path("config/notifier.toml")
# The policy shipped with the code, used when the working directory has no config/ of its
# own (running `notifier` from another folder).
SHIPPED_POLICY_PATH = Path(__file__).resolve().parent.parent / "config" / "notifier.toml"
_PLACEHOLDERS = {"", "changeme", "change-me", "secret", "placeholder", "xxx", "todo"}


class ConfigError(Exception):
    """A setting or the policy file is wrong; the message names what and where."""


class TwilioSettings(BaseModel):
    account_sid: str = ""
    auth_token: SecretStr = SecretStr("")
    from_number: str = ""
    messaging_service_sid: str = ""
    api_base: str = "https://api.twilio.com"
    rate_per_second: float = 10.0


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
    secret_key: SecretStr = SecretStr("dev-only-secret-key")
    config_path: Path = DEFAULT_POLICY_PATH
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

    def check_production(self) -> None:
        """Refuse to run in production with missing or placeholder secrets."""
        if self.environment != "production":
            return
        problems: list[str] = []
        secret = self.secret_key.get_secret_value()
        if secret.lower() in _PLACEHOLDERS or secret.startswith("dev-") or len(secret) < 32:
            problems.append("NOTIFIER_SECRET_KEY is missing, a placeholder or shorter than 32")
        if not self.twilio.account_sid:
            problems.append("NOTIFIER_TWILIO__ACCOUNT_SID is missing")
        if self.twilio.auth_token.get_secret_value().lower() in _PLACEHOLDERS:
            problems.append("NOTIFIER_TWILIO__AUTH_TOKEN is missing or a placeholder")
        if not (self.twilio.from_number or self.twilio.messaging_service_sid):
            problems.append(
                "NOTIFIER_TWILIO__FROM_NUMBER or NOTIFIER_TWILIO__MESSAGING_SERVICE_SID is needed"
            )
        if problems:
            raise ConfigError("refusing to start in production: " + "; ".join(problems))


def load_settings(**overrides: object) -> Settings:
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_describe(exc, prefix="NOTIFIER_", sep="__")) from exc
    settings.check_production()
    return settings


def load_policy(path: Path | str = DEFAULT_POLICY_PATH) -> Policy:
    """Read and validate the policy file; errors name the file and the key."""
    path = Path(path)
    if path == DEFAULT_POLICY_PATH and not path.exists() and SHIPPED_POLICY_PATH.exists():
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
