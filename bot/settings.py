"""Runtime settings, read from the environment (prefix ``DUMPIN_``) and an optional ``.env``."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from ml.memory import MAX_USER_ENTRIES

SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "mysql+aiomysql")
SUPPORTED_LANGUAGES = ("fr", "en")
REPO = Path(__file__).resolve().parent.parent


class SettingsError(Exception):
    """A configuration problem, worded for a one-line message to the operator."""


class Settings(BaseSettings):
    """Everything Dumpin reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="DUMPIN_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    telegram_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    data_dir: Path = Path("data")
    database_url: SecretStr | None = None
    admin_ids: str = ""
    default_language: str = "fr"
    log_level: str = "INFO"
    low_confidence: float = Field(default=0.55, ge=0.0, le=1.0)
    backup_keep: int = Field(default=8, ge=1)
    harvest_min_per_class: int = Field(default=10, ge=1)
    retrain_min_new: int = Field(default=200, ge=1)
    base_dataset: Path = REPO.parent / "shared" / "datasets" / "waste-v1"
    shipped_model_dir: Path = REPO / "ml" / "models"
    model_poll_seconds: float = Field(default=30.0, gt=0.0)
    memory_poll_seconds: float = Field(default=30.0, gt=0.0)
    memory_max_entries: int = Field(default=MAX_USER_ENTRIES, ge=0)
    log_format: Literal["text", "json"] = "text"
    http_listen: str = "127.0.0.1:8080"
    webhook_listen: str = "0.0.0.0:8080"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    send_rate: float = Field(default=30.0, ge=0.0)
    """Messages per second the bot sends at most (Telegram's broadcast limit); 0: no limit."""
    erasure_key: SecretStr | None = None
    """Key of the erased users' hashes; default: ``<data dir>/erasure.key``, made at first use."""
    unconfirmed_photo_days: int = Field(default=30, ge=1)
    """Photos neither confirmed nor corrected are deleted after this many days."""
    inactive_user_days: int = Field(default=365, ge=1)
    """Users who have not used the bot for this many days are erased like with /oublier."""
    lock_check_seconds: float = Field(default=60.0, gt=0.0)
    """How often the scheduler checks that it still holds its single-instance lock."""

    @field_validator("default_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in SUPPORTED_LANGUAGES:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_LANGUAGES)}")
        return value

    @field_validator("telegram_api_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("http_listen", "webhook_listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or int(port) > 65535:
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:8080")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value and not value.startswith("https://"):
            raise ValueError("must be an https:// URL (Telegram only calls HTTPS webhooks)")
        return value or None

    @field_validator("webhook_secret")
    @classmethod
    def _secret_charset(cls, value: SecretStr | None) -> SecretStr | None:
        secret = value.get_secret_value() if value is not None else ""
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ValueError("must be 1-256 characters among A-Z, a-z, 0-9, _ and -")
        return value if secret else None

    @cached_property
    def admins(self) -> frozenset[int]:
        """Telegram user ids allowed to use admin commands."""
        ids = (part.strip() for part in self.admin_ids.split(","))
        return frozenset(int(part) for part in ids if part)

    @cached_property
    def db_url(self) -> URL:
        """The SQLAlchemy URL, the embedded SQLite file by default."""
        if self.database_url is None:
            return make_url(f"sqlite+aiosqlite:///{self.data_dir / 'dumpin.db'}")
        return parse_database_url(self.database_url.get_secret_value())

    def token(self) -> str:
        """The bot token, or a clear error when it is missing."""
        if self.telegram_token is None or not self.telegram_token.get_secret_value().strip():
            raise SettingsError(
                "DUMPIN_TELEGRAM_TOKEN is not set: create a bot with @BotFather on Telegram "
                "and export its token (or put it in .env)"
            )
        return self.telegram_token.get_secret_value().strip()


def parse_database_url(raw: str) -> URL:
    """Parse and check a database URL without ever echoing its password."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise SettingsError(
            "DUMPIN_DATABASE_URL is not a valid URL (expected e.g. "
            "mysql+aiomysql://user:pass@host/db or sqlite+aiosqlite:///path.db)"
        ) from None
    if url.drivername not in SUPPORTED_DRIVERS:
        raise SettingsError(
            f"DUMPIN_DATABASE_URL uses driver '{url.drivername}'; "
            f"supported: {', '.join(SUPPORTED_DRIVERS)}"
        )
    return url


def load_settings() -> Settings:
    """Read the settings, turning validation errors into a one-line ``SettingsError``."""
    try:
        settings = Settings()
        _ = settings.admins, settings.db_url
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "DUMPIN_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise SettingsError(f"{field}: {first['msg']}") from None
    except ValueError:
        raise SettingsError("DUMPIN_ADMIN_IDS must be comma-separated Telegram user ids") from None
    return settings
