"""Fake Telegram Bot API server for the bot's tests (see ``server.FakeTelegram``)."""

from .api import ApiError
from .parsing import UploadedFile
from .server import DEFAULT_TOKEN, FILE_DOWNLOAD, FakeTelegram, RecordedRequest
from .updates import FakeChat, FakeUser, FileRef, Sent
from .webhook import Delivery, WebhookDelivery, delivering

__all__ = [
    "DEFAULT_TOKEN",
    "FILE_DOWNLOAD",
    "ApiError",
    "Delivery",
    "FakeChat",
    "FakeTelegram",
    "FakeUser",
    "FileRef",
    "RecordedRequest",
    "Sent",
    "UploadedFile",
    "WebhookDelivery",
    "delivering",
]
