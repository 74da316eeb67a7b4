"""The admins' chart: a pure function from :class:`db.trends.Trends` to PNG bytes.

Portrait, 1080 × 1620 pixels and large lettering, to be read on a phone. matplotlib (Agg, no
pyplot: nothing global, nothing that needs a display) is imported on first use only, so that
neither the bot's start nor its memory pays for it until an admin asks; rendering is blocking
(about a second): call it in a worker thread."""

from __future__ import annotations

import io
import threading
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from babel.dates import format_date

from db.trends import TOP_CONFUSIONS, Trends
from locales import translations
from locales.labels import LABELS

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.axis import XAxis, YAxis

WIDTH, HEIGHT, DPI = 1080, 1620, 150
"""Pixels of the PNG, at the resolution its lettering is sized for."""

PHOTOS, CORRECTIONS, PROMOTION, GRID, MUTED = "#8fb8de", "#e4572e", "#555555", "#e6e6e6", "#777777"
MODEL_COLOURS = ("#1b7f3b", "#3066be", "#b5651d", "#7b3fa0", "#c2185b", "#00838f")

_lock = threading.Lock()  # matplotlib's font and text caches are not meant for two threads


def render_png(trends: Trends, language: str) -> bytes:
    """The chart as PNG bytes, lettered in ``language`` (``fr`` or ``en``)."""
    # deferred (see the module docstring)
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    _ = translations(language).gettext
    with _lock:
        figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, layout="constrained")
        figure.get_layout_engine().set(w_pad=0.15, h_pad=0.12, hspace=0.06)  # type: ignore[call-arg, union-attr]
        volume, accuracy, confusions = figure.subplots(3, 1, height_ratios=(1, 1.05, 1.1))
        figure.suptitle(
            _("Dumpin, %(weeks)d weeks to %(end)s")
            % {
                "weeks": len(trends.weeks),
                "end": format_date(trends.until, "d MMM y", locale=language),
            },
            fontsize=18,
            fontweight="bold",
        )
        _volume(volume, trends, language)
        _accuracy(accuracy, trends, language)
        _confusions(confusions, trends, language)
        FigureCanvasAgg(figure)  # Agg draws it: no display, no pyplot state
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def _style(axes: Axes, title: str) -> None:
    axes.set_title(title, loc="left", fontsize=16, fontweight="bold", pad=8)
    axes.tick_params(labelsize=13.5, length=0)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.grid(axis="y", color=GRID, linewidth=1)
    axes.set_axisbelow(True)


def _nothing(axes: Axes, text: str) -> None:
    """A panel without data: its message in the middle, no axes."""
    axes.text(0.5, 0.45, text, ha="center", va="center", fontsize=14, color=MUTED, wrap=True)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.spines["bottom"].set_visible(False)
    axes.grid(False)
    axes.set_facecolor("#f6f6f6")


def _integer_ticks(axis: XAxis | YAxis) -> None:
    """Ticks on whole numbers only (counts)."""
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415 - deferred with the figure

    axis.set_major_locator(MaxNLocator(nbins=5, integer=True))


def _week_axis(axes: Axes, weeks: list[date], language: str) -> None:
    """Week ``n`` at ``x = n``, its Monday's date under every other one, the last one always."""
    shown = range(len(weeks) - 1, -1, -2)
    axes.set_xticks(list(shown), [format_date(weeks[n], "d MMM", locale=language) for n in shown])
    axes.set_xlim(-0.6, len(weeks) - 0.4)


def _week_position(weeks: list[date], at: datetime) -> float:
    """Where a moment falls on the week axis (week ``n`` spans ``n - 0.5`` to ``n + 0.5``)."""
    return (at - datetime.combine(weeks[0], datetime.min.time())) / timedelta(weeks=1) - 0.5


def _volume(axes: Axes, trends: Trends, language: str) -> None:
    _ = translations(language).gettext
    _style(axes, _("Photos and corrections per week"))
    if trends.empty:
        _nothing(axes, _("No photos yet."))
        return
    x = range(len(trends.weeks))
    axes.bar(x, trends.photos, width=0.72, color=PHOTOS, label=_("photos"))
    axes.bar(x, trends.corrections, width=0.72, color=CORRECTIONS, label=_("corrected"))
    top = max(trends.photos)
    for n, count in enumerate(trends.photos):
        if count:
            axes.annotate(
                f"{count}", (n, count), ha="center", va="bottom", fontsize=12, color=MUTED,
                xytext=(0, 2), textcoords="offset points",
            )  # fmt: skip
    axes.set_ylim(0, top * 1.3)  # room for the legend above most weeks
    _integer_ticks(axes.yaxis)
    axes.legend(loc="upper left", fontsize=13, ncols=2, framealpha=0.9, edgecolor="none")
    _week_axis(axes, trends.weeks, language)


