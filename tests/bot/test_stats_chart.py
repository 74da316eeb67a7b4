"""The admins' chart: a PNG for a phone from real rows, or from none; matplotlib is loaded only
when a chart is drawn."""

from __future__ import annotations

import io
import subprocess
import sys

from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.stats_chart import DPI, HEIGHT, WIDTH, render_png
from db import trends
from tests.conftest import REPO
from tests.db.test_trends import NOW, _fill


def _decoded(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


async def test_chart_from_real_rows(sessions: async_sessionmaker[AsyncSession]) -> None:
    await _fill(sessions)
    async with sessions() as session:
        weekly = await trends.collect(session, NOW)
    french, english = render_png(weekly, "fr"), render_png(weekly, "en")
    for png in (french, english):
        image = _decoded(png)
        assert image.format == "PNG" and image.size == (WIDTH, HEIGHT) == (1080, 1620)
        assert round(image.info["dpi"][0]) == DPI
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 50  # drawn, not blank
        assert len(png) < 500_000  # small enough to send at once
    assert french != english


def test_chart_of_a_new_install() -> None:
    weekly = trends.Trends(
        weeks=[trends.monday(NOW.date())] * 12,
        until=NOW.date(),
        photos=[0] * 12,
        corrections=[0] * 12,
        accuracy={},
        per_model={},
    )
    assert _decoded(render_png(weekly, "en")).size == (WIDTH, HEIGHT)


def test_the_bot_starts_without_matplotlib() -> None:
    code = (
        "import sys, bot.app, bot.cli.stats, handlers.stats, bot.stats_chart; "
        "sys.exit('matplotlib' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, check=False, timeout=120)
    assert result.returncode == 0
