"""``make deploy-check``: install the container engine if absent, build local base images from
Debian's packages, build the project's images with them, run the compose stack with
``docker-compose`` and prove it works end to end. Run as root, from a checkout.

A failure names the step and prints the last lines of the log of the container(s) concerned.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp

from deploy import base_images, engine
from deploy.conversation import Conversation, Photo, pick_photo
from deploy.shell import CheckFailed, run, say
from deploy.stack import APP_UID, BOT_URL, RUNNING, SERVICES, Snapshot, Stack, write_env
from tests.fake_telegram import DEFAULT_TOKEN, FakeTelegram

APP_IMAGE = "dumpin:latest"
APP_IMAGE_MAX_MB = 600
"""The bot image (all three app services share it) must stay under this size."""
DB_PORT = int(os.environ.get("DUMPIN_CHECK_DB_PORT", "3307"))
"""The check's database listens here: MariaDB may already listen on 3306 on this machine."""
HEALTHY_SECONDS = 150
"""The image's HEALTHCHECK probes every 30 s; the first probe comes 30 s after the start."""


class Failed(Exception):
    """A step failed; ``services`` are the containers whose logs tell why."""

    def __init__(self, step: str, services: tuple[str, ...], cause: BaseException) -> None:
        self.step, self.services, self.cause = step, services, cause
        super().__init__(step)


class Steps:
    """Named steps with their durations."""

    def __init__(self) -> None:
        self.seconds: dict[str, float | None] = {}
        """Seconds per step (``None``: it failed), and per part of a step (indented names)."""

    @contextlib.asynccontextmanager
    async def __call__(self, name: str, *services: str) -> AsyncIterator[None]:
        say(f"\n==> {name}")
        started = time.monotonic()
        self.seconds[name] = None
        try:
            yield
        except (CheckFailed, TimeoutError, AssertionError, aiohttp.ClientError) as exc:
            raise Failed(name, services, exc) from exc
        self.seconds[name] = seconds = time.monotonic() - started
        say(f"ok: {name} ({seconds:.0f} s)")

    async def timed(self, name: str, work: Awaitable[object]) -> None:
        """Await ``work``, recording its duration under ``name`` (parts run side by side)."""
        started = time.monotonic()
        await work
        self.seconds[f"  {name}"] = time.monotonic() - started


async def together(*works: Awaitable[object]) -> None:
    """Run ``works`` side by side; the first failure stops the others and is raised as is."""
    try:
        async with asyncio.TaskGroup() as group:
            for work in works:
                group.create_task(work)  # type: ignore[arg-type]
    except BaseExceptionGroup as failures:
        raise failures.exceptions[0] from None


def _require_free(port: int) -> None:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise CheckFailed(f"127.0.0.1:{port} is taken; the check needs it") from exc


async def _images(stack: Stack, root: Path | None, work: Path, step: Steps) -> None:
    """The local base images from ``root`` (none: kept from an earlier run), then the
    project's images built on them while the database's builds."""
    if root is None:
        await step.timed("project images", stack("build"))
        return
    await step.timed("Debian image", base_images.debian(root, stack.log))

    async def app() -> None:
        await step.timed("Python base image", base_images.python(work, stack.log))
        await step.timed("project images", stack("build"))

    await together(app(), step.timed("MariaDB base image", base_images.mariadb(stack.log)))


async def _prove_backup(stack: Stack) -> str:
    """``dumpin backup --media`` in the scheduler: its files land in the backups volume, owned
    by the app user; the bot does not see them. Returns the SQL backup's name."""
    await stack.exec("scheduler", "dumpin", "backup", "--media")
    listing = await stack.exec("scheduler", "ls", "-ln", "/data/backups")
    say(listing)
    names = [line.split()[-1] for line in listing.splitlines() if line.startswith("-")]
    owners = {int(line.split()[2]) for line in listing.splitlines()[1:]}
    sql = [name for name in names if name.endswith(".dumpin.sql.gz")]
    if not sql or not any(n.endswith(".media.tar") for n in names) or owners != {APP_UID}:
        raise CheckFailed(f"expected a backup and a media archive of uid {APP_UID}:\n{listing}")
    volume = await stack.volume_path("backups")
    if not (volume / sql[-1]).is_file():
        raise CheckFailed(f"{sql[-1]} is not in the backups volume ({volume})")
    if (seen := await stack.inside("bot", "ls", "-A", "/data/backups")).strip():
        raise CheckFailed(f"the bot sees backups:\n{seen}")
    return sql[-1]


def _process_uids(pid: int) -> list[str]:
    """Real and effective user ids of a process on this machine."""
    return Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[:2]


