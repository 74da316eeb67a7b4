"""What every handler needs: services, the user's language and profile, translations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update, User
from telegram.ext import ContextTypes

from bot.services import Services
from db import users
from locales import pick_language, translations

Context = ContextTypes.DEFAULT_TYPE
Translate = Callable[[str], str]


def services(context: Context) -> Services:
    """The process-wide services set up by the app factory."""
    return cast(Services, context.application.bot_data["services"])


def memory(context: Context) -> dict[str, Any]:
    """Per-user memory: what the bot keeps, only in RAM, for users who did not consent."""
    return cast(dict[str, Any], context.user_data)


@dataclass(frozen=True)
class Who:
    """The user behind an update, as far as the bot may know them."""

    user_id: int
    language: str
    department_code: str | None
    consented: bool
    _: Translate

    @property
    def ngettext(self) -> Callable[[str, str, int], str]:
        """Plural-aware translation in the user's language."""
        return translations(self.language).ngettext


async def who(update: Update, context: Context) -> Who:
    """Load the user's profile (database for consenting users, memory otherwise)."""
    user = cast(User, update.effective_user)
    svc = services(context)
    async with svc.sessions() as session:
        profile = await users.get_profile(session, user.id)
        if profile is not None and await users.touch(session, profile):
            await session.commit()
    mem = memory(context)
    saved_language = profile.language if profile else mem.get("language")
    language = pick_language(saved_language, user.language_code, svc.settings.default_language)
    department = profile.department_code if profile else mem.get("department")
    return Who(user.id, language, department, profile is not None, translations(language).gettext)


SAVERS = {"department": users.choose_department, "language": users.set_language}
"""How each profile choice is stored for a consenting user."""


async def save_choice(context: Context, profile: Who, key: str, value: str) -> None:
    """Store a profile choice: in the database with consent, in RAM without."""
    if not profile.consented:
        memory(context)[key] = value
        return
    async with services(context).sessions() as session:
        await SAVERS[key](session, profile.user_id, value)
        await session.commit()


def button_row(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    """One row of inline buttons from (text, callback data) pairs."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in buttons]]
    )


def translator(language: str) -> Translate:
    """``gettext`` for one language."""
    return translations(language).gettext
