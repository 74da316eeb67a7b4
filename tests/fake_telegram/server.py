"""In-process fake Telegram Bot API server (aiohttp) with a test-side API.

Usage::

    async with FakeTelegram(token=TOKEN) as tg:
        app = Application.builder().token(TOKEN).base_url(f"{tg.url}/bot") \
            .base_file_url(f"{tg.url}/file/bot").build()
        alice = tg.user(42, "Alice")
        await tg.send_text(alice, "hello")
        [reply] = await tg.wait_for("sendMessage")
"""

from __future__ import annotations

import asyncio
import copy
import json
import secrets
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from .api import ACCEPTED_METHODS, ApiError, BotApi
from .parsing import UploadedFile, read_params
from .updates import FakeChat, FakeUser, FileRef, JSONDict, Sent, command_entities, file_object
from .updates import message as build_message

DEFAULT_TOKEN = "123456789:AAFakeTelegramTokenForTests_0123456789"
#: Pseudo method name under which file downloads are recorded (and can be failed/slowed).
FILE_DOWNLOAD = "file"
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass
class RecordedRequest:
    """One HTTP request the bot made. ``status``/``response`` are set once it completed."""

    seq: int
    method: str
    params: JSONDict
    files: dict[str, UploadedFile]
    time: float
    http_method: str
    status: int | None = None
    response: JSONDict | None = None
    done: bool = False
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        """Whether the request was answered with ``ok: true``."""
        return self.status == 200

    @property
    def result(self) -> Any:
        """The ``result`` field of the response (``None`` for errors)."""
        return None if self.response is None else self.response.get("result")

    def summary(self) -> str:
        """One line for logs."""
        shown = {k: v for k, v in self.params.items() if not isinstance(v, UploadedFile)}
        text = json.dumps(shown, ensure_ascii=False, default=str)
        if len(text) > 160:
            text = text[:157] + "..."
        state = "cancelled" if self.cancelled else (self.status or "pending")
        return f"#{self.seq} {self.http_method} {self.method} -> {state} {text}"


@dataclass
class _Fault:
    status: int
    remaining: int
    retry_after: int | float
    description: str | None
    after: bool = False


@dataclass
class _Delay:
    seconds: float
    remaining: int | None = None


