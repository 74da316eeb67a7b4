"""Every user-facing string has a French translation with the same placeholders."""

from __future__ import annotations

import re

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from locales import LANGUAGES, catalogue_path, pick_language, translations
from tests.conftest import REPO

KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def extracted() -> set[str | tuple[str, ...]]:
    found: set[str | tuple[str, ...]] = set()
    for folder in ("bot", "handlers", "locales", "ml", "scheduler"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            REPO / folder, keywords=KEYWORDS
        ):
            found.add(message if isinstance(message, str) else tuple(message))
    return found


def test_every_message_is_translated_to_french() -> None:
    with catalogue_path("fr").open("rb") as handle:
        catalogue = {m.id: m.string for m in read_po(handle) if m.id}
    messages = extracted()
    assert len(messages) > 50
    for message in messages:
        translated = catalogue.get(message)
        assert translated, f"no French translation for {message!r}"
        originals = [message] if isinstance(message, str) else list(message)
        strings = [translated] if isinstance(translated, str) else list(translated)
        for original, string in zip(originals, strings, strict=False):
            assert sorted(PLACEHOLDER.findall(original)) == sorted(PLACEHOLDER.findall(string))


def test_catalogues_hold_no_stale_messages() -> None:
    messages = extracted()
    for language in LANGUAGES:
        with catalogue_path(language).open("rb") as handle:
            ids = {m.id for m in read_po(handle) if m.id}
        assert ids == messages, language


def test_translations_load() -> None:
    assert translations("fr").gettext("Glass") == "Verre"
    assert translations("en").gettext("Glass") == "Glass"
    assert translations("de").gettext("Glass") == "Verre"


def test_language_choice() -> None:
    assert pick_language("en", "fr") == "en"
    assert pick_language(None, "en-GB") == "en"
    assert pick_language(None, "de") == "fr"
    assert pick_language(None, None, default="en") == "en"


def test_catalogues_parse_without_errors() -> None:
    for language in LANGUAGES:
        with catalogue_path(language).open("rb") as handle:
            read_po(handle, abort_invalid=True)
