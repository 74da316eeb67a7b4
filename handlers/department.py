"""``/departement``: save the user's département from a code, a name or a postal code."""

from __future__ import annotations

from typing import cast

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from db import geo, locate
from handlers.common import Context, Who, memory, save_choice, who

MAX_CHOICES = 8
"""Buttons offered when a commune name exists in several départements."""
KEYBOARD = "location_keyboard"
"""Memory flag: the « share my location » keyboard is showing (removed once answered)."""


def _location_keyboard(profile: Who) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[KeyboardButton(profile._("📍 Share my location"), request_location=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def _answered(context: Context) -> ReplyKeyboardRemove | None:
    """Removes the location keyboard with the answer that closes the question."""
    return ReplyKeyboardRemove() if memory(context).pop(KEYBOARD, False) else None


async def ask_department(message: Message, profile: Who, context: Context) -> None:
    """Ask for the département (saying which one is saved, if any), offer the location
    button, and take the next text message as the answer."""
    memory(context)["awaiting_department"] = True
    memory(context)[KEYBOARD] = True
    lines = []
    current = geo.department(profile.department_code) if profile.department_code else None
    if current is not None:
        lines.append(
            profile._("Your département is %(name)s (%(code)s).")
            % {"name": current.name, "code": current.code}
        )
    lines.append(
        profile._(
            "📍 Which département do you live in? Send its number, its name, "
            "your postal code or your commune (for example 33, Gironde or 33000)."
        )
    )
    lines.append(profile._("Or share your location with the button below."))
    await message.reply_text("\n".join(lines), reply_markup=_location_keyboard(profile))


def _buttons(departments: list[geo.Department]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(f"{d.name} ({d.code})", callback_data=f"dep:{d.code}")]
            for d in departments
        ]
    )


async def save_department(context: Context, profile: Who, code: str) -> str:
    """Save the choice (database or memory) and return the confirmation text."""
    department = geo.department(code)
    assert department is not None
    await save_choice(context, profile, "department", code)
    return profile._("✅ Département saved: %(name)s (%(code)s). Send me a photo!") % {
        "name": department.name,
        "code": department.code,
    }


async def resolve_and_answer(message: Message, context: Context, profile: Who, text: str) -> None:
    """Resolve ``text`` and save it, or offer the possible départements as buttons."""
    found = geo.resolve_department(text)
    if len(found) == 1:
        memory(context).pop("awaiting_department", None)
        await message.reply_text(
            await save_department(context, profile, found[0].code), reply_markup=_answered(context)
        )
    elif found:
        await message.reply_text(
            profile._("Several départements match. Which one?"),
            reply_markup=_buttons(found[:MAX_CHOICES]),
        )
    else:
        close = geo.suggest_departments(text)
        hint = profile._("I don't know this département.")
        if close:
            await message.reply_text(
                hint + " " + profile._("Did you mean one of these?"), reply_markup=_buttons(close)
            )
        else:
            await message.reply_text(
                hint + " " + profile._("Try its number (33) or a postal code (33000).")
            )


async def on_department(update: Update, context: Context) -> None:
    """``/departement [text]``."""
    message = cast(Message, update.effective_message)
    profile = await who(update, context)
    text = " ".join(context.args or [])
    if not text:
        await ask_department(message, profile, context)
        return
    await resolve_and_answer(message, context, profile, text)


async def on_choice(update: Update, context: Context) -> None:
    """A département button was pressed."""
    query = cast(CallbackQuery, update.callback_query)
    profile = await who(update, context)
    code = (query.data or "").removeprefix("dep:")
    if geo.department(code) is None:
        await query.answer(profile._("This button has expired."), show_alert=True)
        return
    await query.answer()
    memory(context).pop("awaiting_department", None)
    text = await save_department(context, profile, code)
    if not isinstance(query.message, Message):
        return
    remove = _answered(context)
    if remove is None:
        await query.message.edit_text(text)
    else:  # only a new message can take the location keyboard away
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.reply_text(text, reply_markup=remove)


async def on_location(update: Update, context: Context) -> None:
    """A shared location: the département it falls in (or is within a few km of) is saved;
    a point elsewhere changes nothing. The coordinates are not kept."""
    message = cast(Message, update.effective_message)
    profile = await who(update, context)
    where = message.location
    code = locate.department_at(where.latitude, where.longitude) if where else None
    if code is None:
        await message.reply_text(
            profile._(
                "📍 This place is not in a French département (at sea or abroad?). "
                "Your département is unchanged; send its number or name with /departement."
            )
        )
        return
    memory(context).pop("awaiting_department", None)
    await message.reply_text(
        await save_department(context, profile, code), reply_markup=_answered(context)
    )


HANDLERS: list[BaseHandler[Update, Context, None]] = [
    CommandHandler(["departement", "department"], on_department),
    CallbackQueryHandler(on_choice, pattern=r"^dep:"),
    MessageHandler(filters.LOCATION & filters.UpdateType.MESSAGE, on_location),
]
