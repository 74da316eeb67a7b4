"""The one error handler: log, tell the user, alert the admins once per kind of error."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from bot.logs import redact
from db.errors import is_outage
from handlers.common import Context, memory, services, translator
from locales import pick_language

log = logging.getLogger("dumpin.errors")


async def on_error(update: object, context: Context) -> None:
    """Handle any exception a handler raised: a database outage asks the user to try again in
    a moment (one log line); anything else, other database errors included, is logged with
    its traceback, and the user gets an apology."""
    error = context.error
    svc = services(context)
    database = is_outage(error)
    if database:
        log.warning("database unavailable: %s", type(error).__name__)
    else:
        log.error("unhandled error", exc_info=error)
    if isinstance(update, Update) and update.effective_user is not None:
        saved = memory(context).get("language") if context.user_data is not None else None
        language = pick_language(
            saved, update.effective_user.language_code, svc.settings.default_language
        )
        _ = translator(language)
        text = (
            _("⏳ I can't reach my database right now. Please try again in a moment.")
            if database
            else _("😕 Something went wrong on my side. Please try again.")
        )
        try:
            if update.callback_query is not None:
                await update.callback_query.answer(text, show_alert=True)
            elif update.effective_message is not None:
                await update.effective_message.reply_text(text)
        except TelegramError:
            log.warning("could not tell the user about the error")
    await _alert_admins(context, error)


async def _alert_admins(context: Context, error: BaseException | None) -> None:
    svc = services(context)
    kind = type(error).__name__
    if kind in svc.reported_errors or not svc.settings.admins:
        return
    svc.reported_errors.add(kind)
    text = redact(f"⚠️ Dumpin: {kind}: {error}"[:1000], _secrets(context))
    for admin in svc.settings.admins:
        try:
            await context.bot.send_message(admin, text)
        except TelegramError:
            log.warning("could not alert admin about %s", kind)


def _secrets(context: Context) -> tuple[str, ...]:
    return (context.bot.token,)
