"""``/oublier``: after confirmation, delete everything stored about the user."""

from __future__ import annotations

import asyncio
from typing import cast

from telegram import CallbackQuery, Message, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from db import erasures
from handlers.answers import forget_memory
from handlers.common import Context, button_row, services, who
from ml import memory_sync


async def on_forget(update: Update, context: Context) -> None:
    """Ask for confirmation."""
    profile = await who(update, context)
    keyboard = button_row(
        (profile._("🗑 Delete everything"), "forget:yes"), (profile._("Cancel"), "forget:no")
    )
    await cast(Message, update.effective_message).reply_text(
        profile._(
            "This deletes your profile, your département, your photos and their labels. "
            "Photos already added to the anonymised training set stay there. Continue?"
        ),
        reply_markup=keyboard,
    )


async def on_confirm(update: Update, context: Context) -> None:
    """Delete rows and stored photos, or cancel."""
    query = cast(CallbackQuery, update.callback_query)
    profile = await who(update, context)
    await query.answer()
    if query.data != "forget:yes":
        text = profile._("Nothing was deleted.")
    else:
        svc = services(context)
        learnt = await memory_sync.entries_of(svc.sessions, profile.user_id)
        async with svc.sessions() as session:
            paths = await erasures.erase(session, svc.erasures, profile.user_id)
            await session.commit()
        memory_sync.drop(svc.classifier, learnt)
        await asyncio.to_thread(svc.media.delete_all, paths)
        forget_memory(context)
        text = profile._("🗑 Done: I have deleted everything I knew about you.")
    if isinstance(query.message, Message):
        await query.message.edit_text(text)


HANDLERS: list[BaseHandler[Update, Context, None]] = [
    CommandHandler(["oublier", "forget"], on_forget),
    CallbackQueryHandler(on_confirm, pattern=r"^forget:(yes|no)$"),
]
