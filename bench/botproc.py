"""The real ``dumpin bot`` process against a fake Bot API server: shared by the load bench
(``bench/bot_load.py``) and the fault tests (``tests/faults/``).

Everything listens and connects on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from db import users  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import User  # noqa: E402
from db.seed import seed  # noqa: E402
from db.session import create_engine, session_factory  # noqa: E402
from tests.fake_telegram import (  # noqa: E402
    DEFAULT_TOKEN,
    FakeTelegram,
    FileRef,
    RecordedRequest,
    Sent,
)
from tests.fake_telegram.updates import JSONDict, photo_sizes  # noqa: E402
from tests.mysql import scratch_database  # noqa: E402

DATASET = Path(os.environ.get("DUMPIN_DATASET_DIR", REPO.parent / "shared/datasets/waste-v1"))
PHONE_SIZE = (1280, 960)

Reply = Callable[[str, JSONDict, Any], None]
"""Observer called as ``(method, params, result)`` when the fake server handles a reply."""
Fetched = Callable[[list[int]], None]
"""Observer called with the update ids each ``getUpdates`` returns."""


def phone_photos(count: int, size: tuple[int, int] = PHONE_SIZE) -> list[bytes]:
    """``count`` JPEGs (quality 88) from the shared val split, upscaled to phone size, taken
    round-robin over the classes."""
    folders = sorted(p for p in (DATASET / "val").iterdir() if p.is_dir())
    per_class = [sorted(folder.glob("*.jpg")) for folder in folders]
    photos: list[bytes] = []
    for index in range(count):
        files = per_class[index % len(per_class)]
        image = Image.open(files[(index // len(per_class)) % len(files)]).convert("RGB")
        buffer = io.BytesIO()
        image.resize(size, Image.Resampling.BICUBIC).save(buffer, "JPEG", quality=88)
        photos.append(buffer.getvalue())
    return photos


class BenchTelegram(FakeTelegram):
    """``FakeTelegram`` that builds each distinct photo's thumbnails once (the load generator
    must not spend its CPU resizing) and reports replies and fetched updates to observers."""

    def __init__(
        self,
        on_reply: Reply | None = None,
        log_limit: int | None = None,
        on_fetched: Fetched | None = None,
    ) -> None:
        super().__init__(log_limit=log_limit)
        self.on_reply = on_reply
        self.on_fetched = on_fetched
        self._thumbs: dict[int, list[tuple[bytes, int, int]]] = {}

    def prepare(self, photos: list[bytes]) -> None:
        """Build the thumbnails of ``photos`` now, not while the load runs (26 phone photos
        took over a second of the bench's event loop, answering no request meanwhile)."""
        for data in photos:
            self._photo(data)

    def _photo(self, data: bytes) -> tuple[list[JSONDict], list[FileRef]]:
        variants = self._thumbs.get(id(data))
        if variants is None:
            sizes, refs = super()._photo(data)
            variants = [
                (self._files[ref.file_id].data, int(size["width"]), int(size["height"]))
                for ref, size in zip(refs, sizes, strict=True)
            ]
            self._thumbs[id(data)] = variants
            return sizes, refs
        made = [(self._new_file(blob, "photo"), w, h) for blob, w, h in variants]
        return photo_sizes(made), [ref for ref, _, _ in made]

    def _observe(self, method: str, params: JSONDict, result: Any) -> Any:
        if self.on_reply is not None:
            self.on_reply(method, params, result)
        return result

    async def api_sendmessage(self, params: JSONDict, files: dict[str, Any]) -> Any:
        return self._observe("sendMessage", params, await super().api_sendmessage(params, files))

    async def api_answercallbackquery(self, params: JSONDict, files: dict[str, Any]) -> Any:
        result = await super().api_answercallbackquery(params, files)
        return self._observe("answerCallbackQuery", params, result)

    async def api_getupdates(self, params: JSONDict, files: dict[str, Any]) -> Any:
        result = await super().api_getupdates(params, files)
        if self.on_fetched is not None:
            self.on_fetched([int(update["update_id"]) for update in result])
        return result


@asynccontextmanager
async def database(kind: str, data_dir: Path) -> AsyncIterator[URL]:
    """A migrated and seeded database: a SQLite file in ``data_dir`` or a fresh MariaDB
    database on 127.0.0.1 (dropped afterwards)."""
    if kind == "sqlite":
        url = make_url(f"sqlite+aiosqlite:///{data_dir / 'dumpin.db'}")
        await _migrate_and_seed(url)
        yield url
        return
    with scratch_database("dumpin_bench") as url:
        await _migrate_and_seed(url)
        yield url


async def _migrate_and_seed(url: URL) -> None:
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            await seed(session)
            await session.commit()
    finally:
        await engine.dispose()


async def add_users(url: URL, ids: list[int], department: str | None = "33") -> None:
    """Consenting users with a chosen département, as if they had done /start and
    /departement."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            now = datetime.now(UTC).replace(tzinfo=None)
            session.add_all(
                User(id=uid, language="fr", consent_at=now, last_seen_at=now) for uid in ids
            )
            await session.flush()
            if department is not None:
                for uid in ids:
                    await users.choose_department(session, uid, department)
            await session.commit()
    finally:
        await engine.dispose()


async def scalar(url: URL, sql: str) -> Any:
    """One value read from the database (for checks after a run)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return (await connection.execute(text(sql))).scalar()
    finally:
        await engine.dispose()


@dataclass
class BotProcess:
    """``python -m bot bot`` polling ``api_url``; stderr goes to ``data_dir/bot.log``."""

    api_url: str
    url: URL
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    python_args: tuple[str, ...] = ()
    """Interpreter options before ``-m bot bot``, e.g. ``("-m", "cProfile", "-o", path)``."""
    checkout: Path = REPO
    """Where ``bot`` is imported from (another checkout to compare versions)."""
    bot_args: tuple[str, ...] = ()
    """Options after ``bot``, e.g. ``("--webhook",)``."""
    process: asyncio.subprocess.Process | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.data_dir / "bot.log"

    @property
    def pid(self) -> int:
        """The running process id."""
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        """Start the process (returns at once; wait for its first ``getUpdates``)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DUMPIN_")}
        env |= {
            "DUMPIN_TELEGRAM_TOKEN": DEFAULT_TOKEN,
            "DUMPIN_TELEGRAM_API_URL": self.api_url,
            "DUMPIN_DATA_DIR": str(self.data_dir),
            "DUMPIN_DATABASE_URL": self.url.render_as_string(hide_password=False),
            "DUMPIN_HTTP_LISTEN": "127.0.0.1:0",
            "PTB_TIMEDELTA": "1",
            **self.env,
        }
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                *self.python_args,
                "-m",
                "bot",
                "bot",
                *self.bot_args,
                env=env,
                cwd=self.checkout,
                stderr=log,
            )

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:  # noqa: ASYNC109
        """Send ``sig`` and wait for the exit code (SIGKILL after ``timeout``)."""
        process = self.process
        if process is None:
            return 0
        if process.returncode is not None:
            return process.returncode
        process.send_signal(sig)
        try:
            return await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.kill()
            return await process.wait()

    def log(self) -> str:
        """Everything the process wrote to stderr so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def webhook_process(
    api_url: str, url: URL, data_dir: Path, checkout: Path = REPO
) -> tuple[BotProcess, str]:
    """A bot in webhook mode on a free port of 127.0.0.1, and the URL Telegram (the fake's
    ``delivering``) posts updates to."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {
        "DUMPIN_WEBHOOK_URL": "https://bot.example.test/hook",
        "DUMPIN_WEBHOOK_SECRET": "s3cret",
        "DUMPIN_WEBHOOK_LISTEN": f"127.0.0.1:{port}",
    }
    bot = BotProcess(api_url, url, data_dir, env, checkout=checkout, bot_args=("--webhook",))
    return bot, f"http://127.0.0.1:{port}/hook"


@asynccontextmanager
async def running_bot(
    tg: FakeTelegram,
    url: URL,
    data_dir: Path,
    env: dict[str, str] | None = None,
    python_args: tuple[str, ...] = (),
    checkout: Path = REPO,
) -> AsyncIterator[BotProcess]:
    """A started bot that has begun polling ``tg``; stopped with SIGTERM afterwards."""
    bot = BotProcess(tg.url, url, data_dir, env or {}, python_args, checkout)
    await bot.start()
    try:
        await tg.wait_for("getUpdates", timeout=60)
        yield bot
    finally:
        await bot.stop()


@dataclass
class ProcStats:
    """CPU and memory of a process, read from ``/proc`` (Linux)."""

    pid: int
    tick: float = field(default_factory=lambda: float(os.sysconf("SC_CLK_TCK")))
    _last: tuple[float, float] | None = None

    def cpu_seconds(self, thread: int | None = None) -> float:
        """User + system CPU time so far: all threads, or one (the main thread is ``pid``)."""
        stat = Path(
            f"/proc/{self.pid}/stat" if thread is None else f"/proc/{self.pid}/task/{thread}/stat"
        )
        fields = stat.read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / self.tick

    def memory_mb(self) -> tuple[float, float]:
        """Current and peak resident set size in MB."""
        values: dict[str, float] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in {"VmRSS", "VmHWM"}:
                values[key] = int(rest.split()[0]) / 1024
        return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)

    def cpu_percent(self) -> float:
        """CPU use since the previous call, in % of one core."""
        now, used = time.monotonic(), self.cpu_seconds()
        last, self._last = self._last, (now, used)
        if last is None or now <= last[0]:
            return 0.0
        return 100 * (used - last[1]) / (now - last[0])


@dataclass
class MachineStats:
    """CPU use of the whole machine (all processes), from ``/proc/stat``."""

    cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    _last: tuple[int, int] | None = None

    def cpu_percent(self) -> float:
        """Busy time since the previous call, in % of one core (100 x cores = all busy)."""
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        total, idle = sum(fields[:8]), fields[3] + fields[4]
        last, self._last = self._last, (total, idle)
        if last is None or total <= last[0]:
            return 0.0
        return 100 * self.cores * (1 - (idle - last[1]) / (total - last[0]))


def quoting(sent: Sent) -> Callable[[RecordedRequest], bool]:
    """Matches a successful ``sendMessage`` that quotes the message of ``sent``."""

    def match(request: RecordedRequest) -> bool:
        reply: Any = request.params.get("reply_parameters") or {}
        return (
            request.ok
            and request.params.get("chat_id") == sent.chat_id
            and reply.get("message_id") == sent.message_id
        )

    return match


def answered(tg: FakeTelegram, sent: Sent) -> list[RecordedRequest]:
    """Successful replies quoting ``sent`` so far."""
    return [r for r in tg.requests("sendMessage") if quoting(sent)(r)]


async def until(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``check`` every 50 ms until true; fail naming ``what`` after ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await asyncio.sleep(0.05)


async def stop_mid_burst(
    tg: FakeTelegram,
    bot: BotProcess,
    photos: list[bytes],
    users: list[int],
    sig: int,
    count: int = 60,
) -> list[Sent]:
    """Send ``count`` photos from ``users`` in turn, a stream then a burst; once answers are
    coming and the burst is in flight, stop the bot with ``sig`` and start it again. Returns
    what was sent (not necessarily answered yet)."""
    senders = [tg.user(uid) for uid in users]
    sent: list[Sent] = []
    for i in range(count):
        sent.append(await tg.send_photo(senders[i % len(users)], photos[i % len(photos)]))
        if i == count // 2:
            await until(lambda: len(tg.requests("sendMessage")) >= 5, 30, "answers")
            if all(answered(tg, s) for s in sent):
                raise AssertionError("the stop came too late: every photo was answered")
            await bot.stop(sig)
            await bot.start()
        elif i < count // 2 - 5:
            await asyncio.sleep(0.02)
    return sent
