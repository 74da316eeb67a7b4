"""Translations: Babel catalogues in ``locales/<lang>/LC_MESSAGES/dumpin.po``.

Catalogues are compiled in memory when first used, so a ``.po`` edit never runs stale.
"""

from __future__ import annotations

import gettext
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).parent
DOMAIN = "dumpin"
LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for deferred strings
    """Mark a string for extraction; it is translated where it is shown."""
    return message


def catalogue_path(language: str) -> Path:
    """The ``.po`` file of ``language``."""
    return LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> gettext.NullTranslations:
    """Compiled translations for ``language`` (an unknown language gets French)."""
    if language not in LANGUAGES:
        language = DEFAULT_LANGUAGE
    with catalogue_path(language).open("rb") as handle:
        catalogue = read_po(handle, locale=language, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalogue)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def pick_language(saved: str | None, telegram: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """The user's saved choice, else Telegram's language code, else the default."""
    for candidate in (saved, (telegram or "").split("-")[0].lower()):
        if candidate in LANGUAGES:
            return candidate
    return default
