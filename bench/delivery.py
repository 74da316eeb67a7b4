"""Delivery faults of the real ``dumpin bot`` process, counted: a flooding chat's effect on
another user, photos answered twice after a SIGTERM, photos lost after a SIGKILL in webhook
mode. ``--checkout DIR`` runs the bot from another checkout (``git archive <rev> | tar -x -C
DIR``) for a before/after comparison; the fake Bot API and the load are this checkout's.

Usage::

    python bench/delivery.py [--checkout DIR] [--flood 300] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.botproc import (  # noqa: E402
    BenchTelegram,
    BotProcess,
    add_users,
    answered,
    database,
    phone_photos,
    stop_mid_burst,
    until,
    webhook_process,
)
from bench.machine import describe  # noqa: E402
from tests.fake_telegram import Sent, delivering  # noqa: E402

USERS = list(range(7100, 7110))
PHOTOS = 60
SETTLE_SECONDS = 20.0
"""How long photos may take to be answered after the restart before they count as lost."""


async def latency(tg: BenchTelegram, sent: Sent) -> float:
    """Seconds from ``sent`` being queued to its answer."""
    started = time.monotonic()
    await until(lambda: bool(answered(tg, sent)), 120, "the answer")
    return time.monotonic() - started


async def flood(checkout: Path, photos: list[bytes], count: int) -> tuple[float, float]:
    """Another user's photo latency alone, then behind ``count`` photos queued by one chat."""
    with tempfile.TemporaryDirectory() as data:
        async with database("sqlite", Path(data)) as url, BenchTelegram() as tg:
            tg.prepare(photos)
            bot = BotProcess(tg.url, url, Path(data), checkout=checkout)
            await bot.start()
            try:
                await tg.wait_for("getUpdates", timeout=60)
                alone = await latency(tg, await tg.send_photo(tg.user(7301), photos[0]))
                flooding = tg.user(7302)
                for i in range(count):
                    await tg.send_photo(flooding, photos[i % len(photos)])
                behind = await latency(tg, await tg.send_photo(tg.user(7301), photos[1]))
            finally:
                await bot.stop()
    return alone, behind


async def stopped(checkout: Path, photos: list[bytes], *, webhook: bool) -> tuple[int, int]:
    """Photos answered twice after a SIGTERM (polling), or never answered after a SIGKILL
    (webhook), mid-burst; returns (that count, photos sent)."""
    with tempfile.TemporaryDirectory() as data:
        async with database("sqlite", Path(data)) as url, BenchTelegram() as tg:
            tg.prepare(photos)
            await add_users(url, USERS)
            if webhook:
                bot, target = webhook_process(tg.url, url, Path(data), checkout)
            else:
                bot, target = BotProcess(tg.url, url, Path(data), checkout=checkout), ""
            async with delivering(tg, target) if webhook else nullcontext():
                await bot.start()
                try:
                    await tg.wait_for("setWebhook" if webhook else "getUpdates", timeout=60)
                    sig = signal.SIGKILL if webhook else signal.SIGTERM
                    sent = await stop_mid_burst(tg, bot, photos, USERS, sig, PHOTOS)
                    await _settle(tg, sent)
                finally:
                    await bot.stop()
    if webhook:
        return sum(not answered(tg, s) for s in sent), len(sent)
    return sum(len(answered(tg, s)) > 1 for s in sent), len(sent)


async def _settle(tg: BenchTelegram, sent: list[Sent]) -> None:
    """Wait until every photo is answered and nothing is pending, ``SETTLE_SECONDS`` at most."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        if all(answered(tg, s) for s in sent) and not tg.pending_updates():
            return
        await asyncio.sleep(0.1)


async def run(args: argparse.Namespace) -> None:
    photos = phone_photos(26)
    for _ in range(args.runs):
        alone, behind = await flood(args.checkout, photos, args.flood)
        print(
            f"another user's photo: {alone:.2f} s alone, {behind:.2f} s behind "
            f"{args.flood} photos queued by one chat"
        )
        twice, sent = await stopped(args.checkout, photos, webhook=False)
        print(f"SIGTERM mid-burst (polling): {twice} of {sent} photos answered twice")
        lost, sent = await stopped(args.checkout, photos, webhook=True)
        print(f"SIGKILL mid-burst (webhook): {lost} of {sent} photos never answered")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", type=Path, default=REPO)
    parser.add_argument("--flood", type=int, default=300)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    print(describe())
    print(f"bot from {args.checkout}")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
