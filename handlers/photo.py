"""Photos, images sent as files, and albums: material, container and feedback buttons."""

from __future__ import annotations

import asyncio
from typing import cast

from telegram import Message, ReplyParameters, Update
from telegram.ext import BaseHandler, MessageHandler, filters

from bot.metrics import metrics
from bot.updates import ConfirmingBot
from db.disposal import Disposal
from handlers.albums import AlbumCollector, Flush, PendingAlbum, Release
from handlers.answers import remember
from handlers.common import Context, Who, services, who
from handlers.progress import typing_while_slow
from handlers.render import (
    Answer,
    album_keyboard,
    album_text,
    single_keyboard,
    single_text,
)
from ml.image_io import UnsupportedImage
from ml.preprocess import INPUT_SIZE

MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
"""The Bot API's limit for downloads by bots."""
SOURCE_MIN_SIDE = 2 * INPUT_SIZE
"""Telegram offers each photo in several sizes (320, 800, 1280 px...). Twice the model's input
on the shorter side is enough for the model and for crops when the photo becomes training data
(the dataset's photos are ~256 px), at a fraction of the download, decoding and storage."""


def collector(context: Context) -> AlbumCollector:
    """The process-wide album collector."""
    return cast(AlbumCollector, context.application.bot_data.setdefault("albums", AlbumCollector()))


def _file_of(message: Message) -> tuple[str, int | None]:
    """The photo size to download: the smallest whose shorter side is ``SOURCE_MIN_SIDE``,
    else the largest (a document: the file itself)."""
    if message.photo:
        by_area = sorted(message.photo, key=lambda size: size.width * size.height)
        fits = (size for size in by_area if min(size.width, size.height) >= SOURCE_MIN_SIDE)
        best = next(fits, by_area[-1])
        return best.file_id, best.file_size
    document = message.document
    assert document is not None
    return document.file_id, document.file_size


def _hold(update: Update, context: Context) -> Release:
    """Keep the update in flight (unconfirmed) until the returned function is called."""
    bot = context.bot
    if isinstance(bot, ConfirmingBot):
        return bot.in_flight.hold(update.update_id)
    return lambda: None


def unsupported_text(who: Who, reason: str) -> str:
    """What to tell the user about an image that cannot be classified."""
    if reason == "too_large":
        return who._("This image is too large for me. Please send a normal photo.")
    if reason == "empty":
        return who._("This file is empty. Please send a photo of the item.")
    return who._(
        "I could not read this image (damaged or not a supported format). "
        "Please send a JPEG, PNG or WebP photo."
    )


async def rules_for(context: Context, who: Who, labels: set[str]) -> dict[str, Disposal]:
    """The sorting rule of each label in the user's département."""
    svc = services(context)
    book = await svc.rulebook.get(svc.sessions)
    found = {c: book.disposal(c, who.department_code, who.language) for c in labels}
    return {category: rule for category, rule in found.items() if rule is not None}


async def on_photo(update: Update, context: Context) -> None:
    """Classify the photo and answer (or hand it to the album collector)."""
    message = cast(Message, update.effective_message)
    group = message.media_group_id
    if group is not None:
        collector(context).begin(group, message.chat_id, message.message_id, _hold(update, context))
    answer: Answer | None = None
    try:
        answer = await _classify(update, context, message, reply=group is None)
    finally:
        if group is not None:
            collector(context).done(
                group, message.message_id, answer, _album_flusher(update, context)
            )


async def _classify(
    update: Update, context: Context, message: Message, *, reply: bool
) -> Answer | None:
    profile = await who(update, context)
    svc = services(context)
    file_id, size = _file_of(message)
    if size is not None and size > MAX_DOWNLOAD_BYTES:
        await message.reply_text(unsupported_text(profile, "too_large"))
        return None
    async with typing_while_slow(message):
        data = bytes(await (await context.bot.get_file(file_id)).download_as_bytearray())
        try:
            classify = metrics(context.bot_data).timed(svc.classifier.classify_bytes)
            loop = asyncio.get_running_loop()
            prediction = await loop.run_in_executor(svc.inference, classify, data)
        except UnsupportedImage as exc:
            await message.reply_text(unsupported_text(profile, exc.reason))
            return None
    answer, kept = await remember(
        context,
        profile,
        prediction,
        data,
        update_id=update.update_id,
        media_group=message.media_group_id,
    )
    if not kept:
        await message.reply_text(
            profile._("⚠️ I could not save your photo; the answer below is still right.")
        )
    if reply:
        threshold = svc.settings.low_confidence
        rule = (await rules_for(context, profile, {answer.label}))[answer.label]
        await message.reply_html(
            single_text(profile, answer, rule, threshold),
            reply_markup=single_keyboard(profile, answer, threshold),
            do_quote=True,
        )
    return answer


def _album_flusher(update: Update, context: Context) -> Flush:
    async def flush(album: PendingAlbum) -> None:
        if not album.answers:
            return
        profile = await who(update, context)
        answers = [answer for _, answer in album.answers]
        rules = await rules_for(context, profile, {a.label for a in answers})
        await context.bot.send_message(
            album.chat_id,
            album_text(profile, answers, rules, services(context).settings.low_confidence),
            parse_mode="HTML",
            reply_markup=album_keyboard(profile, answers),
            reply_parameters=ReplyParameters(album.first_message_id),
        )

    return flush


HANDLERS: list[BaseHandler[Update, Context, None]] = [
    MessageHandler(filters.PHOTO | filters.Document.IMAGE, on_photo),
]
