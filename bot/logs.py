"""Logging set-up that never lets a secret reach a log line."""

from __future__ import annotations

import logging
import re

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
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info), self.secrets)
            record.exc_info = None
        return True


def configure_logging(settings: Settings) -> None:
    """Root logging to stderr at the configured level, secrets redacted."""
    secrets = tuple(
        value.get_secret_value()
        for value in (settings.telegram_token, settings.database_url)
        if value is not None
    )
    password = settings.db_url.password
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter((*secrets, *((str(password),) if password else ()))))
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)
