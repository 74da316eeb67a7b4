"""``/start``: welcome, privacy notice with consent buttons, then the département."""

from __future__ import annotations

from typing import cast

from telegram import CallbackQuery, Message, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.settings import Settings
from db import users
from handlers.common import Context, Who, button_row, memory, services, who
from handlers.department import ask_department


def privacy_text(profile: Who, settings: Settings) -> str:
    """Welcome and the one-screen privacy notice, with the retention periods in force."""
    _ = profile._
    return "\n\n".join(
        [
            _(
                "👋 Hello! I am Dumpin. Send me a photo of something you want to throw away "
                "and I will tell you what it is made of and which bin it goes in, "
                "in your own département."
            ),
            _(
                "🔒 <b>Privacy</b>\nIf you agree, I store your Telegram id, your language, "
                "your département, and your photos with their labels: to answer you, and to "
                "improve the recognition model. Photos you confirm or correct may join the "
                "training set anonymously (without any link to you); they stay there even "
                "after /oublier, which deletes everything else about you at any time."
            ),
            _(
                "🧠 Photos you confirm or correct also teach me at once: I keep a numeric "
                "fingerprint of each one (not the image) with its label, to recognise similar "
                "photos better. /oublier deletes it like the rest."
            ),
            _(
                "🗓 <b>How long, and backups</b>\nPhotos are stored without their location or "
                "any other hidden data. Photos you neither confirm nor correct are deleted "
                "after %(photo_days)d days, and everything about you after %(inactive_days)d "
                "days without using me. Backups keep a copy for up to %(backup_weeks)d weeks, "
                "and /oublier reaches them too: if one is restored, what you erased is erased "
                "again (for this, a fingerprint of your id that cannot be turned back into it "
                "is kept as long as those backups)."
            )
            % {
                "photo_days": settings.unconfirmed_photo_days,
                "inactive_days": settings.inactive_user_days,
                "backup_weeks": settings.backup_keep,
            },
            _(
                "🔎 Names you search for are not kept: I only count how often each object is "
                "searched, with no link to you. A shared location only sets your département; "
                "its coordinates are not kept."
            ),
            _("If you decline, I still answer your photos but I store nothing about you."),
        ]
    )


async def on_start(update: Update, context: Context) -> None:
    """Send the welcome and privacy notice with the consent buttons."""
    profile = await who(update, context)
    keyboard = button_row(
        (profile._("✅ I agree"), "consent:yes"), (profile._("No thanks"), "consent:no")
    )
    await cast(Message, update.effective_message).reply_html(
        privacy_text(profile, services(context).settings), reply_markup=keyboard
    )


async def on_consent(update: Update, context: Context) -> None:
    """Record the answer to the privacy notice, then ask for the département if needed."""
    query = cast(CallbackQuery, update.callback_query)
    profile = await who(update, context)
    agreed = query.data == "consent:yes"
    svc = services(context)
    mem = memory(context)
    async with svc.sessions() as session:
        if agreed:
            await users.give_consent(
                session, profile.user_id, mem.get("language"), profile.department_code
            )
        else:
            await users.withdraw_consent(session, profile.user_id)
        await session.commit()
    await query.answer()
    text = (
        profile._("✅ Thank you! You can delete your data at any time with /oublier.")
        if agreed
        else profile._("👍 Understood: I will store nothing about you.")
    )
    message = query.message
    if isinstance(message, Message):
        notice = privacy_text(profile, svc.settings)
        await message.edit_text(f"{notice}\n\n{text}", parse_mode="HTML")
        profile = await who(update, context)
        if profile.department_code is None:
            await ask_department(message, profile, context)


HANDLERS: list[BaseHandler[Update, Context, None]] = [
    CommandHandler("start", on_start),
    CallbackQueryHandler(on_consent, pattern=r"^consent:(yes|no)$"),
]
