"""Plain-dict builders for Bot API objects (User, Chat, Message, PhotoSize, ...).

Everything here returns JSON-ready dicts shaped like the Bot API sends them, so that
``telegram.Update.de_json`` parses them without loss.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

JSONDict = dict[str, Any]

#: Update fields Telegram does not deliver unless explicitly listed in ``allowed_updates``.
OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


def now() -> int:
    """Unix time as Telegram sends it (whole seconds)."""
    return int(time.time())


@dataclass(frozen=True)
class FakeUser:
    """A Telegram user talking to the bot; its private chat has the same id."""

    id: int
    first_name: str = "Test"
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "fr"
    is_premium: bool | None = None

    def to_dict(self) -> JSONDict:
        """The ``User`` object."""
        data: JSONDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code", "is_premium"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data

    def private_chat(self) -> FakeChat:
        """The private chat between this user and the bot."""
        return FakeChat(
            id=self.id,
            type="private",
            first_name=self.first_name,
            last_name=self.last_name,
            username=self.username,
        )


@dataclass(frozen=True)
class FakeChat:
    """A chat (private, group, supergroup or channel)."""

    id: int
    type: str = "private"
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None

    def to_dict(self) -> JSONDict:
        """The ``Chat`` object."""
        data: JSONDict = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


@dataclass(frozen=True)
class FileRef:
    """A file known to the fake server (``file_path`` is relative to ``/file/bot<token>/``)."""

    file_id: str
    file_unique_id: str
    size: int
    file_path: str


@dataclass
class Sent:
    """What a test-side builder enqueued.

    ``message`` is the Message dict the bot will react to (for a callback query: the bot
    message carrying the button); ``callback_query`` is set by ``press_button``.
    """

    update: JSONDict
    message: JSONDict | None = None
    callback_query: JSONDict | None = None
    files: list[FileRef] = field(default_factory=list)

    @property
    def update_id(self) -> int:
        """The ``update_id`` of the enqueued update."""
        return int(self.update["update_id"])

    @property
    def chat_id(self) -> int | None:
        """Chat of the message, if any."""
        return None if self.message is None else int(self.message["chat"]["id"])

    @property
    def message_id(self) -> int | None:
        """``message_id`` of the message, if any."""
        return None if self.message is None else int(self.message["message_id"])


def update_type(update: JSONDict) -> str | None:
    """The update's payload field (``message``, ``callback_query``, ...)."""
    return next((key for key in update if key != "update_id"), None)


def message(
    *,
    message_id: int,
    chat: FakeChat | JSONDict,
    from_user: JSONDict | None,
    **fields: Any,
) -> JSONDict:
    """A ``Message``; ``None`` values in ``fields`` are left out."""
    chat_dict = chat.to_dict() if isinstance(chat, FakeChat) else copy.deepcopy(chat)
    data: JSONDict = {"message_id": message_id}
    if from_user is not None:
        data["from"] = copy.deepcopy(from_user)
    data["chat"] = chat_dict
    data["date"] = now()
    data.update({key: value for key, value in fields.items() if value is not None})
    return data


def command_entities(text: str) -> list[JSONDict]:
    """``bot_command`` entity for a leading ``/command`` (UTF-16 offsets)."""
    if not text.startswith("/"):
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Bot API entity offsets and limits."""
    return len(text.encode("utf-16-le")) // 2


def photo_sizes(files: list[tuple[FileRef, int, int]]) -> list[JSONDict]:
    """``PhotoSize`` list, smallest first as Telegram sends it."""
    return [
        {
            "file_id": ref.file_id,
            "file_unique_id": ref.file_unique_id,
            "file_size": ref.size,
            "width": width,
            "height": height,
        }
        for ref, width, height in files
    ]


def file_object(ref: FileRef, **fields: Any) -> JSONDict:
    """A Document/Voice/Sticker-like object for ``ref`` plus ``fields``."""
    data: JSONDict = {
        "file_id": ref.file_id,
        "file_unique_id": ref.file_unique_id,
        "file_size": ref.size,
    }
    data.update({key: value for key, value in fields.items() if value is not None})
    return data
