"""Replies to photos: text and inline keyboards for one photo or an album."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from db import geo
from db.categories import CLASSES
from db.disposal import Disposal
from handlers.common import Who
from locales.labels import LABELS

SURE = 0.85


@dataclass(frozen=True)
class Answer:
    """One photo's answer as the user sees it."""

    key: str
    """Prediction id in callback data: a database id, or ``m<random>`` for one kept in memory."""
    predicted: str
    confidence: float
    top3: tuple[tuple[str, float], ...]
    chosen: str | None = None
    """The label the user confirmed or picked, if any."""

    @property
    def label(self) -> str:
        """What the photo is, as far as we know."""
        return self.chosen or self.predicted


def label(who: Who, category: str) -> str:
    """The material's name in the user's language."""
    return who._(LABELS[category])


def certainty(who: Who, confidence: float, threshold: float) -> str:
    """Confidence in words."""
    if confidence >= SURE:
        return who._("sure")
    if confidence >= threshold:
        return who._("likely")
    return who._("uncertain")


def place_lines(who: Who, local: bool) -> list[str]:
    """Where the rule applies: the user's département, or the national rule and how to set it."""
    if who.department_code is None:
        return [who._("📍 National rule: set your département with /departement for local rules.")]
    department = geo.department(who.department_code)
    name = f"{department.name} ({department.code})" if department else who.department_code
    lines = [f"📍 {escape(name)}"]
    if not local:
        lines.append(who._("ℹ️ Bin colours vary: check the lid colour in your commune."))
    return lines


def single_text(who: Who, answer: Answer, rule: Disposal, threshold: float) -> str:
    """The reply to one photo."""
    lines = [
        f"<b>{escape(label(who, answer.label))}</b>"
        + (
            ""
            if answer.chosen
            else f" · {certainty(who, answer.confidence, threshold)} "
            f"({round(answer.confidence * 100)} %)"
        ),
        f"🗑 <b>{escape(rule.container)}</b>",
        escape(rule.instruction),
        *place_lines(who, rule.local),
    ]
    if answer.chosen is not None:
        lines.append(who._("✅ Thanks, noted!"))
    elif answer.confidence < threshold:
        lines.append(who._("🤔 I am not sure: pick the right material below."))
        lines.append(who._("⌨️ Or type the object's name, for example « pot de yaourt »."))
    return "\n".join(lines)


def album_text(
    who: Who, answers: list[Answer], rules: dict[str, Disposal], threshold: float
) -> str:
    """One combined reply for an album: a line per photo."""
    lines = [
        who.ngettext("📸 %(n)d photo:", "📸 %(n)d photos:", len(answers)) % {"n": len(answers)}
    ]
    for number, answer in enumerate(answers, 1):
        rule = rules[answer.label]
        mark = " ✅" if answer.chosen else f" ({certainty(who, answer.confidence, threshold)})"
        lines.append(
            f"{number}. <b>{escape(label(who, answer.label))}</b>{mark} → {escape(rule.container)}"
        )
    local = all(rules[a.label].local for a in answers)
    lines.extend(place_lines(who, local))
    return "\n".join(lines)


def single_keyboard(who: Who, answer: Answer, threshold: float) -> InlineKeyboardMarkup:
    """Confirm/correct buttons, or the top 3 to pick from when the model is unsure."""
    fix = InlineKeyboardButton(who._("✏️ Correct"), callback_data=f"fix:{answer.key}")
    if answer.chosen is not None:
        return InlineKeyboardMarkup([[fix]])
    if answer.confidence < threshold:
        rows = [
            [
                InlineKeyboardButton(
                    f"{label(who, top)} ({round(p * 100)} %)",
                    callback_data=f"set:{answer.key}:{top}",
                )
            ]
            for top, p in answer.top3
        ]
        other = InlineKeyboardButton(who._("✏️ Something else"), callback_data=f"fix:{answer.key}")
        return InlineKeyboardMarkup([*rows, [other]])
    ok = InlineKeyboardButton(who._("✅ That's right"), callback_data=f"ok:{answer.key}")
    return InlineKeyboardMarkup([[ok, fix]])


def album_keyboard(who: Who, answers: list[Answer]) -> InlineKeyboardMarkup:
    """A compact row per photo: confirm or correct it."""
    rows = []
    for number, answer in enumerate(answers, 1):
        row = [InlineKeyboardButton(f"✏️ {number}", callback_data=f"fix:{answer.key}")]
        if answer.chosen is None:
            row.insert(0, InlineKeyboardButton(f"✅ {number}", callback_data=f"ok:{answer.key}"))
        rows.append(row)
    return InlineKeyboardMarkup(rows)


def grid_keyboard(who: Who, key: str) -> InlineKeyboardMarkup:
    """Every material, two a row, and a way back."""
    buttons = [
        InlineKeyboardButton(label(who, category), callback_data=f"set:{key}:{category}")
        for category in CLASSES
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([InlineKeyboardButton(who._("↩️ Cancel"), callback_data=f"back:{key}")])
    return InlineKeyboardMarkup(rows)
