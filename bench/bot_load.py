"""Load benchmark of the real ``dumpin bot`` process through a fake Bot API on 127.0.0.1.

Simulated users send phone-size photos (1280x960 JPEGs from the shared val split), albums,
button presses and commands at an open-loop rate; the bench measures the time from the update
being available on the fake server to the bot's reply reaching it (split at the bot's
``getUpdates`` returning it), the answered rate, the backlog, and the bot's CPU and RSS.

Usage::

    python bench/bot_load.py --db sqlite --rate 30 --seconds 60 --users 200
    python bench/bot_load.py --db mysql --rate 60 --send-rate 0 --mix photos
    python bench/bot_load.py --quick

``--send-rate`` is the bot's outgoing message limit (``DUMPIN_SEND_RATE``): 30 as deployed,
0 to switch the limiter off and measure the bot's processing capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.engine import URL

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.botproc import (  # noqa: E402
    BenchTelegram,
    MachineStats,
    ProcStats,
    add_users,
    database,
    phone_photos,
    running_bot,
    scalar,
)
from bench.machine import describe  # noqa: E402
from db.models import MemoryEntry, UserPrediction, utcnow  # noqa: E402
from db.session import create_engine, session_factory  # noqa: E402
from ml.embeddings import backbone_id  # noqa: E402
from ml.memory_sync import encode  # noqa: E402
from tests.db.search_queries import FRENCH  # noqa: E402
from tests.fake_telegram import FakeUser  # noqa: E402
from tests.fake_telegram.updates import JSONDict  # noqa: E402

MIXES = {
    "photos": {"photo": 1.0},
    "mixed": {"photo": 0.6, "album": 0.05, "button": 0.15, "command": 0.1, "text": 0.1},
    "text": {"text": 1.0},
}
COMMANDS = (("historique", None), ("departement", "33"), ("aide", None))
QUERIES = tuple(query for query, _ in FRENCH)
"""What the "text" share types: searches by name (some match one object, some several)."""
ALBUM_SIZE = 3
DRAIN_SECONDS = 30.0
CONSENTING = 0.75
"""Share of users who accepted the privacy notice (their photos are stored and recorded)."""
LOG_LIMIT = 10_000
"""Requests the fake server keeps: all of a 30 min soak took the bench process to 2 GB."""


@dataclass
class Action:
    """Something a user did that waits for the bot's reply."""

    kind: str
    since: float
    update_id: int
    message_id: int = 0
    """The message a photo's or album's answer quotes (an album's first photo)."""
    photos: int = 0
    query_id: str = ""
    """A button press's callback query."""
    noticed: bool = False
    """An unquoted message came while it was the chat's oldest: its notice (one at most)."""


