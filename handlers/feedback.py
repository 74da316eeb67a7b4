"""Buttons under an answer: confirm, open the grid, pick a material, go back."""

from __future__ import annotations

import re
from typing import cast

from telegram import CallbackQuery, Message, Update
from telegram.error import BadRequest
from telegram.ext import BaseHandler, CallbackQueryHandler

from db.categories import CLASSES
from handlers.answers import KEY, choose, load_group
from handlers.common import Context, Who, services, who
from handlers.photo import rules_for
from handlers.render import (
    Answer,
    album_keyboard,
    album_text,
    grid_keyboard,
    single_keyboard,
    single_text,
)

PATTERN = re.compile(rf"^(ok|fix|back):({KEY})$|^set:({KEY}):([a-z_]{{1,20}})$")


async def _expired(query: CallbackQuery, profile: Who) -> None:
    await query.answer(profile._("This button has expired."), show_alert=True)


async def on_button(update: Update, context: Context) -> None:
    """Apply a feedback button; stale, forged or foreign buttons only get 'expired'."""
    query = cast(CallbackQuery, update.callback_query)
    profile = await who(update, context)
    match = PATTERN.match(query.data or "")
    message = query.message if isinstance(query.message, Message) else None
    if match is None or message is None:
        await _expired(query, profile)
        return
    action, key = (match[1], match[2]) if match[1] else ("set", match[3])
    category = match[4]
    if category is not None and category not in CLASSES:
        await _expired(query, profile)
        return
    group = await load_group(context, profile, key)
    if group is None:
        await _expired(query, profile)
        return
    answers, album = group
    if action == "fix":
        await query.answer()
        await _edit_markup(message, grid_keyboard(profile, key))
        return
    if action == "back":
        await query.answer()
        target = next(a for a in answers if a.key == key)
        keyboard = (
            album_keyboard(profile, answers)
            if album
            else single_keyboard(profile, target, services(context).settings.low_confidence)
        )
        await _edit_markup(message, keyboard)
        return
    target = next(a for a in answers if a.key == key)
    chosen = category or target.predicted
    if not await choose(context, profile, key, chosen):
        await _expired(query, profile)
        return
    await query.answer(profile._("Thanks!"))
    answers = [
        Answer(a.key, a.predicted, a.confidence, a.top3, chosen) if a.key == key else a
        for a in answers
    ]
    await _rerender(context, profile, message, answers, album)


async def _rerender(
    context: Context, profile: Who, message: Message, answers: list[Answer], album: bool
) -> None:
    threshold = services(context).settings.low_confidence
    rules = await rules_for(context, profile, {a.label for a in answers})
    if album:
        text = album_text(profile, answers, rules, threshold)
        keyboard = album_keyboard(profile, answers)
    else:
        text = single_text(profile, answers[0], rules[answers[0].label], threshold)
        keyboard = single_keyboard(profile, answers[0], threshold)
    try:
        await message.edit_text(text, parse_mode="HTML", reply_markup=keyboard)
    except BadRequest as exc:
        if "not modified" not in str(exc):
            raise


async def _edit_markup(message: Message, keyboard: object) -> None:
    try:
        await message.edit_reply_markup(reply_markup=keyboard)  # type: ignore[arg-type]
    except BadRequest as exc:
        if "not modified" not in str(exc):
            raise


HANDLERS: list[BaseHandler[Update, Context, None]] = [
    CallbackQueryHandler(on_button, pattern=r"^(ok|fix|set|back):"),
]
