"""The admins' statistics as text: one function for ``/stats`` and ``dumpin stats``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.search_stats import search_lines
from db import backups, items, stats
from db.stats import Stats
from locales import translations
from locales.labels import LABELS

PARIS = ZoneInfo("Europe/Paris")


def card_metrics(card: dict[str, Any]) -> dict[str, Any]:
    """The validation metrics recorded in a model card."""
    metrics: dict[str, Any] = card.get("metrics", {}).get("val", {})
    return metrics


async def stats_report(
    session: AsyncSession, language: str, running: tuple[str, dict[str, Any]]
) -> str:
    """Every figure, one per line, in ``language``; ``running`` is the version and card
    metrics of the model in use when the ``models`` table has no active row yet."""
    _ = translations(language).gettext
    lines = _lines(
        await stats.collect(session),
        _,
        lambda category: _(LABELS[category]),
        running,
        await backups.latest(session),
    )
    lines.extend(search_lines(await items.search_figures(session), _))
    return "\n".join(lines)


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def _paris(utc: datetime) -> str:
    """A naive UTC time as Paris wall-clock time."""
    return utc.replace(tzinfo=UTC).astimezone(PARIS).strftime("%Y-%m-%d %H:%M")


def _lines(
    stats: Stats,
    _: Callable[[str], str],
    label: Callable[[str], str],
    model: tuple[str, dict[str, Any]],
    backup: datetime | None,
) -> list[str]:
    """Every figure but the searches, one per line; ``backup`` in naive UTC."""
    version, metrics = (stats.model_version, stats.model_metrics) if stats.model_version else model
    return [
        _("👥 Users: %(total)d (active in 7 days: %(active)d)")
        % {"total": stats.users, "active": stats.active_users_7d},
        _("📸 Photos: %(total)d (today: %(today)d, 7 days: %(week)d)")
        % {"total": stats.photos, "today": stats.photos_today, "week": stats.photos_7d},
        _("✏️ Corrections: %(rate)s of %(n)d reviewed")
        % {"rate": _percent(stats.correction_rate), "n": stats.reviewed},
        _("Per material (photos, accuracy on reviewed):"),
        *(f"• {label(c.label)}: {c.predicted}, {_percent(c.accuracy)}" for c in stats.per_class),
        _("🧠 Model %(version)s: accuracy %(acc)s, macro-F1 %(f1)s")
        % {
            "version": version,
            "acc": _percent(metrics.get("accuracy")),
            "f1": "–" if metrics.get("macro_f1") is None else f"{metrics['macro_f1']:.3f}",
        },
        _("📚 Training set: %(n)d images (%(new)d new since this model)")
        % {"n": stats.training_samples, "new": stats.new_samples},
        _("💾 Last backup: %(when)s") % {"when": _paris(backup) if backup else _("never")},
    ]
