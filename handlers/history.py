"""``/historique``: the user's own photos, counted by material, and the latest ones."""

from __future__ import annotations

from typing import cast

from telegram import Message, Update
from telegram.ext import BaseHandler, CommandHandler

from db import predictions
from handlers.common import Context, services, who
from handlers.render import label


async def on_history(update: Update, context: Context) -> None:
    """Counts by material and the last items."""
    message = cast(Message, update.effective_message)
    profile = await who(update, context)
    if not profile.consented:
        await message.reply_text(
            profile._("I keep no history for you: you did not accept storage (/start).")
        )
        return
    async with services(context).sessions() as session:
        past = await predictions.history(session, profile.user_id)
    if past.total == 0:
        await message.reply_text(profile._("No photos yet. Send me one!"))
        return
    lines = [
        profile.ngettext("📊 %(n)d photo:", "📊 %(n)d photos:", past.total) % {"n": past.total},
        *(f"• {label(profile, category)}: {count}" for category, count in past.by_class),
        "",
        profile._("Latest:"),
        *(f"• {label(profile, category)}{' ✅' if ok else ''}" for category, ok in past.latest),
    ]
    await message.reply_text("\n".join(lines))


HANDLERS: list[BaseHandler[Update, Context, None]] = [
    CommandHandler(["historique", "history"], on_history),
]
