"""Replies to a search by name: an object's card, the choices, and "nothing found"."""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from db.disposal import Disposal
from db.items import SOURCE, SOURCE_URL, ItemCard
from handlers.common import Who
from handlers.render import place_lines

PREFIX = "it:"
"""Callback data of an object's button: ``it:<item id>`` (the id survives restarts)."""
MAX_BUTTON = 60
MAX_ECHO = 60


def button_data(item_id: int) -> str:
    """The callback data that opens an object's card."""
    return f"{PREFIX}{item_id}"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def card_text(who: Who, item: ItemCard, rule: Disposal | None) -> str:
    """The object's name, what to do (good and worn-out variants when the data has them),
    the container for the user's département when the object has a category, the source."""
    _ = who._
    title = item.title(who.language)
    lines = [f"<b>{escape(title)}</b>" + (f" ({escape(item.name)})" if title != item.name else "")]
    if who.language != "fr":
        lines.append(_("🇫🇷 ADEME's advice below is in French."))
    lines.append("")
    if item.what:
        lines.extend([item.what, ""])
    for heading, text in (
        (_("👍 Still usable"), item.good),
        (_("🔧 Worn out or broken"), item.bad),
    ):
        if text:
            lines.extend([f"<b>{escape(heading)}</b>", text, ""])
    if rule is not None:
        lines.append(f"🗑 <b>{escape(rule.container)}</b>")
        lines.extend(place_lines(who, rule.local))
        lines.append("")
    source = f'<a href="{SOURCE_URL}">{escape(SOURCE)}</a>'
    lines.append(
        "<i>" + _("Source: %(source)s (© ADEME, MIT licence)") % {"source": source} + "</i>"
    )
    return "\n".join(lines)


def _buttons(who: Who, items: list[ItemCard]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _short(item.title(who.language), MAX_BUTTON), callback_data=button_data(item.id)
                )
            ]
            for item in items
        ]
    )


def choices(who: Who, query: str, items: list[ItemCard]) -> tuple[str, InlineKeyboardMarkup]:
    """Several close matches: which one?"""
    text = who._("🔎 Several objects match « %(query)s ». Which one is it?") % {
        "query": escape(_short(query.strip(), MAX_ECHO))
    }
    return text, _buttons(who, items)


def nothing_found(
    who: Who, query: str, suggestions: list[ItemCard]
) -> tuple[str, InlineKeyboardMarkup | None]:
    """No match: closer names if any, and the photo as the other way."""
    _ = who._
    lines = [
        _("🤷 I don't know « %(query)s ».") % {"query": escape(_short(query.strip(), MAX_ECHO))}
    ]
    if suggestions:
        lines.append(_("Did you mean one of these?"))
    lines.append(
        _("📸 Send me a photo of the object and I will tell you which bin it goes in. /aide")
    )
    return "\n".join(lines), _buttons(who, suggestions) if suggestions else None


def explain(who: Who) -> str:
    """``/quoi`` without a name."""
    return who._(
        "🔎 Type the name of an object (for example « pile », « pot de yaourt », "
        "« médicaments ») and I tell you what to do with it, with the bin for your "
        "département. /quoi pile does the same."
    )
