"""Structured logs: JSON lines with the update's context, hashed users, no secrets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import (
    UPDATE,
    ContextFilter,
    JsonFormatter,
    RedactingFilter,
    TextFormatter,
    UpdateContext,
)
from bot.metrics import hash_user
from tests.bot.conftest import photo_bytes
from tests.bot.test_conversation import first_val
from tests.deploy.conftest import SECRET, Deployed
from tests.fake_telegram import DEFAULT_TOKEN


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Root log records at INFO, formatted as ``DUMPIN_LOG_FORMAT=json`` does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactingFilter((DEFAULT_TOKEN, SECRET)))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("dumpin.test", logging.ERROR, __file__, 1, message, args, exc_info)


def _through_filters(record: logging.LogRecord) -> logging.LogRecord:
    ContextFilter().filter(record)
    RedactingFilter((SECRET,)).filter(record)
    return record


def test_json_line_carries_the_update_context_and_hides_secrets() -> None:
    token = UPDATE.set(UpdateContext(update_id=42, user="ab12", handler="photo.on_photo"))
    try:
        try:
            raise RuntimeError(f"boom with {DEFAULT_TOKEN}")
        except RuntimeError as exc:
            record = _through_filters(_record("calling %s with %s", DEFAULT_TOKEN, SECRET, exc=exc))
    finally:
        UPDATE.reset(token)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["update_id"] == 42 and entry["user"] == "ab12"
    assert entry["handler"] == "photo.on_photo" and entry["level"] == "ERROR"
    assert entry["message"] == "calling *** with ***"
    assert "RuntimeError: boom with ***" in entry["exception"]
    assert DEFAULT_TOKEN not in json.dumps(entry) and SECRET not in json.dumps(entry)


def test_text_lines_stay_readable() -> None:
    record = _through_filters(_record("plain"))
    line = TextFormatter().format(record)
    assert line.endswith("ERROR dumpin.test: plain")
    token = UPDATE.set(UpdateContext(update_id=7, user="ab12"))
    try:
        line = TextFormatter().format(_through_filters(_record("with context")))
    finally:
        UPDATE.reset(token)
    assert line.endswith("dumpin.test: with context [update_id=7 user=ab12]")


async def test_each_update_logs_one_line_with_handler_and_latency(
    hooked: Deployed, json_lines: io.StringIO
) -> None:
    tg = hooked.tg
    user = tg.user(7201, language_code="en")
    sent = await tg.send_photo(user, photo_bytes(first_val("carton")))
    assert (await hooked.post_update(sent.update))[0] == 200
    await hooked.wait_metric('dumpin_updates_total{type="message"}', 1)
    entries = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    [handled] = [e for e in entries if e["message"] == "update handled"]
    assert handled["update_id"] == sent.update["update_id"]
    assert handled["update_type"] == "message"
    assert handled["handler"] == "photo.on_photo"
    assert handled["user"] == hash_user(user.id, DEFAULT_TOKEN.encode())
    assert handled["latency_ms"] > 0
    text = json_lines.getvalue()
    assert str(user.id) not in text and DEFAULT_TOKEN not in text
    assert sent.files[-1].file_id not in text  # nothing about the photo itself
