"""Event-loop CPU of one text answer, measured in-process without the load bench's noise.

The bot runs as ``dumpin bot`` runs it (app factory, polling, logging configured) on this
thread's event loop; the fake Bot API runs on its own thread and loop, so the CPU time of this
thread (``time.thread_time``) is the bot's event loop alone (plus sending each text, a few
microseconds). Texts from the load bench's query table are sent one at a time by 200 users
(75 % consenting, département 33), each waiting for its answer. No latency is reported: the
fake shares this process's GIL. ``--profile FILE`` records a cProfile (CPU time) of the event
loop for the measured texts only (start-up and warm-up left out).

Usage::

    python bench/text_path.py --texts 500
    python bench/text_path.py --texts 300 --profile /tmp/text.prof
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import random
import sys
import tempfile
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.botproc import BenchTelegram, add_users, database  # noqa: E402
from bench.machine import describe  # noqa: E402
from bot.app import build_application  # noqa: E402
from bot.logs import configure_logging  # noqa: E402
from bot.web import running  # noqa: E402
from tests.conftest import bot_settings  # noqa: E402
from tests.db.search_queries import FRENCH  # noqa: E402
from tests.fake_telegram.updates import JSONDict  # noqa: E402

USERS = 200
CONSENTING = 0.75
WARM_UP = 20
QUERIES = tuple(query for query, _ in FRENCH)


class FakeOnThread:
    """The fake Bot API on its own thread and event loop; replies wake the bot's loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.bot_loop = loop
        self.replied = asyncio.Event()
        self.tg = BenchTelegram(self._on_reply, log_limit=1000)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def _on_reply(self, method: str, params: JSONDict, result: Any) -> None:
        if method == "sendMessage":
            self.bot_loop.call_soon_threadsafe(self.replied.set)

    async def call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro`` on the fake's loop and wait for it from the bot's loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def __aenter__(self) -> FakeOnThread:
        self.thread.start()
        await self.call(self.tg.__aenter__())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.call(self.tg.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@contextmanager
def profiled(path: Path | None) -> Iterator[None]:
    """cProfile of this thread while the block runs, into ``path`` (nothing without one)."""
    if path is None:
        yield
        return
    # CPU time, not time spent descheduled; C functions counted in their callers (less overhead)
    profile = cProfile.Profile(time.thread_time, builtins=False)
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        profile.dump_stats(str(path))


async def run(args: argparse.Namespace) -> float:
    """Start everything, send the texts one by one, return the event loop's CPU seconds per
    text."""
    with tempfile.TemporaryDirectory(prefix="dumpin-text-") as tmp:
        data_dir = Path(tmp)
        async with database(args.db, data_dir) as url:
            ids = list(range(10_000, 10_000 + USERS))
            await add_users(url, ids[: int(USERS * CONSENTING)])
            async with FakeOnThread(asyncio.get_running_loop()) as fake:
                settings = bot_settings(fake.tg.url, data_dir, url, send_rate=args.send_rate)
                configure_logging(settings)  # as ``dumpin bot``, into a file as in the load bench
                log = (data_dir / "bot.log").open("w")
                cast(logging.StreamHandler[Any], logging.getLogger().handlers[0]).setStream(log)
                app = build_application(settings)
                users = [fake.tg.user(uid) for uid in ids]
                pick = random.Random(8)
                async with running(app, settings, webhook=False):

                    async def one() -> None:
                        fake.replied.clear()
                        user, query = pick.choice(users), pick.choice(QUERIES)
                        await fake.call(fake.tg.send_text(user, query))
                        await asyncio.wait_for(fake.replied.wait(), 20)

                    for _ in range(WARM_UP):
                        await one()
                    with profiled(args.profile):
                        cpu = time.thread_time()
                        for _ in range(args.texts):
                            await one()
                        cpu = time.thread_time() - cpu
                log.close()
    return cpu / int(args.texts)


def main(argv: list[str] | None = None) -> int:
    """Parse options, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=500)
    parser.add_argument("--db", choices=("sqlite", "mysql"), default="sqlite")
    parser.add_argument("--send-rate", type=float, default=30.0)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args(argv)
    cpu = asyncio.run(run(args))
    print(f"machine: {describe()}")
    print(
        f"db={args.db} texts={args.texts} (one at a time) send limiter={args.send_rate:g}: "
        f"event loop CPU per text {1000 * cpu:.2f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