async def _prove_users(stack: Stack) -> None:
    """Every running container's main process runs as a user other than root."""
    for service in RUNNING:
        uid = _process_uids((await stack.state(service))["Pid"])
        if "0" in uid:
            raise CheckFailed(f"{service} runs as root (uid {uid})")
        say(f"{service}: uid {uid[1]}")


async def _prove_loopback(stack: Stack) -> None:
    """Every socket the containers listen on is bound to 127.0.0.1 (host networking)."""
    pids = {(await stack.state(service))["Pid"]: service for service in RUNNING}
    for line in (await run("ss", "-Hltnp", quiet=True)).splitlines():
        local = line.split()[3]
        for pid, service in pids.items():
            if f"pid={pid}," in line:
                if not local.startswith("127.0.0.1:"):
                    raise CheckFailed(f"{service} listens on {local}")
                say(f"{service} listens on {local}")


async def _prove_endpoints(photo: Photo) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{BOT_URL}/healthz") as resp:
            health = await resp.json()
            if resp.status != 200 or health.get("status") != "ok":
                raise CheckFailed(f"/healthz: {resp.status} {health}")
        async with http.get(f"{BOT_URL}/metrics") as resp:
            metrics = await resp.text()
    sample = 'dumpin_photos_classified_total{class="verre"} 1.0'
    if resp.status != 200 or sample not in metrics or "dumpin_model_info{" not in metrics:
        raise CheckFailed(f"/metrics: {resp.status}, no {sample!r} for {photo.name}")
    say(f"/healthz {json.dumps(health)}; /metrics has {sample}")


async def _same_after(stack: Stack, what: str, action: Callable[[], Awaitable[object]]) -> Snapshot:
    before = await stack.snapshot()
    await action()
    await stack.wait_answering()
    after = await stack.snapshot()
    if changes := before.differences(after):
        raise CheckFailed(f"{what} changed the data:\n" + "\n".join(changes))
    say(f"{what}: {sum(after.rows.values())} rows, {len(after.photos)} photo(s) unchanged")
    return after


async def _image_size() -> float:
    out = await run("docker", "image", "inspect", "--format", "{{.Size}}", APP_IMAGE)
    megabytes = int(out) / 1e6
    if megabytes >= APP_IMAGE_MAX_MB:
        raise CheckFailed(f"{APP_IMAGE} is {megabytes:.0f} MB, over {APP_IMAGE_MAX_MB} MB")
    say(f"{APP_IMAGE}: {megabytes:.0f} MB (limit {APP_IMAGE_MAX_MB} MB)")
    return megabytes


async def _stack_checks(stack: Stack, tg: FakeTelegram, photo: Photo, step: Steps) -> None:
    async with step("start: db healthy, migrate exits 0, bot answers", *SERVICES):
        await stack("up", "-d")
        await stack.wait_healthy("db", 60)
        migrate = await stack.state("migrate")
        if migrate["Status"] != "exited" or migrate["ExitCode"] != 0:
            raise CheckFailed(f"migrate: {migrate['Status']}, exit code {migrate['ExitCode']}")
        await stack.wait_answering()
    user = Conversation(tg)
    async with step("/start, /departement 33 and a photo", "bot"):
        await user.start()
        await user.department()
        await user.photo(photo)
    async with step("/healthz and /metrics", "bot"):
        await _prove_endpoints(photo)
    async with step("non-root users, loopback only, memory limits", *RUNNING):
        await _prove_users(stack)
        await _prove_loopback(stack)
        say(await stack("ps"))
        say(await run("docker", "stats", "--no-stream", quiet=True))
    async with step("the image's HEALTHCHECK passes", "bot"):
        await stack.wait_healthy("bot", HEALTHY_SECONDS)
    async with step("backup into the backups volume", "scheduler"):
        at_backup = await stack.snapshot()
        backup = await _prove_backup(stack)
    async with step("restart keeps every row and photo", *RUNNING):
        await _same_after(stack, "restart", lambda: stack("restart"))
        await user.photo(photo)
    async with step("down then up keeps every row and photo", *SERVICES):

        async def down_up() -> None:
            await stack("down")
            await stack("up", "-d")

        await _same_after(stack, "down and up", down_up)
    async with step("restore the backup", "scheduler", "bot"):
        await stack("stop", "bot", "scheduler")
        await stack(
            "run",
            "--rm",
            "--no-deps",
            "-T",
            "scheduler",
            "dumpin",
            "restore",
            f"/data/backups/{backup}",
            "--yes",
        )
        await stack("start", "bot", "scheduler")
        await stack.wait_answering()
        restored = await stack.snapshot()
        if restored.rows != at_backup.rows:
            raise CheckFailed(f"restored rows {restored.rows} != backed up {at_backup.rows}")
        await user.department()
    async with step(f"bot image under {APP_IMAGE_MAX_MB} MB"):
        await _image_size()


