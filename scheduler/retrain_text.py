"""A retrain's two-part report in words, for the admins (their language) and the command line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from db.categories import CLASSES
from locales import translations
from ml.gate import BASE_TOLERANCE, FEW_USERS_RULE, LOG_LOSS_MARGIN, MIN_USER_PHOTOS, pct
from scheduler.retrain import RetrainReport


def _part(title: str, part: dict[str, dict[str, Any]], _: Callable[[str], str]) -> list[str]:
    """A test part's totals, then each class with photos: right answers of the candidate and
    of the active model."""
    new, old = part["candidate"], part["active"]
    if not new["n"]:
        return [_("%(part)s: no photos") % {"part": title}]
    lines = [
        _("%(part)s (%(n)d photos): %(new)s right, active model %(old)s")
        % {"part": title, "n": new["n"], "new": pct(new["accuracy"]), "old": pct(old["accuracy"])}
    ]
    if "log_loss" in new and "log_loss" in old:
        lines.append(
            _("  log loss %(new)s, active model %(old)s")
            % {"new": f"{new['log_loss']:.3f}", "old": f"{old['log_loss']:.3f}"}
        )
    for name in CLASSES:
        mine, theirs = new["per_class"][name], old["per_class"][name]
        if mine["support"]:
            lines.append(
                f"  {name}: {round(mine['recall'] * mine['support'])}/{mine['support']} "
                f"({round(theirs['recall'] * theirs['support'])})"
            )
    return lines


def report_text(report: RetrainReport, language: str) -> str:
    """What happened to the candidate, why, and both models on each part of the test set."""
    _ = translations(language).gettext
    values = {"version": report.version, "active": report.active_version}
    if report.promoted:
        head = _("✅ Model %(version)s promoted: it replaces %(active)s.") % values
    else:
        head = _("❌ Model %(version)s not promoted: %(active)s stays active.") % values
    users_n = report.parts["users"]["candidate"]["n"]
    if report.rule == FEW_USERS_RULE:
        rule = _(
            "Only %(n)d users' test photos (fewer than %(min)d): judged as before, on the whole "
            "test set (macro-F1 not lower, accuracy at most 0.5 point lower)."
        ) % {"n": users_n, "min": MIN_USER_PHOTOS}
    else:
        rule = _(
            "Rule: more users' test photos right (as many: a log loss lower by %(margin)s), at "
            "most %(points)d point lost on base photos, no class lost."
        ) % {"points": round(100 * BASE_TOLERANCE), "margin": f"{LOG_LOSS_MARGIN:.2f}"}
    lines = [head, rule]
    if report.memory_entries is not None:
        lines.append(
            _("Both models judged with the memory, as the bot answers (%(n)d users' entries).")
            % {"n": report.memory_entries}
        )
    if report.reasons:
        lines.append(_("Why:"))
        lines += [f"• {reason.text(_)}" for reason in report.reasons]
    lines.append(_("Right answers per class: candidate/photos (active model)."))
    lines += _part(_("Users' photos"), report.parts["users"], _)
    lines += _part(_("Base photos"), report.parts["base"], _)
    return "\n".join(lines)