class FakeTelegram(BotApi):
    """Fake Bot API server on ``127.0.0.1`` (free port) plus helpers to drive and inspect it."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        username: str = "dumpin_test_bot",
        first_name: str = "Dumpin",
        strict_chats: bool = True,
        host: str = "127.0.0.1",
        log_limit: int | None = None,
    ) -> None:
        """``log_limit`` keeps only that many of the latest requests (long benchmarks);
        ``calls`` counts them all."""
        super().__init__(token, username=username, first_name=first_name, strict_chats=strict_chats)
        self.host = host
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._log: deque[RecordedRequest] = deque(maxlen=log_limit)
        self.calls: Counter[str] = Counter()
        self._claimed: set[int] = set()
        self._faults: dict[str, deque[_Fault]] = {}
        self._delays: dict[str, _Delay] = {}
        self._methods = {
            name.removeprefix("api_"): getattr(self, name)
            for name in dir(self)
            if name.startswith("api_")
        }
        self._started_at = time.monotonic()

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT`` (API at ``/bot``, files at ``/file/bot``)."""
        if self.port is None:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Bind a free port and start serving."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        """Release long polls and stop the server."""
        self._closing = True
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- HTTP ------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/file/bot"):
            token, _, file_path = path.removeprefix("/file/bot").partition("/")
            return await self._handle(request, token, FILE_DOWNLOAD, file_path=file_path)
        if path.startswith("/bot"):
            token, _, method = path.removeprefix("/bot").partition("/")
            return await self._handle(request, token, method)
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    async def _handle(  # noqa: PLR0912
        self, request: web.Request, token: str, method: str, *, file_path: str = ""
    ) -> web.StreamResponse:
        try:
            params, files = await read_params(request)
        except ValueError:
            params, files = {}, {}
            bad_body = True
        else:
            bad_body = False
        if method == FILE_DOWNLOAD:
            params = {"file_path": file_path}
            name = FILE_DOWNLOAD
        else:
            name = self._canonical(method)
        record = RecordedRequest(
            seq=self.calls.total(),
            method=name,
            params=params,
            files=files,
            time=time.monotonic() - self._started_at,
            http_method=request.method,
        )
        self._log.append(record)
        self.calls[name] += 1
        payload: bytes | None = None
        try:
            try:
                if token != self.token:
                    raise ApiError(401, "Unauthorized")
                if method == FILE_DOWNLOAD:
                    await self._inject(name)
                    stored = self._files.get(self._paths.get(file_path, ""))
                    if stored is None:
                        raise ApiError(404, "Not Found")
                    payload, content_type = stored.data, stored.mime_type
                    response: JSONDict = {"ok": True, "result": {"file_size": len(payload)}}
                else:
                    handler = self._methods.get(method.lower())
                    if handler is None and method.lower() not in ACCEPTED_METHODS:
                        raise ApiError(404, "Not Found")
                    if bad_body:
                        raise ApiError(400, "Bad Request: can't parse JSON object")
                    response = {"ok": True, "result": await self._run(name, handler, params, files)}
                status = 200
            except ApiError as exc:
                status, response = exc.status, exc.body()
        except asyncio.CancelledError:
            record.cancelled = True
            raise
        else:
            record.status, record.response = status, response
        finally:
            record.done = True
            self._notify()
        if payload is not None:
            return web.Response(
                body=payload, content_type=content_type or "application/octet-stream"
            )
        body = json.dumps(response, ensure_ascii=False).encode()
        return web.Response(body=body, status=status, content_type="application/json")

    def _canonical(self, method: str) -> str:
        """Canonical camelCase name of a Bot API method (Telegram ignores case)."""
        lower = method.lower()
        return _CANONICAL.get(lower, method)

    async def _inject(self, method: str) -> None:
        for key in (method.lower(), "*"):
            delay = self._delays.get(key)
            if delay is not None:
                if delay.remaining is not None:
                    delay.remaining -= 1
                    if delay.remaining <= 0:
                        del self._delays[key]
                await asyncio.sleep(delay.seconds)
                break
        self._fail(method, after=False)

    async def _run(
        self,
        method: str,
        handler: Callable[[JSONDict, dict[str, UploadedFile]], Awaitable[Any]] | None,
        params: JSONDict,
        files: dict[str, UploadedFile],
    ) -> Any:
        """The method's result, with the faults planned before and after it did its work."""
        await self._inject(method)
        result = True if handler is None else await handler(params, files)
        self._fail(method, after=True)
        return result

    def _fail(self, method: str, *, after: bool) -> None:
        for key in (method.lower(), "*"):
            faults = self._faults.get(key)
            if faults:
                fault = faults[0]
                if fault.after != after:
                    return
                fault.remaining -= 1
                if fault.remaining <= 0:
                    faults.popleft()
                description = fault.description or _DEFAULT_DESCRIPTIONS.get(fault.status, "Error")
                if fault.status == 429:
                    raise ApiError(
                        429,
                        fault.description or f"Too Many Requests: retry after {fault.retry_after}",
                        {"retry_after": fault.retry_after},
                    )
                raise ApiError(fault.status, description)

    # -- fault injection -------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        times: int = 1,
        status: int = 429,
        retry_after: int | float = 1,
        description: str | None = None,
        after: bool = False,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (``"*"`` = any) with an error.

        429 carries ``parameters.retry_after``; other statuses a Telegram-style description.
        With ``after`` the call does its work first (a message is sent) and the error comes
        instead of the result, as a gateway timing out on a call Telegram carried out.
        """
        self._faults.setdefault(method.lower(), deque()).append(
            _Fault(status, times, retry_after, description, after)
        )

    def slow(self, method: str, seconds: float, *, times: int | None = None) -> None:
        """Delay calls of ``method`` by ``seconds`` (all calls, or the next ``times``).

        ``seconds <= 0`` removes the delay.
        """
        if seconds <= 0:
            self._delays.pop(method.lower(), None)
        else:
            self._delays[method.lower()] = _Delay(seconds, times)

    def block(self, user: FakeUser | FakeChat | int) -> None:
        """Make sends to this chat fail with 403 "bot was blocked by the user"."""
        self._blocked.add(_chat_id(user))

    # -- recording -------------------------------------------------------------------------

    def requests(self, method: str | None = None) -> list[RecordedRequest]:
        """Every request so far (optionally of one method), oldest first."""
        return [r for r in self._log if method is None or r.method.lower() == method.lower()]

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[RecordedRequest], bool] | None = None,
        *,
        timeout: float = 10,  # noqa: ASYNC109
        count: int = 1,
    ) -> list[RecordedRequest]:
        """Wait for ``count`` completed requests of ``method`` matching ``predicate``.

        Each request is returned by at most one ``wait_for`` call, so consecutive calls see
        consecutive requests (also ones that arrived before the call). ``method="*"``
        matches any method. Raises ``AssertionError`` with the request log on timeout.
        """

        def matches() -> list[RecordedRequest]:
            found = [
                r
                for r in self._log
                if r.done
                and r.seq not in self._claimed
                and (method == "*" or r.method.lower() == method.lower())
                and (predicate is None or predicate(r))
            ]
            return found[:count] if len(found) >= count else []

        found = await self._wait_until(matches, timeout)
        if not found:
            got = len([r for r in self._log if r.method.lower() == method.lower() and r.done])
            raise AssertionError(
                f"timed out after {timeout}s waiting for {count} {method} request(s)"
                f"{' matching predicate' if predicate else ''} ({got} {method} seen in all)."
                f"\nRecent requests:\n{self.format_log()}"
            )
        self._claimed.update(r.seq for r in found)
        return found

    def format_log(self, last: int = 25) -> str:
        """The last ``last`` requests, one per line."""
        lines = [f"  {r.time:7.3f}s {r.summary()}" for r in list(self._log)[-last:]]
        return "\n".join(lines) or "  (no requests)"

    # -- state inspection ------------------------------------------------------------------

    def messages(
        self, chat: FakeUser | FakeChat | int, *, include_user: bool = False
    ) -> list[JSONDict]:
        """Current (post-edit, non-deleted) bot messages in ``chat``, oldest first."""
        stored = self._messages.get(_chat_id(chat), {}).values()
        return [
            copy.deepcopy(m)
            for m in stored
            if include_user or m.get("from", {}).get("id") == self.bot_id
        ]

    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by a ``getUpdates`` offset."""
        return copy.deepcopy(self._updates)

    async def wait_delivered(
        self,
        timeout: float = 10,  # noqa: ASYNC109
    ) -> None:
        """Wait until the bot has confirmed every queued update (fetched, not processed)."""
        if await self._wait_until(lambda: not self._updates, timeout) is None:
            raise AssertionError(
                f"{len(self._updates)} update(s) still pending after {timeout}s"
                f"\nRecent requests:\n{self.format_log()}"
            )

    def commands(self, scope: JSONDict | None = None, language_code: str = "") -> list[JSONDict]:
        """Commands set with ``setMyCommands`` for ``scope``/``language_code``."""
        key = self._commands_key({"scope": scope, "language_code": language_code})
        return copy.deepcopy(self._commands.get(key, []))

    def reply_keyboard(self, chat: FakeUser | FakeChat | int) -> JSONDict | None:
        """The reply keyboard the chat's user sees now (``None``: none, or removed)."""
        return copy.deepcopy(self._keyboards.get(_chat_id(chat)))

    def callback_answer(self, query_id: str) -> JSONDict | None:
        """Parameters of the ``answerCallbackQuery`` for ``query_id`` (``None``: unanswered)."""
        return copy.deepcopy(self._callback_queries.get(query_id))

    @property
    def webhook(self) -> JSONDict:
        """Current webhook settings (``url`` is ``""`` when none)."""
        return copy.deepcopy(self._webhook)

    # -- files -----------------------------------------------------------------------------

    def add_file(
        self,
        data: bytes,
        *,
        file_id: str | None = None,
        kind: str = "photo",
        file_path: str | None = None,
        mime_type: str | None = None,
    ) -> FileRef:
        """Store ``data`` for ``getFile``/download (default path ``photos/file_N.jpg``)."""
        return self._new_file(data, kind, file_id=file_id, file_path=file_path, mime_type=mime_type)

    def file_bytes(self, file_id: str) -> bytes:
        """The bytes stored for ``file_id`` (also files the bot uploaded)."""
        return self._files[file_id].data

    # -- users and incoming updates --------------------------------------------------------

    def user(
        self,
        id: int,
        first_name: str = "Test",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "fr",
    ) -> FakeUser:
        """A user; its private chat becomes known to the server."""
        user = FakeUser(id, first_name, last_name, username, language_code)
        self._register_chat(user.private_chat())
        return user

    def group(self, id: int, title: str = "Test group", *, type: str = "supergroup") -> FakeChat:
        """A group chat users can write in (``chat=`` of the ``send_*`` helpers)."""
        chat = FakeChat(id, type, title=title)
        self._register_chat(chat)
        return chat

    def _enqueue(self, update: JSONDict) -> JSONDict:
        if "update_id" not in update:
            update = {"update_id": self._next_update_id, **update}
        self._next_update_id = max(self._next_update_id, int(update["update_id"])) + 1
        self._updates.append(update)
        self._notify()
        return copy.deepcopy(update)

    async def _user_message(
        self,
        user: FakeUser,
        chat: FakeChat | None,
        reply_to: JSONDict | int | None = None,
        **fields: Any,
    ) -> Sent:
        target = chat or user.private_chat()
        if target.id not in self._chats:
            self._register_chat(target)
        reply: JSONDict | None = None
        if reply_to is not None:
            reply_id = reply_to if isinstance(reply_to, int) else reply_to["message_id"]
            reply = copy.deepcopy(self._messages.get(target.id, {}).get(reply_id))
            if reply is None:
                raise AssertionError(f"reply_to: no message {reply_id} in chat {target.id}")
            reply.pop("reply_to_message", None)
        msg = build_message(
            message_id=self._next_message_id(target.id),
            chat=self._chats[target.id],
            from_user=user.to_dict(),
            reply_to_message=reply,
            **fields,
        )
        stored = self._store(msg)
        update = self._enqueue({"message": stored})
        await asyncio.sleep(0)
        return Sent(update=update, message=stored)

    async def send_text(
        self,
        user: FakeUser,
        text: str,
        *,
        chat: FakeChat | None = None,
        reply_to: JSONDict | int | None = None,
        entities: list[JSONDict] | None = None,
    ) -> Sent:
        """A text message from ``user`` (private chat unless ``chat``)."""
        return await self._user_message(user, chat, reply_to, text=text, entities=entities)

    async def send_command(
        self,
        user: FakeUser,
        command: str,
        args: str | Sequence[str] | None = None,
        *,
        chat: FakeChat | None = None,
    ) -> Sent:
        """``/command args`` with its ``bot_command`` entity."""
        command = command if command.startswith("/") else f"/{command}"
        if args is not None and not isinstance(args, str):
            args = " ".join(args)
        text = f"{command} {args}" if args else command
        return await self._user_message(user, chat, text=text, entities=command_entities(text))

    async def send_photo(
        self,
        user: FakeUser,
        data: bytes,
        caption: str | None = None,
        media_group_id: str | None = None,
        *,
        chat: FakeChat | None = None,
    ) -> Sent:
        """A photo; ``message["photo"][-1]`` is the original ``data``, smaller ones thumbnails."""
        sizes, refs = self._photo(data)
        sent = await self._user_message(
            user, chat, photo=sizes, caption=caption, media_group_id=media_group_id
        )
        sent.files = refs
        return sent

    async def send_document(
        self,
        user: FakeUser,
        data: bytes,
        file_name: str = "document.pdf",
        mime_type: str = "application/pdf",
        *,
        caption: str | None = None,
        chat: FakeChat | None = None,
    ) -> Sent:
        """A document (downloadable through ``getFile``)."""
        ext = "." + file_name.rsplit(".", 1)[1] if "." in file_name else ""
        ref = self._new_file(data, "document", extension=ext, mime_type=mime_type)
        document = file_object(ref, file_name=file_name, mime_type=mime_type)
        sent = await self._user_message(user, chat, document=document, caption=caption)
        sent.files = [ref]
        return sent

    async def send_sticker(
        self, user: FakeUser, *, emoji: str = "👍", chat: FakeChat | None = None
    ) -> Sent:
        """A static sticker."""
        ref = self._new_file(b"RIFF\x1a\x00\x00\x00WEBPVP8 ", "sticker", mime_type="image/webp")
        sticker = file_object(
            ref,
            type="regular",
            width=512,
            height=512,
            is_animated=False,
            is_video=False,
            emoji=emoji,
            set_name="TestStickers",
        )
        sent = await self._user_message(user, chat, sticker=sticker)
        sent.files = [ref]
        return sent

    async def send_voice(
        self,
        user: FakeUser,
        *,
        duration: int = 3,
        data: bytes = b"OggS\x00\x02fake-opus",
        chat: FakeChat | None = None,
    ) -> Sent:
        """A voice note."""
        ref = self._new_file(data, "voice", mime_type="audio/ogg")
        voice = file_object(ref, duration=duration, mime_type="audio/ogg")
        sent = await self._user_message(user, chat, voice=voice)
        sent.files = [ref]
        return sent

    async def send_location(
        self,
        user: FakeUser,
        latitude: float = 48.8566,
        longitude: float = 2.3522,
        *,
        chat: FakeChat | None = None,
    ) -> Sent:
        """A location (Paris by default)."""
        return await self._user_message(
            user, chat, location={"latitude": latitude, "longitude": longitude}
        )

    async def share_location(
        self, user: FakeUser, latitude: float, longitude: float, *, chat: FakeChat | None = None
    ) -> Sent:
        """``user`` taps the keyboard's ``request_location`` button: a location message.

        The chat's reply keyboard must have such a button (as on a real client).
        """
        target = chat or user.private_chat()
        keyboard = self._keyboards.get(target.id) or {}
        if not any(
            isinstance(button, dict) and button.get("request_location")
            for row in keyboard.get("keyboard", [])
            for button in row
        ):
            raise AssertionError(
                f"share_location: no location button in {keyboard or 'no keyboard'}"
            )
        return await self.send_location(user, latitude, longitude, chat=chat)

    async def press_button(
        self,
        user: FakeUser,
        message: JSONDict | int,
        callback_data: str,
        *,
        chat: FakeChat | None = None,
        check: bool = True,
    ) -> Sent:
        """``user`` presses an inline button of bot ``message`` (dict or message_id).

        Uses the message's current state; with ``check`` the button must exist on it.
        """
        chat_id = (chat or user.private_chat()).id
        if isinstance(message, dict):
            chat_id = int(message["chat"]["id"])
            message_id = int(message["message_id"])
        else:
            message_id = message
        current = self._messages.get(chat_id, {}).get(message_id)
        if current is None:
            raise AssertionError(f"press_button: no message {message_id} in chat {chat_id}")
        if check:
            buttons = [
                b.get("callback_data")
                for row in current.get("reply_markup", {}).get("inline_keyboard", [])
                for b in row
            ]
            if callback_data not in buttons:
                raise AssertionError(
                    f"press_button: {callback_data!r} not among the message's buttons {buttons}"
                )
        query_id = str(secrets.randbits(63))
        self._callback_queries[query_id] = None
        query = {
            "id": query_id,
            "from": user.to_dict(),
            "message": copy.deepcopy(current),
            "chat_instance": str(abs(hash((chat_id, self.bot_id))) % 10**18),
            "data": callback_data,
        }
        update = self._enqueue({"callback_query": query})
        await asyncio.sleep(0)
        return Sent(update=update, message=copy.deepcopy(current), callback_query=query)

    async def send_raw(self, update: JSONDict) -> Sent:
        """Enqueue ``update`` as is (``update_id`` added if missing) — for malformed input."""
        queued = self._enqueue(copy.deepcopy(update))
        await asyncio.sleep(0)
        msg = queued.get("message")
        return Sent(update=queued, message=msg if isinstance(msg, dict) else None)


def _chat_id(chat: FakeUser | FakeChat | int) -> int:
    return chat if isinstance(chat, int) else chat.id


_CANONICAL = {
    name.lower(): name
    for name in (
        "getMe",
        "getUpdates",
        "setWebhook",
        "deleteWebhook",
        "getWebhookInfo",
        "setMyCommands",
        "getMyCommands",
        "deleteMyCommands",
        "getChat",
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
        "deleteMessage",
        "answerCallbackQuery",
        "sendChatAction",
        "getFile",
        "setMyDescription",
        "setMyShortDescription",
        "setMyName",
        "setChatMenuButton",
        "setMyDefaultAdministratorRights",
        "close",
        "logOut",
    )
}
