"""Updates skipped because their chat sent more than the bot holds at once (see
``bot.updates.PerChatProcessor``): the user is told which ones to send again."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, TypeHandler

from bot.updates import PerChatProcessor
from handlers.common import Context, who


async def on_skipped(update: Update, context: Context) -> None:
    """Stop a skipped update here: quote the first message of the burst with the notice,
    answer a pressed button; the rest of the burst gets nothing."""
    processor = context.application.update_processor
    first = (
        processor.skipped.get(update.update_id) if isinstance(processor, PerChatProcessor) else None
    )
    if first is None:
        return
    if update.effective_user is not None and (first or update.callback_query is not None):
        profile = await who(update, context)
        if update.callback_query is not None:
            await update.callback_query.answer(
                profile._(
                    "⏳ I am still answering your previous messages: press again in a moment."
                )
            )
        elif update.effective_message is not None:
            await update.effective_message.reply_text(
                profile._(
                    "⏳ You sent me many messages at once. I answer them in order, but this "
                    "one and those after it were not read: please send them again once I "
                    "have answered."
                ),
                do_quote=True,
            )
    raise ApplicationHandlerStop


HANDLERS: list[BaseHandler[Update, Context, None]] = [TypeHandler(Update, on_skipped)]