@dataclass
class Tracker:
    """Pending actions and their latencies, fed by the fake server's observers.

    Each reply is paired with the action it answers: a photo's or album's answer quotes its
    message, a button press is answered by its query id. A command's or text's reply quotes
    nothing; since the bot handles a chat's updates one at a time and in order, an unquoted
    message answers the chat's oldest action still waiting, albums aside (their answer comes
    after a pause, quoting them). When that action is a photo or a button press, the message
    is its notice (not saved, unreadable, an error), one at most: a second one is for the
    next action. An action still waiting when a later one of its chat is answered got no
    answer (:attr:`unanswered`).
    """

    started: float = field(default_factory=time.monotonic)
    pending: dict[int, list[Action]] = field(default_factory=dict)
    """Per chat, in the order sent."""
    queries: dict[str, int] = field(default_factory=dict)
    """Button presses waiting for ``answerCallbackQuery``: query id -> chat."""
    fetched: dict[int, float] = field(default_factory=dict)
    """When each update was first returned by ``getUpdates``."""
    latencies: dict[str, list[float]] = field(default_factory=dict)
    waits: dict[str, list[float]] = field(default_factory=dict)
    """Per kind: from the update being available to the bot fetching it."""
    inside: dict[str, list[float]] = field(default_factory=dict)
    """Per kind: from the bot fetching the update to the reply."""
    answered_at: list[tuple[float, str, int]] = field(default_factory=list)
    answers: dict[int, tuple[int, str]] = field(default_factory=dict)
    """Per chat: the bot's latest photo answer (message id, first button) to press later."""
    other_replies: int = 0
    unanswered: Counter[str] = field(default_factory=Counter)
    closed: bool = False
    """Set once the run is measured: later replies (the bot stopping) are not counted."""
    replied: asyncio.Event = field(default_factory=asyncio.Event)

    async def settled(self, seconds: float) -> None:
        """Wait until nothing is outstanding, ``seconds`` at most."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while self.outstanding():
                    self.replied.clear()
                    await self.replied.wait()

    def expect(self, chat: int, action: Action) -> None:
        """``action`` now waits for its reply."""
        self.pending.setdefault(chat, []).append(action)
        if action.query_id:
            self.queries[action.query_id] = chat

    def outstanding(self) -> int:
        """Actions still waiting for their reply."""
        return sum(len(actions) for actions in self.pending.values())

    def lost(self) -> int:
        """Actions never answered: still waiting, or passed over by a later answer."""
        return self.outstanding() + self.unanswered.total()

    def on_fetched(self, update_ids: list[int]) -> None:
        """``getUpdates`` returned these updates to the bot (again, for those in flight)."""
        now = time.monotonic()
        for update_id in update_ids:
            self.fetched.setdefault(update_id, now)

    def on_reply(self, method: str, params: JSONDict, result: Any) -> None:
        """Match a reply of the bot to the action waiting for it."""
        self.replied.set()
        if method == "answerCallbackQuery":
            query_id = str(params.get("callback_query_id"))
            chat = self.queries.pop(query_id, None)
            if chat is not None:
                self._answer(chat, lambda a: a.query_id == query_id)
            return
        chat = int(params["chat_id"])
        reply = params.get("reply_parameters")
        if isinstance(reply, str):
            reply = json.loads(reply)
        if isinstance(reply, dict):
            quoted = int(reply["message_id"])
            if self._answer(chat, lambda a: a.photos > 0 and a.message_id == quoted):
                self._remember(chat, result)
                return
        else:
            text = self._unquoted(chat)
            if text is not None:
                self._answer(chat, lambda a: a is text)
                return
        self.other_replies += 1

    def _unquoted(self, chat: int) -> Action | None:
        """The command or text an unquoted message answers, unless it is the notice of the
        photo or button press before it."""
        for action in self.pending.get(chat, ()):
            if action.kind in ("command", "text"):
                return action
            if action.kind != "album" and not action.noticed:
                action.noticed = True
                return None
        return None

    def _answer(self, chat: int, answers: Callable[[Action], bool]) -> bool:
        """Record the chat's first action ``answers`` matches as answered, if any; the
        actions before it (albums aside) got no answer."""
        actions = self.pending.get(chat, [])
        index = next((i for i, a in enumerate(actions) if answers(a)), None)
        if index is None:
            return False
        action = actions[index]
        passed = [a for a in actions[:index] if a.kind != "album"]
        self.unanswered.update(a.kind for a in passed)
        for skipped in passed:
            self.queries.pop(skipped.query_id, None)
        actions[:] = [a for a in actions[:index] if a.kind == "album"] + actions[index + 1 :]
        if not actions:
            del self.pending[chat]
        if not self.closed:
            now = time.monotonic()
            self.latencies.setdefault(action.kind, []).append(now - action.since)
            fetched = self.fetched.get(action.update_id)
            if fetched is not None:
                self.waits.setdefault(action.kind, []).append(fetched - action.since)
                self.inside.setdefault(action.kind, []).append(now - fetched)
            self.answered_at.append((now - self.started, action.kind, action.photos))
        return True

    def _remember(self, chat: int, result: Any) -> None:
        markup = result.get("reply_markup") if isinstance(result, dict) else None
        rows = (markup or {}).get("inline_keyboard") or []
        if rows and rows[0]:
            self.answers[chat] = (int(result["message_id"]), str(rows[0][0]["callback_data"]))


@dataclass
class Sample:
    """One per second: backlog and the bot's resources."""

    t: float
    outstanding: int
    queued: int
    cpu: float
    machine_cpu: float
    rss_mb: float