def _accuracy(axes: Axes, trends: Trends, language: str) -> None:
    _ = translations(language).gettext
    _style(axes, _("Accuracy on confirmed photos, per model"))
    if not any(r.reviewed for r in trends.per_model.values()):
        _nothing(axes, _("No confirmed photos yet."))
        return
    for colour, (version, series) in enumerate(trends.accuracy.items()):
        total = trends.per_model[version]
        if not total.reviewed:
            continue
        weeks = [n for n, reviews in enumerate(series) if reviews.reviewed]
        axes.plot(
            weeks,
            [100 * series[n].right / series[n].reviewed for n in weeks],
            marker="o",
            markersize=6,
            linewidth=2.4,
            color=MODEL_COLOURS[colour % len(MODEL_COLOURS)],
            label=f"{_short(version)}  {100 * total.right / total.reviewed:.0f} % "
            f"(n={total.reviewed})",
        )
    for promotion in trends.promotions:
        _mark(
            axes,
            _week_position(trends.weeks, promotion.at),
            _short(promotion.version),
            len(trends.weeks),
        )
    lowest = min(
        100 * r.right / r.reviewed
        for series in trends.accuracy.values()
        for r in series
        if r.reviewed
    )
    floor = max(0, int(lowest // 10) * 10 - 10)  # a few points between models stay visible
    step = 10 if floor >= 60 else 20
    floor -= floor % step
    ticks = list(range(floor, 101, step))
    axes.set_ylim(floor, 100 + (100 - floor) * 0.09)
    axes.set_yticks(ticks, [f"{t} %" if t == 100 else str(t) for t in ticks])
    axes.legend(loc="best", fontsize=12.5, frameon=True, framealpha=0.9, edgecolor="none")
    _week_axis(axes, trends.weeks, language)


def _mark(axes: Axes, at: float, version: str, weeks: int) -> None:
    """A promotion: a dashed line at its date and the version's short name at the top, on the
    side of the line where there is room."""
    axes.axvline(at, color=PROMOTION, linestyle=(0, (4, 3)), linewidth=1.2)
    right = at < weeks * 0.6
    axes.annotate(
        f"▲ {version}", (at, 1), xycoords=("data", "axes fraction"),
        xytext=(4 if right else -4, -2), textcoords="offset points",
        ha="left" if right else "right", va="top", fontsize=11.5, color=PROMOTION,
    )  # fmt: skip


def _short(version: str) -> str:
    """``20261127.1201-9e696e61`` → ``20261127.1201``: enough to tell models apart."""
    return version.split("-", maxsplit=1)[0] if len(version) > 16 else version


def _confusions(axes: Axes, trends: Trends, language: str) -> None:
    _ = translations(language).gettext
    _style(axes, _("Most frequent mistakes (true → answered)"))
    if not trends.confusions:
        _nothing(axes, _("No corrections yet."))
        return
    axes.grid(False)
    axes.grid(axis="x", color=GRID, linewidth=1)
    rows = list(reversed(trends.confusions))
    names = [f"{_(LABELS[truth])} → {_(LABELS[guess])}" for truth, guess, _n in rows]
    counts = [count for _t, _g, count in rows]
    bars = axes.barh(range(len(rows)), counts, color=CORRECTIONS, height=0.36)
    axes.bar_label(bars, padding=4, fontsize=13, color=MUTED)
    axes.set_yticks([])
    for n, name in enumerate(names):  # above each bar: long names need the panel's width
        axes.text(0, n + 0.22, name, fontsize=13.5, va="bottom")
    slots = max(len(rows), TOP_CONFUSIONS)  # bars as thick for one mistake as for six
    axes.set_ylim(len(rows) - slots - 0.4, len(rows) - 0.05)
    axes.set_xlim(0, max(counts) * 1.12)
    _integer_ticks(axes.xaxis)
    axes.spines["bottom"].set_visible(False)
