"""``/aide``, and the answers to everything that is not a photo or a known command."""

from __future__ import annotations

from typing import cast

from telegram import CallbackQuery, Message, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from handlers.common import Context, Who, memory, who
from handlers.department import resolve_and_answer
from handlers.search import answer_query


def help_text(profile: Who) -> str:
    """What the bot does, its commands, and tips for a good photo."""
    _ = profile._
    return "\n".join(
        [
            _("📸 Send me a photo of an item: I tell you its material and which bin it goes in."),
            _(
                "🔎 Or type its name (« pile », « pot de yaourt », « médicaments »): "
                "I answer with ADEME's advice and the bin for your département."
            ),
            "",
            _("/quoi – find an object by its name"),
            _("/departement – set your département (number, name or postal code)"),
            _("📍 Sharing your location also sets your département (it is not kept)."),
            _("/langue – français / English"),
            _("/historique – your photos so far"),
            _("/oublier – delete everything I know about you"),
            _("/aide – this help"),
            "",
            _(
                "💡 Tips: one item per photo, well lit, filling most of the picture. "
                "Tap ✏️ if I get it wrong: it helps me learn."
            ),
        ]
    )


async def on_help(update: Update, context: Context) -> None:
    """``/aide`` and ``/help``."""
    profile = await who(update, context)
    await cast(Message, update.effective_message).reply_text(help_text(profile))


async def on_text(update: Update, context: Context) -> None:
    """Plain text: the awaited département, else a search by name."""
    message = cast(Message, update.effective_message)
    profile = await who(update, context)
    if memory(context).get("awaiting_department"):
        await resolve_and_answer(message, context, profile, message.text or "")
        return
    await answer_query(message, context, profile, message.text or "")


async def on_unknown_command(update: Update, context: Context) -> None:
    """A command the bot does not have (or may not show to this user)."""
    profile = await who(update, context)
    await cast(Message, update.effective_message).reply_text(
        profile._("I don't know this command. /aide lists what I can do.")
    )


async def on_other(update: Update, context: Context) -> None:
    """Stickers, voice, videos, locations, non-image files…"""
    profile = await who(update, context)
    await cast(Message, update.effective_message).reply_text(
        profile._("I can only read photos 📸. Please send me a photo of the item.")
    )


async def on_stale_button(update: Update, context: Context) -> None:
    """Any button data no other handler recognises."""
    profile = await who(update, context)
    await cast(CallbackQuery, update.callback_query).answer(
        profile._("This button has expired."), show_alert=True
    )


HANDLERS: list[BaseHandler[Update, Context, None]] = [
    CommandHandler(["aide", "help"], on_help),
]

FALLBACKS: list[BaseHandler[Update, Context, None]] = [
    MessageHandler(filters.COMMAND, on_unknown_command),
    MessageHandler(filters.TEXT & ~filters.COMMAND, on_text),
    MessageHandler(filters.ALL & ~filters.StatusUpdate.ALL, on_other),
    CallbackQueryHandler(on_stale_button),
]
"""Registered last, after every feature's handlers."""
