"""The search lines of the admins' statistics, shared by ``/stats`` and ``dumpin stats``."""

from __future__ import annotations

from collections.abc import Callable

from db.items import SearchFigures


def search_lines(figures: SearchFigures, _: Callable[[str], str]) -> list[str]:
    """Searches by name, the share that found nothing (what to add next), the top objects."""
    share = figures.unmatched_share
    lines = [
        _("🔎 Searches by name: %(n)d, without a match: %(share)s")
        % {"n": figures.searches, "share": "–" if share is None else f"{share * 100:.1f} %"}
    ]
    if figures.top:
        lines.append(_("Most searched objects:"))
        lines.extend(f"• {name}: {count}" for name, count in figures.top)
    return lines
