"""``/stats`` for admins: the figures, then the chart; everyone else gets the unknown-command
answer."""

from __future__ import annotations

import asyncio
from typing import cast

from telegram import Message, Update, User
from telegram.constants import ChatAction
from telegram.ext import BaseHandler, CommandHandler

from bot.stats_chart import render_png
from bot.stats_text import card_metrics, stats_report
from db import trends
from handlers.common import Context, services, who
from handlers.guide import on_unknown_command


async def on_stats(update: Update, context: Context) -> None:
    """Usage, accuracy, model, backup and search figures, and their weekly chart."""
    svc = services(context)
    if cast(User, update.effective_user).id not in svc.settings.admins:
        await on_unknown_command(update, context)
        return
    profile = await who(update, context)
    await svc.search_counts.flush()  # the latest seconds of searches too
    running = (svc.classifier.version, card_metrics(svc.classifier.model_card))
    async with svc.sessions() as session:
        text = await stats_report(session, profile.language, running)
        weekly = await trends.collect(session)
    message = cast(Message, update.effective_message)
    if weekly.empty:
        later = profile._("📈 A chart comes with the first photos.")
        await message.reply_text(f"{text}\n{later}")
        return
    await message.reply_text(text)
    await message.reply_chat_action(ChatAction.UPLOAD_PHOTO)
    png = await asyncio.to_thread(render_png, weekly, profile.language)
    await message.reply_photo(png)


HANDLERS: list[BaseHandler[Update, Context, None]] = [CommandHandler("stats", on_stats)]
