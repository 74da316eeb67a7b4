"""``/langue``: choose French or English."""

from __future__ import annotations

from typing import cast

from telegram import CallbackQuery, Message, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from handlers.common import Context, button_row, save_choice, translator, who


async def on_language(update: Update, context: Context) -> None:
    """Offer the two languages."""
    profile = await who(update, context)
    keyboard = button_row(("🇫🇷 Français", "lang:fr"), ("🇬🇧 English", "lang:en"))
    await cast(Message, update.effective_message).reply_text(
        profile._("Choose your language:"), reply_markup=keyboard
    )


async def on_choice(update: Update, context: Context) -> None:
    """Save the chosen language and confirm in it."""
    query = cast(CallbackQuery, update.callback_query)
    profile = await who(update, context)
    language = (query.data or "").removeprefix("lang:")
    await save_choice(context, profile, "language", language)
    await query.answer()
    if isinstance(query.message, Message):
        _ = translator(language)
        await query.message.edit_text(_("✅ I will speak English."))


HANDLERS: list[BaseHandler[Update, Context, None]] = [
    CommandHandler(["langue", "language"], on_language),
    CallbackQueryHandler(on_choice, pattern=r"^lang:(fr|en)$"),
]
