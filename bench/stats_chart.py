"""``/stats`` on a busy database: the queries of its text and chart, and drawing the chart.

Fills a fresh SQLite database (or ``--url``, an empty migrated MariaDB database) with
``--photos`` predictions spread over the last 12 weeks, three models and a fifth of them
reviewed, then times :func:`bot.stats_text.stats_report` and :func:`db.trends.collect` (median
of 5) and :func:`bot.stats_chart.render_png` (the first call, which loads matplotlib, then the
median of 5), with the process's RSS before and after the first chart.

Usage::

    python bench/stats_chart.py [--photos 100000] [--url mysql+aiomysql://root@127.0.0.1/x]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.engine import URL, make_url

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.machine import describe  # noqa: E402
from bot.stats_chart import render_png  # noqa: E402
from bot.stats_text import stats_report  # noqa: E402
from db import trends  # noqa: E402
from db.categories import CLASSES  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import Model, User, UserPrediction, utcnow  # noqa: E402
from db.session import create_engine, session_factory  # noqa: E402

BATCH = 5000


def rss_mb() -> int:
    """This process's resident memory in MB."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) // 1024


async def fill(url: URL, photos: int) -> None:
    """Three models promoted four weeks apart and ``photos`` answers over 12 weeks."""
    engine = create_engine(url)
    now, rng = utcnow(), random.Random(7)
    async with engine.begin() as connection:
        await connection.execute(insert(User).values(id=1, language="fr"))
        for n, weeks_ago in enumerate((12, 8, 4)):
            status = "active" if n == 2 else "retired"
            await connection.execute(
                insert(Model).values(
                    id=n + 1,
                    version=f"v{n + 1}",
                    path="x",
                    created_at=now - timedelta(weeks=weeks_ago),
                    dataset_size=0,
                    metrics={},
                    status=status,
                )
            )
        for start in range(0, photos, BATCH):
            rows = []
            for n in range(start, min(start + BATCH, photos)):
                when = now - timedelta(seconds=rng.uniform(0, 12 * 7 * 86400))
                age = now - when
                model = 1 if age >= timedelta(weeks=8) else 2 if age >= timedelta(weeks=4) else 3
                predicted, reviewed = rng.choice(CLASSES), rng.random() < 0.2
                wrong = reviewed and rng.random() < 0.3 - 0.05 * model
                rows.append(
                    {
                        "user_id": 1,
                        "update_id": n,
                        "image_sha256": f"{n:064x}",
                        "predicted_class": predicted,
                        "confidence": 0.8,
                        "top3": [],
                        "model_id": model,
                        "model_version": f"v{model}",
                        "corrected_class": rng.choice(CLASSES) if wrong else None,
                        "confirmed_at": when if reviewed else None,
                        "created_at": when,
                    }
                )
            await connection.execute(insert(UserPrediction), rows)
    await engine.dispose()


async def measure(url: URL) -> dict[str, float]:
    """Median seconds of the text's and the chart's queries."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    text_times, trend_times = [], []
    for _ in range(5):
        async with sessions() as session:
            started = time.perf_counter()
            await stats_report(session, "fr", ("shipped", {}))
            text_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            weekly = await trends.collect(session)
            trend_times.append(time.perf_counter() - started)
    await engine.dispose()
    before = rss_mb()
    started = time.perf_counter()
    png = render_png(weekly, "fr")
    first = time.perf_counter() - started
    after = rss_mb()
    renders = []
    for _ in range(5):
        started = time.perf_counter()
        render_png(weekly, "en")
        renders.append(time.perf_counter() - started)
    return {
        "text_s": statistics.median(text_times),
        "trends_s": statistics.median(trend_times),
        "first_render_s": first,
        "render_s": statistics.median(renders),
        "rss_before_mb": before,
        "rss_after_mb": after,
        "png_kb": len(png) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--url", help="an empty database (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = make_url(args.url or f"sqlite+aiosqlite:///{tmp}/bench.db")
        upgrade(url)
        asyncio.run(fill(url, args.photos))
        figures = asyncio.run(measure(url))
    print(describe())
    print(f"{args.photos} photos on {url.get_backend_name()}")
    for name, value in figures.items():
        print(f"  {name}: {value:.2f}")


if __name__ == "__main__":
    main()