@dataclass
class Result:
    """What one run measured."""

    machine: str
    """CPU model and cores (``bench.machine.describe``)."""
    db: str
    mix: str
    send_rate: float
    offered_rate: float
    seconds: float
    users: int
    sent: dict[str, int]
    answered: dict[str, int]
    photos_per_s: float
    latency_ms: dict[str, dict[str, float]]
    fetch_wait_ms: dict[str, dict[str, float]]
    """Of the latency: until the bot's ``getUpdates`` returned the update."""
    inside_ms: dict[str, dict[str, float]]
    """Of the latency: from ``getUpdates`` returning the update to the reply."""
    lost: int
    unanswered: dict[str, int]
    """Of ``lost``: actions passed over by a later answer in their chat."""
    other_replies: int
    """Messages that answer no action (a photo's notice that it was not saved...)."""
    drain_s: float
    backlog_max: int
    backlog_end: int
    backlog_slope: float
    cpu_avg: float
    cpu_max: float
    cpu_ms_per_photo: float
    loop_cpu_ms_per_photo: float
    """Of which the event loop thread (the rest: decode and inference threads, SQLite)."""
    cpu_ms_per_action: float
    """Bot CPU per answered action of any kind (a text, a command, a photo...)."""
    loop_cpu_ms_per_action: float
    rss_max_mb: float
    bench_cpu_avg: float
    machine_cpu_avg: float
    """Whole machine, in % of one core: minus bot and bench, what other processes used."""
    calls_per_s: dict[str, float]
    """The bot's Bot API calls per second by method (load window and drain)."""
    samples: list[Sample]