async def _report(stack: Stack, failure: Failed) -> None:
    say(f"\nDEPLOY CHECK FAILED at step '{failure.step}': {failure.cause}")
    for service in failure.services:
        say(f"\n--- last lines of {service}'s log ---\n{await stack.logs(service)}")


async def check(keep_images: bool) -> bool:
    """Every step; returns whether all passed. Cleans up what it made either way."""
    if os.geteuid() != 0:
        raise SystemExit("deploy check: run as root (it installs packages and runs dockerd)")
    started = time.monotonic()
    step = Steps()
    work = Path(tempfile.mkdtemp(prefix="dumpin-deploy-check-"))
    log = work / "commands.log"
    say(f"deploy check: commands' output in {log}")
    env_file: Path | None = None
    passed = False
    try:
        async with step("set-up: free ports, a photo, .env"):
            _require_free(8080)
            _require_free(DB_PORT)
            photo = pick_photo()
            say(f"photo {photo.name}: {photo.container}")
            env_file = write_env(DEFAULT_TOKEN)
        reuse = keep_images and await engine.answers() and await base_images.present()
        tools, packages = engine.missing(engine.TOOLS), engine.missing(engine.ENGINE)
        async with step("engine and tools from Debian's packages, Debian root file system"):
            if tools or packages:
                await engine.apt("update")
            await engine.install(tools)
            root = None if reuse else base_images.root_file_system(work, log)
            await together(
                step.timed(f"install {' '.join(packages) or 'nothing'}", engine.install(packages)),
                *([] if root is None else [step.timed("Debian root file system", root)]),
            )
        async with engine.engine(work / "dockerd.log"), FakeTelegram() as tg:
            stack = Stack(
                {
                    "PYTHON_IMAGE": base_images.PYTHON_IMAGE,
                    "MARIADB_IMAGE": base_images.MARIADB_IMAGE,
                    "DUMPIN_CHECK_DB_PORT": str(DB_PORT),
                    "DUMPIN_CHECK_TELEGRAM_API_URL": tg.url,
                },
                log,
            )
            try:
                async with step("images: local bases, then the project's"):
                    await _images(stack, None if reuse else work / "rootfs", work, step)
                await _stack_checks(stack, tg, photo, step)
            except Failed as failure:
                await _report(stack, failure)
                return False
            finally:
                await _clean(stack, keep_images)
        passed = True
    except Failed as failure:
        say(f"\nDEPLOY CHECK FAILED at step '{failure.step}': {failure.cause}")
        return False
    except CheckFailed as exc:
        say(f"\nDEPLOY CHECK FAILED: {exc}")
        return False
    finally:
        if env_file is not None:
            env_file.unlink(missing_ok=True)
        for folder in ("rootfs", "python-context"):
            shutil.rmtree(work / folder, ignore_errors=True)
        _summary(step, time.monotonic() - started, passed)
    shutil.rmtree(work, ignore_errors=True)
    return True


async def _clean(stack: Stack, keep_images: bool) -> None:
    """Remove the check's containers and volumes, and its images unless asked to keep them."""
    say("\n==> clean up")
    with contextlib.suppress(CheckFailed):
        await stack("down", "--volumes", "--remove-orphans", timeout=120)
    if not keep_images:
        await base_images.remove((APP_IMAGE, *base_images.IMAGES))
        with contextlib.suppress(CheckFailed):
            await run("docker", "image", "prune", "--force", quiet=True)


def _summary(step: Steps, total: float, passed: bool) -> None:
    say("\ntimings:")
    for name, seconds in step.seconds.items():
        say(f"  {'failed' if seconds is None else f'{seconds:6.0f} s'}  {name}")
    say(f"  {total:6.0f} s  in all")
    steps = [seconds for name, seconds in step.seconds.items() if not name.startswith(" ")]
    failed = max(steps.count(None), 0 if passed else 1)
    say(f"deploy-check: {len(steps) - failed} passed, {failed} failed")


def main() -> None:
    """``python -m deploy.check [--keep-images]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--keep-images",
        action="store_true",
        help="keep the built images (faster re-runs on this machine; CI never keeps them)",
    )
    args = parser.parse_args()

    async def guarded() -> bool:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        return await check(args.keep_images)

    sys.exit(0 if asyncio.run(guarded()) else 1)


if __name__ == "__main__":
    main()
