"""Bot API state and method implementations (no HTTP here).

Each Bot API method is an ``async def api_<lowercase name>(self, params, files)`` returning
the ``result`` value or raising :class:`ApiError` with Telegram's status and description.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import io
import json
import re
import secrets
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .parsing import EntityParseError, UploadedFile, render
from .updates import (
    OPT_IN_UPDATE_TYPES,
    FakeChat,
    FileRef,
    JSONDict,
    file_object,
    message,
    now,
    photo_sizes,
    update_type,
    utf16_len,
)

T = TypeVar("T")

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_DOWNLOAD = 20 * 1024 * 1024
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_FILE_KINDS: dict[str, tuple[str, str, str]] = {
    # kind: (file_id prefix, directory, default extension)
    "photo": ("AgACAgIAAxkBAAI", "photos", ".jpg"),
    "document": ("BQACAgIAAxkBAAI", "documents", ""),
    "voice": ("AwACAgIAAxkBAAI", "voice", ".oga"),
    "sticker": ("CAACAgIAAxkBAAI", "stickers", ".webp"),
}
#: Methods accepted and answered with ``True`` without further effect.
ACCEPTED_METHODS = frozenset(
    {
        "setmydescription",
        "setmyshortdescription",
        "setmyname",
        "setchatmenubutton",
        "setmydefaultadministratorrights",
        "close",
        "logout",
    }
)


class ApiError(Exception):
    """A Telegram error response (``ok: false``)."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(f"{status} {description}")
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JSONDict:
        """The JSON error body as Telegram sends it."""
        data: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            data["parameters"] = self.parameters
        return data


def bad_request(reason: str) -> ApiError:
    """``400 Bad Request: <reason>``."""
    return ApiError(400, f"Bad Request: {reason}")


@dataclass
class StoredFile:
    """Bytes served under ``/file/bot<token>/<ref.file_path>``."""

    ref: FileRef
    data: bytes
    kind: str
    mime_type: str | None = None


