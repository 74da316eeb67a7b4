"""RAM the bot keeps for users without consent, measured with ``tracemalloc``.

The real application (not started) records answers through ``handlers.answers.remember`` for
``--users`` users without consent, each with ``MEMORY_ANSWERS`` answers (the most kept per
user) and a chosen département, then reports the bytes held per user and in all, and how
many users ``context.user_data`` still holds (bounded by ``bot.user_memory.MAX_USERS``).

Usage::

    python bench/user_memory.py [--users 6000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import tracemalloc
from pathlib import Path

from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.app import build_application  # noqa: E402
from bot.user_memory import MAX_USERS  # noqa: E402
from handlers.answers import MEMORY_ANSWERS, remember  # noqa: E402
from handlers.common import Who, translator  # noqa: E402
from ml.classifier import Prediction  # noqa: E402
from tests.conftest import bot_settings  # noqa: E402

PREDICTION = Prediction(
    "verre", 0.91, (("verre", 0.91), ("plastique", 0.05), ("metal", 0.02)), "20261125.0730"
)


async def fill(users: int) -> tuple[int, int]:
    """Bytes allocated for ``users`` users' answers, and the users still held."""
    with tempfile.TemporaryDirectory() as data_dir:
        url = make_url(f"sqlite+aiosqlite:///{data_dir}/unused.db")
        app = build_application(bot_settings("http://127.0.0.1:9", Path(data_dir), url))
        context = app.context_types.context
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for user_id in range(1, users + 1):
            who = Who(user_id, "fr", "33", False, translator("fr"))
            ctx = context(app, chat_id=user_id, user_id=user_id)
            ctx.user_data["department"] = "33"
            for update_id in range(MEMORY_ANSWERS):
                await remember(ctx, who, PREDICTION, b"", update_id=update_id, media_group=None)
        used = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        await app.bot_data["services"].close()
        return used, len(app.user_data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=MAX_USERS + 1000)
    args = parser.parse_args()
    used, held = asyncio.run(fill(args.users))
    print(f"{args.users} users without consent, {MEMORY_ANSWERS} answers each")
    print(f"users held: {held} (MAX_USERS {MAX_USERS})")
    print(f"RAM held: {used / 2**20:.1f} MiB, {used / held / 1024:.1f} KiB per user held")


if __name__ == "__main__":
    main()