class Load:
    """Drives ``users`` simulated users at ``rate`` actions per second."""

    def __init__(self, tg: BenchTelegram, tracker: Tracker, users: list[FakeUser], mix: str):
        self.tg, self.tracker, self.users = tg, tracker, users
        self.photos = phone_photos(26)
        tg.prepare(self.photos)
        self.kinds, self.weights = zip(*MIXES[mix].items(), strict=True)
        self.sent: dict[str, int] = {}
        self.random = random.Random(8)
        self.albums = 0

    async def act(self) -> None:
        """One action of a random user."""
        user = self.random.choice(self.users)
        kind = self.random.choices(self.kinds, self.weights)[0]
        if kind == "button" and user.id not in self.tracker.answers:
            kind = "photo"
        since = time.monotonic()
        if kind == "photo":
            sent = await self.tg.send_photo(user, self.random.choice(self.photos))
            assert sent.message is not None
            action = Action(kind, since, sent.update["update_id"], sent.message["message_id"], 1)
        elif kind == "album":
            self.albums += 1
            group = f"album-{self.albums}"
            first = None
            for _ in range(ALBUM_SIZE):
                photo = self.random.choice(self.photos)
                sent = await self.tg.send_photo(user, photo, media_group_id=group)
                assert sent.message is not None
                first = first or sent
            assert first is not None and first.message is not None
            message_id = first.message["message_id"]
            action = Action(kind, since, first.update["update_id"], message_id, ALBUM_SIZE)
        elif kind == "text":
            sent = await self.tg.send_text(user, self.random.choice(QUERIES))
            action = Action(kind, since, sent.update["update_id"])
        elif kind == "button":
            message_id, data = self.tracker.answers.pop(user.id)
            sent = await self.tg.press_button(user, message_id, data, check=False)
            assert sent.callback_query is not None
            query_id = str(sent.callback_query["id"])
            action = Action(kind, since, sent.update["update_id"], query_id=query_id)
        else:
            command, args = self.random.choice(COMMANDS)
            sent = await self.tg.send_command(user, command, args)
            action = Action(kind, since, sent.update["update_id"])
        self.tracker.expect(user.id, action)
        self.sent[kind] = self.sent.get(kind, 0) + 1

    async def run(self, rate: float, seconds: float) -> None:
        """Open loop: action ``i`` is due at ``i / rate`` seconds, whatever the bot does."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(int(rate * seconds)):
            delay = start + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.act()


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {
        "n": len(ordered),
        "p50": pick(0.50),
        "p95": pick(0.95),
        "p99": pick(0.99),
        "max": round(1000 * ordered[-1], 1),
    }


async def _sample(tracker: Tracker, tg: BenchTelegram, bot: ProcStats, out: list[Sample]) -> None:
    machine = MachineStats()
    bot.cpu_percent()
    machine.cpu_percent()
    while True:
        await asyncio.sleep(1.0)
        rss, _ = bot.memory_mb()
        out.append(
            Sample(
                round(time.monotonic() - tracker.started, 1),
                tracker.outstanding(),
                len(tg.pending_updates()),
                round(bot.cpu_percent(), 1),
                round(machine.cpu_percent(), 1),
                round(rss, 1),
            )
        )


async def run(args: argparse.Namespace) -> Result:
    """Set up a database and the bot process, play the load, collect the figures."""
    tracker = Tracker()
    with tempfile.TemporaryDirectory(prefix="dumpin-load-") as tmp:
        data_dir = Path(tmp)
        async with database(args.db, data_dir) as url:
            ids = list(range(10_000, 10_000 + args.users))
            await add_users(url, ids[: int(len(ids) * CONSENTING)])
            if args.memory_entries:
                await add_memory_entries(url, ids[0], args.memory_entries)
            tg = BenchTelegram(tracker.on_reply, LOG_LIMIT, tracker.on_fetched)
            async with tg:
                users = [tg.user(uid) for uid in ids]
                env = {"DUMPIN_SEND_RATE": str(args.send_rate)}
                profile = ("-m", "cProfile", "-o", str(args.profile)) if args.profile else ()
                if args.checkout != REPO:
                    env["DUMPIN_SHIPPED_MODEL_DIR"] = str(REPO / "ml" / "models")
                async with running_bot(tg, url, data_dir, env, profile, args.checkout) as bot:
                    load = Load(tg, tracker, users, args.mix)
                    stats = ProcStats(bot.pid)
                    await _warm_up(load, tracker)
                    tracker.started = time.monotonic()
                    tracker.answered_at.clear()
                    tracker.latencies.clear()
                    tracker.waits.clear()
                    tracker.inside.clear()
                    load.sent.clear()
                    samples: list[Sample] = []
                    sampler = asyncio.create_task(_sample(tracker, tg, stats, samples))
                    bench_cpu = time.process_time()
                    cpu = (stats.cpu_seconds(), stats.cpu_seconds(bot.pid))
                    calls_before = tg.calls.copy()
                    await load.run(args.rate, args.seconds)
                    drain_started = time.monotonic()
                    await tracker.settled(DRAIN_SECONDS)
                    drain = time.monotonic() - drain_started
                    lost = tracker.lost()
                    tracker.closed = True
                    bench_cpu = time.process_time() - bench_cpu
                    cpu = (stats.cpu_seconds() - cpu[0], stats.cpu_seconds(bot.pid) - cpu[1])
                    sampler.cancel()
                    calls = tg.calls - calls_before
                    _, rss_peak = stats.memory_mb()
                rows = await scalar(url, "SELECT COUNT(*) FROM users_predictions")
    print(f"rows recorded: {rows}", file=sys.stderr)
    return _result(args, tracker, load, samples, drain, rss_peak, bench_cpu, cpu, lost, calls)


async def add_memory_entries(url: URL, user_id: int, n: int) -> None:
    """``n`` confirmed predictions of one user, each with a memory entry of the shipped
    backbone (random embeddings), as if they had been confirmed through the buttons."""
    backbone = backbone_id(REPO / "ml" / "models" / "backbone.tflite")
    rng = np.random.default_rng(0)
    engine = create_engine(url)
    try:
        for start in range(0, n, 2000):
            count = min(2000, n - start)
            async with session_factory(engine)() as session:
                rows = [
                    UserPrediction(
                        user_id=user_id,
                        image_sha256=f"{start + i:064x}",
                        predicted_class="verre",
                        confidence=0.9,
                        top3=[],
                        model_version="bench",
                        confirmed_at=utcnow(),
                    )
                    for i in range(count)
                ]
                session.add_all(rows)
                await session.flush()
                vectors = np.abs(rng.standard_normal((count, 1280), np.float32))
                session.add_all(
                    MemoryEntry(
                        prediction_id=row.id,
                        user_id=user_id,
                        backbone=backbone,
                        label="verre",
                        vector=encode(vector),
                    )
                    for row, vector in zip(rows, vectors, strict=True)
                )
                await session.commit()
    finally:
        await engine.dispose()


async def _warm_up(load: Load, tracker: Tracker) -> None:
    """A few photos first so model loading and connection set-up are not measured."""
    for _ in range(4):
        await load.act()
    await tracker.settled(60)


def _result(
    args: argparse.Namespace,
    tracker: Tracker,
    load: Load,
    samples: list[Sample],
    drain: float,
    rss_peak: float,
    bench_cpu: float,
    cpu: tuple[float, float],
    lost: int,
    calls: Counter[str],
) -> Result:
    window = [(t, photos) for t, _, photos in tracker.answered_at if t <= args.seconds]
    answered: dict[str, int] = {}
    for _, kind, _ in tracker.answered_at:
        answered[kind] = answered.get(kind, 0) + 1
    half = len(samples) // 2
    first = [s.outstanding for s in samples[:half]] or [0]
    second = [s.outstanding for s in samples[half:]] or [0]
    cpus = [s.cpu for s in samples] or [0.0]
    photos = max(1, sum(photos for _, _, photos in tracker.answered_at))
    actions = max(1, len(tracker.answered_at))
    elapsed = args.seconds + drain
    return Result(
        machine=describe(),
        db=args.db,
        mix=args.mix,
        send_rate=args.send_rate,
        offered_rate=args.rate,
        seconds=args.seconds,
        users=args.users,
        sent=load.sent,
        answered=answered,
        photos_per_s=round(sum(photos for _, photos in window) / args.seconds, 1),
        latency_ms={kind: _percentiles(v) for kind, v in sorted(tracker.latencies.items())},
        fetch_wait_ms={kind: _percentiles(v) for kind, v in sorted(tracker.waits.items())},
        inside_ms={kind: _percentiles(v) for kind, v in sorted(tracker.inside.items())},
        lost=lost,
        unanswered=dict(tracker.unanswered),
        other_replies=tracker.other_replies,
        drain_s=round(drain, 2),
        backlog_max=max((s.outstanding for s in samples), default=0),
        backlog_end=samples[-1].outstanding if samples else 0,
        backlog_slope=round((statistics.mean(second) - statistics.mean(first)) / max(half, 1), 2),
        cpu_avg=round(statistics.mean(cpus), 1),
        cpu_max=round(max(cpus), 1),
        cpu_ms_per_photo=round(1000 * cpu[0] / photos, 1),
        loop_cpu_ms_per_photo=round(1000 * cpu[1] / photos, 1),
        cpu_ms_per_action=round(1000 * cpu[0] / actions, 1),
        loop_cpu_ms_per_action=round(1000 * cpu[1] / actions, 1),
        rss_max_mb=round(max(rss_peak, *(s.rss_mb for s in samples)), 1),
        bench_cpu_avg=round(100 * bench_cpu / elapsed, 1),
        machine_cpu_avg=round(statistics.mean([s.machine_cpu for s in samples] or [0.0]), 1),
        calls_per_s={method: round(count / elapsed, 2) for method, count in calls.most_common()},
        samples=samples,
    )


def summary(result: Result) -> str:
    """The human-readable table."""
    limiter = "off" if not result.send_rate else f"{result.send_rate:g} msg/s"
    lines = [
        f"machine: {result.machine}",
        f"db={result.db} mix={result.mix} send limiter={limiter} users={result.users} "
        f"offered={result.offered_rate:g}/s for {result.seconds:g}s",
        f"sent      {result.sent}",
        f"answered  {result.answered}   lost={result.lost} (of which passed over: "
        f"{result.unanswered or 0})   messages answering no action: {result.other_replies}",
        f"photos/s answered (in window): {result.photos_per_s}",
        f"drain after load: {result.drain_s}s   backlog max={result.backlog_max} "
        f"end={result.backlog_end} slope={result.backlog_slope}/s",
        f"bot CPU avg {result.cpu_avg}% max {result.cpu_max}% (of one core; 2 cores = 200%)"
        f"   RSS max {result.rss_max_mb} MB   bench CPU avg {result.bench_cpu_avg}%",
        f"machine CPU avg {result.machine_cpu_avg}% (other processes: "
        f"{max(0.0, result.machine_cpu_avg - result.cpu_avg - result.bench_cpu_avg):.0f}%)",
        f"bot CPU per photo {result.cpu_ms_per_photo} ms, of which event loop "
        f"{result.loop_cpu_ms_per_photo} ms; per answered action {result.cpu_ms_per_action} "
        f"ms, event loop {result.loop_cpu_ms_per_action} ms",
        "Bot API calls/s: "
        + ", ".join(f"{method} {rate:g}" for method, rate in result.calls_per_s.items()),
        "",
        f"{'':<39} {'until fetched':>17} {'fetched to reply':>17}",
        f"{'kind':<8} {'n':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}"
        f" {'p50':>8} {'p95':>8} {'p50':>8} {'p95':>8}",
    ]
    unknown = {"p50": float("nan"), "p95": float("nan")}
    for kind, p in result.latency_ms.items():
        wait = result.fetch_wait_ms.get(kind) or unknown
        inside = result.inside_ms.get(kind) or unknown
        lines.append(
            f"{kind:<8} {p['n']:>6.0f} {p['p50']:>7.1f} {p['p95']:>7.1f} {p['p99']:>7.1f} "
            f"{p['max']:>7.1f} {wait['p50']:>8.1f} {wait['p95']:>8.1f} "
            f"{inside['p50']:>8.1f} {inside['p95']:>8.1f}"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "mysql"), default="sqlite")
    parser.add_argument("--rate", type=float, default=30.0, help="actions offered per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--mix", choices=sorted(MIXES), default="mixed")
    parser.add_argument(
        "--send-rate",
        type=float,
        default=30.0,
        help="the bot's outgoing message limit (msg/s); 0 switches the limiter off",
    )
    parser.add_argument("--quick", action="store_true", help="10 s at 10/s with 20 users")
    parser.add_argument(
        "--memory-entries",
        type=int,
        default=0,
        help="confirmed photos in the memory table before the bot starts (RAM with a full memory)",
    )
    parser.add_argument("--json", type=Path, help="also write the full result here")
    parser.add_argument(
        "--checkout",
        type=Path,
        default=REPO,
        help="run the bot from this checkout (e.g. a git worktree of an older commit)",
    )
    parser.add_argument(
        "--profile", type=Path, help="run the bot under cProfile (event loop thread) into this file"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rate, args.seconds, args.users = 10.0, 10.0, 20
    return args


def main(argv: list[str] | None = None) -> int:
    """Run one load and print its summary."""
    args = parse_args(argv)
    result = asyncio.run(run(args))
    print(summary(result))
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(result), indent=1))
    return 0 if result.lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