class BotApi:
    """In-memory Telegram: chats, messages, files, update queue, commands, webhook."""

    def __init__(
        self,
        token: str,
        *,
        username: str = "dumpin_test_bot",
        first_name: str = "Dumpin",
        strict_chats: bool = True,
    ) -> None:
        self.token = token
        prefix = token.split(":", 1)[0]
        self.bot_id = int(prefix) if prefix.isdigit() else 123456789
        self.bot_user: JSONDict = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": first_name,
            "username": username,
        }
        self.strict_chats = strict_chats
        self._chats: dict[int, JSONDict] = {}
        self._messages: dict[int, dict[int, JSONDict]] = {}
        self._last_message_id: dict[int, int] = {}
        self._files: dict[str, StoredFile] = {}
        self._paths: dict[str, str] = {}
        self._file_counter = 0
        self._updates: list[JSONDict] = []
        self._next_update_id = 700_000_001
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        self._webhook: JSONDict = {"url": ""}
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._callback_queries: dict[str, JSONDict | None] = {}
        self._keyboards: dict[int, JSONDict] = {}
        """Per chat: the reply keyboard its user sees (set and removed by the bot's messages)."""
        self._blocked: set[int] = set()
        self._changed = asyncio.Event()
        self._closing = False

    # -- waiting ---------------------------------------------------------------------------

    def _notify(self) -> None:
        """Wake every coroutine waiting for a state change."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_until(self, check: Callable[[], T | None], seconds: float) -> T | None:
        """Re-evaluate ``check`` on every state change until truthy or ``seconds`` elapse."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            event = self._changed
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closing:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    # -- storage helpers -------------------------------------------------------------------

    def _register_chat(self, chat: FakeChat) -> None:
        self._chats[chat.id] = chat.to_dict()

    def _next_message_id(self, chat_id: int) -> int:
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def _store(self, msg: JSONDict) -> JSONDict:
        self._messages.setdefault(msg["chat"]["id"], {})[msg["message_id"]] = msg
        return copy.deepcopy(msg)

    def _new_file(
        self,
        data: bytes,
        kind: str = "photo",
        *,
        file_id: str | None = None,
        file_path: str | None = None,
        extension: str | None = None,
        mime_type: str | None = None,
    ) -> FileRef:
        self._file_counter += 1
        prefix, directory, default_ext = _FILE_KINDS.get(kind, ("BAACAgIAAxkBAAI", kind, ""))
        ext = default_ext if extension is None else extension
        ref = FileRef(
            file_id=file_id or prefix + secrets.token_urlsafe(33),
            file_unique_id="AQAD" + secrets.token_urlsafe(9),
            size=len(data),
            file_path=file_path or f"{directory}/file_{self._file_counter}{ext}",
        )
        self._files[ref.file_id] = StoredFile(ref, bytes(data), kind, mime_type)
        self._paths[ref.file_path] = ref.file_id
        return ref

    def _photo(self, data: bytes) -> tuple[list[JSONDict], list[FileRef]]:
        """PhotoSize list for ``data``: real thumbnails when Pillow can decode it."""
        variants: list[tuple[bytes, int, int]] = []
        try:
            from PIL import Image

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                image = Image.open(io.BytesIO(data))
                image.load()
                width, height = image.size
                for side in (90, 320, 800):
                    if max(width, height) > side:
                        thumb = image.convert("RGB")
                        thumb.thumbnail((side, side))
                        buffer = io.BytesIO()
                        thumb.save(buffer, "JPEG")
                        variants.append((buffer.getvalue(), *thumb.size))
                image.close()
        except Exception:  # not an image Pillow knows: pretend 1280x960, share the bytes
            width, height = 1280, 960
            variants = [(data, side, side * 3 // 4) for side in (90, 320, 800)]
        variants.append((data, width, height))
        refs = [(self._new_file(blob, "photo"), w, h) for blob, w, h in variants]
        return photo_sizes(refs), [ref for ref, _, _ in refs]

    # -- request helpers -------------------------------------------------------------------

    def _chat(self, params: JSONDict) -> JSONDict:
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise bad_request("chat_id is empty")
        if not isinstance(chat_id, int):
            raise bad_request("chat not found")
        if chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id not in self._chats:
            if self.strict_chats:
                raise bad_request("chat not found")
            self._chats[chat_id] = {"id": chat_id, "type": "private", "first_name": "User"}
        return self._chats[chat_id]

    def _message(self, params: JSONDict, action: str) -> JSONDict:
        chat = self._chat(params)
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise bad_request("message identifier is not specified")
        msg = self._messages.get(chat["id"], {}).get(message_id)
        if msg is None:
            raise bad_request(f"message to {action} not found")
        return msg

    def _reply_to(self, chat_id: int, params: JSONDict) -> JSONDict | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            message_id, allow = reply.get("message_id"), reply.get("allow_sending_without_reply")
        else:
            message_id = params.get("reply_to_message_id")
            allow = params.get("allow_sending_without_reply")
        if message_id is None:
            return None
        target = self._messages.get(chat_id, {}).get(message_id)
        if target is None:
            if allow:
                return None
            raise bad_request("message to be replied not found")
        target = copy.deepcopy(target)
        target.pop("reply_to_message", None)
        return target

    @staticmethod
    def _reply_keyboard(markup: JSONDict) -> JSONDict | None:
        """Check a ReplyKeyboardMarkup / ReplyKeyboardRemove; ``None`` for a removal."""
        if "remove_keyboard" in markup:
            if markup["remove_keyboard"] is not True:
                raise bad_request("can't parse reply keyboard markup JSON object")
            return None
        keyboard = markup.get("keyboard")
        if not isinstance(keyboard, list) or not all(isinstance(row, list) for row in keyboard):
            raise bad_request('field "keyboard" must be an Array of Arrays')
        for row in keyboard:
            for button in row:
                text = button.get("text") if isinstance(button, dict) else button
                if not isinstance(text, str) or not text:
                    raise bad_request("can't parse keyboard button: Text must be non-empty")
        return markup

    def _track_keyboard(self, chat_id: int, params: JSONDict) -> None:
        """A sent message's reply keyboard replaces the chat's, a removal clears it."""
        markup = params.get("reply_markup")
        if not isinstance(markup, dict) or "inline_keyboard" in markup:
            return
        if "keyboard" in markup or "remove_keyboard" in markup:
            keyboard = self._reply_keyboard(markup)
            if keyboard is None:
                self._keyboards.pop(chat_id, None)
            else:
                self._keyboards[chat_id] = copy.deepcopy(keyboard)

    @staticmethod
    def _inline_markup(params: JSONDict, *, edit: bool = False) -> JSONDict | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        keyboard = markup.get("inline_keyboard")
        if keyboard is None:
            if edit:  # only inline keyboards can be edited in
                raise bad_request("inline keyboard expected")
            return None  # reply keyboards are not echoed in the Message
        if not isinstance(keyboard, list) or not all(isinstance(row, list) for row in keyboard):
            raise bad_request('field "inline_keyboard" must be an Array of Arrays')
        for row in keyboard:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise bad_request("can't parse inline keyboard button: Text must be non-empty")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise bad_request("BUTTON_DATA_INVALID")
                if len(button) < 2:
                    raise bad_request(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
        return markup

    @staticmethod
    def _text(params: JSONDict, name: str, limit: int, *, required: bool) -> str | None:
        raw = params.get(name)
        if raw is None or raw == "":
            if required:
                raise bad_request("message text is empty")
            return None
        try:
            text = render(str(raw), params.get("parse_mode"))
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from exc
        if required and not text.strip():
            raise bad_request("message text is empty")
        if utf16_len(text) > limit:
            what = "message" if name == "text" else "message caption"
            raise bad_request(f"{what} is too long")
        return text

    def _input_file(
        self, params: JSONDict, files: dict[str, UploadedFile], name: str
    ) -> tuple[StoredFile | None, UploadedFile | None]:
        """Resolve an InputFile parameter: upload, ``attach://``, file_id or URL."""
        value = params.get(name)
        if value is None:
            raise bad_request(f"there is no {name} in the request")
        if isinstance(value, UploadedFile):
            return None, value
        value = str(value)
        if value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
            if upload is None:
                raise bad_request(f"there is no {name} in the request")
            return None, upload
        if value in self._files:
            return self._files[value], None
        if value.startswith(("http://", "https://")):
            return None, UploadedFile(name, value.rsplit("/", 1)[-1], None, b"")
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _bot_message(self, chat: JSONDict, params: JSONDict, **fields: Any) -> JSONDict:
        reply_to = self._reply_to(chat["id"], params)
        msg = message(
            message_id=self._next_message_id(chat["id"]),
            chat=chat,
            from_user=self.bot_user,
            reply_to_message=reply_to,
            message_thread_id=params.get("message_thread_id"),
            **fields,
        )
        markup = self._inline_markup(params)
        if markup is not None:
            msg["reply_markup"] = markup
        self._track_keyboard(chat["id"], params)
        return self._store(msg)

    # -- Bot API methods -------------------------------------------------------------------

    async def api_getme(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def api_getupdates(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        if self._webhook["url"]:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._poll_generation += 1
        generation = self._poll_generation
        offset, limit = params.get("offset"), params.get("limit") or 100
        timeout = float(params.get("timeout") or 0)
        if not isinstance(limit, int) or not 1 <= limit <= 100:
            limit = 100
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed]
        if isinstance(offset, int) and offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif isinstance(offset, int) and offset < 0:
            self._updates = self._updates[offset:]
        self._notify()

        def ready() -> list[JSONDict] | None:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            self._updates = [u for u in self._updates if self._is_allowed(u)]
            return self._updates[:limit] or None

        batch = await self._wait_until(ready, max(timeout, 0.0))
        return copy.deepcopy(batch or [])

    def _is_allowed(self, update: JSONDict) -> bool:
        kind = update_type(update)
        if kind is None:
            return True
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in OPT_IN_UPDATE_TYPES

    async def api_setwebhook(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        url = str(params.get("url") or "")
        if url and not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self._webhook = {"url": url}
        for key in ("allowed_updates", "max_connections", "secret_token", "ip_address"):
            if key in params:
                self._webhook[key] = params[key]
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._poll_generation += 1
        self._notify()
        return True

    async def api_deletewebhook(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        self._webhook = {"url": ""}
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._notify()
        return True

    async def api_getwebhookinfo(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        info: JSONDict = {
            "url": self._webhook["url"],
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        for key in ("allowed_updates", "max_connections", "ip_address"):
            if key in self._webhook:
                info[key] = self._webhook[key]
        return info

    @staticmethod
    def _commands_key(params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise bad_request("can't parse BotCommandScope JSON object")
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    async def api_setmycommands(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("too many commands")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_RE.fullmatch(
                str(command.get("command", ""))
            ):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params)
        if commands:
            self._commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        else:
            self._commands.pop(key, None)
        return True

    async def api_getmycommands(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        return copy.deepcopy(self._commands.get(self._commands_key(params), []))

    async def api_deletemycommands(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        self._commands.pop(self._commands_key(params), None)
        return True

    async def api_getchat(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        return {**self._chat(params), "accent_color_id": 0, "max_reaction_count": 11}

    async def api_sendmessage(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        chat = self._chat(params)
        text = self._text(params, "text", MAX_TEXT, required=True)
        return self._bot_message(chat, params, text=text, entities=params.get("entities"))

    async def api_sendphoto(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        chat = self._chat(params)
        stored, upload = self._input_file(params, files, "photo")
        caption = self._text(params, "caption", MAX_CAPTION, required=False)
        if stored is not None:
            sizes = photo_sizes([(stored.ref, 1280, 960)])
        else:
            assert upload is not None
            sizes, _ = self._photo(upload.data)
        return self._bot_message(
            chat,
            params,
            photo=sizes,
            caption=caption,
            caption_entities=params.get("caption_entities"),
            has_media_spoiler=params.get("has_spoiler") or None,
        )

    async def api_senddocument(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        chat = self._chat(params)
        stored, upload = self._input_file(params, files, "document")
        caption = self._text(params, "caption", MAX_CAPTION, required=False)
        if stored is None:
            assert upload is not None
            name = upload.filename or "document"
            ext = "." + name.rsplit(".", 1)[1] if "." in name else ""
            mime = upload.content_type or "application/octet-stream"
            ref = self._new_file(upload.data, "document", extension=ext, mime_type=mime)
            stored = self._files[ref.file_id]
        else:
            name = stored.ref.file_path.rsplit("/", 1)[-1]
        document = file_object(stored.ref, file_name=name, mime_type=stored.mime_type)
        return self._bot_message(
            chat,
            params,
            document=document,
            caption=caption,
            caption_entities=params.get("caption_entities"),
        )

    def _editable(self, params: JSONDict) -> JSONDict | None:
        """The stored bot message to edit, or ``None`` for inline messages."""
        if params.get("inline_message_id"):
            return None
        msg = self._message(params, "edit")
        if msg.get("from", {}).get("id") != self.bot_id:
            raise bad_request("message can't be edited")
        return msg

    def _apply_edit(self, msg: JSONDict, changes: JSONDict) -> JSONDict:
        if all(msg.get(key) == value for key, value in changes.items()):
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        for key, value in changes.items():
            if value is None:
                msg.pop(key, None)
            else:
                msg[key] = value
        msg["edit_date"] = now()
        return copy.deepcopy(msg)

    async def api_editmessagetext(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        msg = self._editable(params)
        text = self._text(params, "text", MAX_TEXT, required=True)
        markup = self._inline_markup(params, edit=True)
        if msg is None:
            return True
        if "text" not in msg:
            raise bad_request("there is no text in the message to edit")
        changes = {"text": text, "entities": params.get("entities"), "reply_markup": markup}
        return self._apply_edit(msg, changes)

    async def api_editmessagecaption(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        msg = self._editable(params)
        caption = self._text(params, "caption", MAX_CAPTION, required=False)
        markup = self._inline_markup(params, edit=True)
        if msg is None:
            return True
        if "text" in msg:
            raise bad_request("there is no caption in the message to edit")
        changes = {
            "caption": caption,
            "caption_entities": params.get("caption_entities"),
            "reply_markup": markup,
        }
        return self._apply_edit(msg, changes)

    async def api_editmessagereplymarkup(
        self, params: JSONDict, files: dict[str, UploadedFile]
    ) -> Any:
        msg = self._editable(params)
        markup = self._inline_markup(params, edit=True)
        if msg is None:
            return True
        return self._apply_edit(msg, {"reply_markup": markup})

    async def api_deletemessage(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        msg = self._message(params, "delete")
        del self._messages[msg["chat"]["id"]][msg["message_id"]]
        return True

    async def api_answercallbackquery(
        self, params: JSONDict, files: dict[str, UploadedFile]
    ) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._callback_queries or self._callback_queries[query_id] is not None:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        if len(str(params.get("text") or "")) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self._callback_queries[query_id] = {
            key: params[key] for key in ("text", "show_alert", "url", "cache_time") if key in params
        }
        return True

    async def api_sendchataction(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        self._chat(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def api_getfile(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.ref.size > MAX_DOWNLOAD:
            raise bad_request("file is too big")
        return {
            "file_id": stored.ref.file_id,
            "file_unique_id": stored.ref.file_unique_id,
            "file_size": stored.ref.size,
            "file_path": stored.ref.file_path,
        }
