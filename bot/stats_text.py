"""The admins' statistics as text, shared by ``/stats`` and ``dumpin stats``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from db.stats import Stats

BACKUP_SUFFIX = ".dumpin.sql.gz"


def last_backup(data_dir: Path) -> datetime | None:
    """When the newest backup in ``<data dir>/backups`` was written."""
    backups = sorted((data_dir / "backups").glob(f"*{BACKUP_SUFFIX}"))
    if not backups:
        return None
    return datetime.fromtimestamp(backups[-1].stat().st_mtime)


def card_metrics(card: dict[str, Any]) -> dict[str, Any]:
    """The validation metrics recorded in a model card."""
    metrics: dict[str, Any] = card.get("metrics", {}).get("val", {})
    return metrics


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def stats_lines(
    stats: Stats,
    _: Callable[[str], str],
    label: Callable[[str], str],
    model: tuple[str, dict[str, Any]],
    backup: datetime | None,
) -> list[str]:
    """Every figure, one per line; ``model`` is the running model's version and card metrics."""
    version, metrics = (stats.model_version, stats.model_metrics) if stats.model_version else model
    lines = [
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
        _("💾 Last backup: %(when)s")
        % {"when": backup.strftime("%Y-%m-%d %H:%M") if backup else _("never")},
    ]
    return lines
