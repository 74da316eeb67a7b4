"""Logging set-up that never lets a secret reach a log line.

Records carry the context of the update being handled (update id, hashed user id, handler)
through :data:`UPDATE`; ``DUMPIN_LOG_FORMAT=json`` writes one JSON object per line.
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.settings import Settings

_TOKEN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with bot tokens, URL passwords and the given secrets masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _TOKEN.sub("***", text)
    return _URL_PASSWORD.sub(r"\1***@", text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and traceback) with :func:`redact`."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), self.secrets)
        record.args = None
        for key, value in _extras(record).items():
            if isinstance(value, str):
                setattr(record, key, redact(value, self.secrets))
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info), self.secrets)
            record.exc_info = None
        return True


@dataclass
class UpdateContext:
    """What log lines say about the update being handled (never the raw user id)."""

    update_id: int
    user: str | None
    handler: str | None = None


UPDATE: ContextVar[UpdateContext | None] = ContextVar("dumpin_update", default=None)
"""The update handled by the current task (set by the application, copied into threads)."""

_RECORD_FIELDS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class ContextFilter(logging.Filter):
    """Adds ``update_id``, ``user`` and ``handler`` of the current update to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = UPDATE.get()
        if current is not None:
            record.update_id = current.update_id
            record.user = current.user
            record.handler = current.handler
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _RECORD_FIELDS and not key.startswith("_") and value is not None
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context and extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Readable lines; context and extra fields follow the message as ``key=value``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging API)
        fields = " ".join(f"{key}={value}" for key, value in _extras(record).items())
        line = super().formatMessage(record)
        return f"{line} [{fields}]" if fields else line


def configure_logging(settings: Settings) -> None:
    """Root logging to stderr at the configured level and format, secrets redacted."""
    secrets = tuple(
        value.get_secret_value()
        for value in (
            settings.telegram_token,
            settings.database_url,
            settings.webhook_secret,
            settings.erasure_key,
        )
        if value is not None
    )
    password = settings.db_url.password
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactingFilter((*secrets, *((str(password),) if password else ()))))
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)
