"""Decoding of Bot API request bodies and of HTML-formatted text."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

#: Parameters whose string value is JSON-serialized by clients (PTB sends every
#: non-scalar field as a JSON string inside a form body).
JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "reply_parameters",
        "link_preview_options",
        "media",
        "results",
        "options",
        "reaction",
        "message_ids",
        "menu_button",
        "rights",
        "permissions",
        "explanation_entities",
        "question_entities",
        "button",
    }
)
#: Parameters that are integers when they look like one.
INT_FIELDS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "reply_to_message_id",
        "message_thread_id",
        "user_id",
        "offset",
        "limit",
        "cache_time",
        "max_connections",
        "duration",
        "width",
        "height",
        "length",
        "live_period",
    }
)
FLOAT_FIELDS = frozenset({"timeout", "latitude", "longitude"})
_BOOL_PREFIXES = ("disable_", "protect_", "show_", "drop_", "allow_", "has_", "is_", "can_")
_INT_RE = re.compile(r"-?\d+")


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes


def coerce(name: str, value: Any) -> Any:  # noqa: PLR0911
    """Turn a form/query string into the JSON type the Bot API expects for ``name``."""
    if not isinstance(value, str):
        return value
    if name in JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            return value
    if name in INT_FIELDS and _INT_RE.fullmatch(value):
        return int(value)
    if name in FLOAT_FIELDS:
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() and name == "timeout" else number
    if name.startswith(_BOOL_PREFIXES) and value in ("true", "false", "True", "False"):
        return value.lower() == "true"
    return value


async def read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Query string plus JSON, urlencoded or multipart body, decoded to Bot API types."""
    raw: dict[str, Any] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if request.can_read_body:
        content_type = request.content_type
        if content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                raw.update(body)
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    files[name] = UploadedFile(
                        name, value.filename, value.content_type, value.file.read()
                    )
                else:
                    raw[name] = value
    params = {name: coerce(name, value) for name, value in raw.items()}
    for name, upload in files.items():
        params.setdefault(name, upload)
    return params, files


class EntityParseError(ValueError):
    """The text cannot be parsed with the requested parse_mode."""


_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
    }
)


class _TelegramHTML(HTMLParser):
    """Strict subset of HTML accepted by Telegram's ``parse_mode=HTML``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_TAGS:
            raise EntityParseError(f'Unsupported start tag "{tag}"')
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            raise EntityParseError(f'Unexpected end tag "{tag}"')
        expected = self.stack.pop()
        if expected != tag:
            raise EntityParseError(f'Unmatched end tag, expected "</{expected}>", found "</{tag}>"')

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def render(text: str, parse_mode: str | None) -> str:
    """The text as users see it: HTML tags stripped and entities unescaped.

    Markdown modes are returned unchanged (not interpreted by the fake).
    """
    if not parse_mode or parse_mode.lower() != "html":
        return text
    if re.search(r"<(?![a-zA-Z/])", text):
        raise EntityParseError("Unsupported start tag or unescaped '<'")
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    if parser.stack:
        tag = parser.stack[-1]
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{tag}"')
    return "".join(parser.parts)
