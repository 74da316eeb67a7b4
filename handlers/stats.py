"""``/stats`` for admins; everyone else gets the unknown-command answer."""

from __future__ import annotations

from typing import cast

from telegram import Message, Update, User
from telegram.ext import BaseHandler, CommandHandler

from bot.search_stats import search_lines
from bot.stats_text import card_metrics, last_backup, stats_lines
from db import items, stats
from handlers.common import Context, services, who
from handlers.guide import on_unknown_command
from handlers.render import label


async def on_stats(update: Update, context: Context) -> None:
    """Usage, accuracy and model figures."""
    svc = services(context)
    if cast(User, update.effective_user).id not in svc.settings.admins:
        await on_unknown_command(update, context)
        return
    profile = await who(update, context)
    await svc.search_counts.flush()  # the latest seconds of searches too
    async with svc.sessions() as session:
        figures = await stats.collect(session)
        searches = await items.search_figures(session)
    lines = stats_lines(
        figures,
        profile._,
        lambda category: label(profile, category),
        (svc.classifier.version, card_metrics(svc.classifier.model_card)),
        last_backup(svc.settings.data_dir),
    )
    lines.extend(search_lines(searches, profile._))
    await cast(Message, update.effective_message).reply_text("\n".join(lines))


HANDLERS: list[BaseHandler[Update, Context, None]] = [CommandHandler("stats", on_stats)]
