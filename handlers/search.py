"""Search by name: plain text, ``/quoi`` and ``/what``, and the buttons of several matches."""

from __future__ import annotations

import re
from typing import cast

from telegram import CallbackQuery, LinkPreviewOptions, Message, Update
from telegram.error import BadRequest
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from db import items
from db.items import ItemCard
from handlers.common import Context, Who, services, who
from handlers.item_card import PREFIX, card_text, choices, explain, nothing_found

PATTERN = re.compile(rf"^{PREFIX}([0-9]{{1,9}})$")
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


async def _card(context: Context, profile: Who, item: ItemCard) -> str:
    """The card, with the container of the user's département when the object has one."""
    rule = None
    if item.category is not None:
        svc = services(context)
        book = await svc.rulebook.get(svc.sessions)
        rule = book.disposal(item.category, profile.department_code, profile.language)
    return card_text(profile, item, rule)


def _count(context: Context, profile: Who, *, matched: bool | None, shown: ItemCard | None) -> None:
    """Anonymous counters for /stats (a search, whether it matched, which card was shown),
    for consenting users only; the query text is never kept. Written in batches."""
    if profile.consented:
        services(context).search_counts.add(
            matched=matched, shown=shown.id if shown is not None else None
        )


async def answer_query(message: Message, context: Context, profile: Who, text: str) -> None:
    """Search ``text`` and answer with a card, the choices, or suggestions."""
    svc = services(context)
    catalogue = await svc.search.get(svc.sessions)
    result, found = catalogue.search(text, profile.language)
    clear = result.clear
    item = catalogue.items[clear.item_id] if clear is not None else None
    if item is not None:
        await message.reply_html(
            await _card(context, profile, item), link_preview_options=NO_PREVIEW
        )
    elif found:
        reply, keyboard = choices(profile, text, found)
        await message.reply_html(reply, reply_markup=keyboard)
    else:
        close = [catalogue.items[m.item_id] for m in result.suggestions]
        reply, markup = nothing_found(profile, text, close)
        await message.reply_html(reply, reply_markup=markup)
    _count(context, profile, matched=bool(found), shown=item)


async def on_what(update: Update, context: Context) -> None:
    """``/quoi TEXT`` and ``/what TEXT``; alone, what it does."""
    message = cast(Message, update.effective_message)
    profile = await who(update, context)
    text = " ".join(context.args or [])
    if not text.strip():
        await message.reply_text(explain(profile))
        return
    await answer_query(message, context, profile, text)


async def on_item(update: Update, context: Context) -> None:
    """An object's button: its card in place of the choices; unknown ids are refused."""
    query = cast(CallbackQuery, update.callback_query)
    profile = await who(update, context)
    match = PATTERN.match(query.data or "")
    item = None
    if match is not None:
        async with services(context).sessions() as session:
            item = await items.item_card(session, int(match[1]))
    if item is None or not isinstance(query.message, Message):
        await query.answer(profile._("This button has expired."), show_alert=True)
        return
    await query.answer()
    try:
        await query.message.edit_text(
            await _card(context, profile, item), parse_mode="HTML", link_preview_options=NO_PREVIEW
        )
    except BadRequest as exc:  # pressed twice: the card is already there
        if "not modified" not in str(exc):
            raise
        return
    _count(context, profile, matched=None, shown=item)


HANDLERS: list[BaseHandler[Update, Context, None]] = [
    CommandHandler(["quoi", "what"], on_what),
    CallbackQueryHandler(on_item, pattern=rf"^{PREFIX}"),
]
