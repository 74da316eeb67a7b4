"""``make deploy-check``: install the container engine if absent, build local base images from
Debian's packages, build the project's images with them, run the compose stack with
``docker-compose`` and prove it works end to end. Run as root, from a checkout.

A failure names the step and prints the last lines of the log of the container(s) concerned.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import aiohttp

from deploy import base_images, engine, proofs
from deploy.conversation import Conversation, Photo, pick_photo
from deploy.shell import CheckFailed, run, say
from deploy.stack import RUNNING, SERVICES, Stack, write_env
from tests.fake_telegram import DEFAULT_TOKEN, FakeTelegram

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
    """Run ``works`` side by side, each to its end (an ``apt-get`` cut short would leave
    dpkg half done); then raise the first failure as is."""
    for outcome in await asyncio.gather(*works, return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise outcome


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
        await proofs.endpoints(photo)
    async with step("non-root users, loopback only, memory limits", *RUNNING):
        await proofs.users(stack)
        await proofs.loopback(stack)
        say(await stack("ps"))
        say(await run("docker", "stats", "--no-stream", quiet=True))
    async with step("backup into the backups volume", "scheduler"):
        at_backup = await stack.snapshot()
        backup = await proofs.backup(stack)
    async with step("the image's HEALTHCHECK passes", "bot"):
        await stack.wait_healthy("bot", HEALTHY_SECONDS)
    async with step("restart keeps every row and photo", *RUNNING):
        await proofs.same_after(stack, "restart", lambda: stack("restart"))
        await user.photo(photo)
    async with step("down then up keeps every row and photo", *SERVICES):

        async def down_up() -> None:
            await stack("down")
            await stack("up", "-d")

        await proofs.same_after(stack, "down and up", down_up)
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
        listed = "backups"  # the backup files kept, recorded after the restore: not restored
        if restored.rows | {listed: 0} != at_backup.rows | {listed: 0}:
            raise CheckFailed(f"restored rows {restored.rows} != backed up {at_backup.rows}")
        await user.department()
    async with step(f"bot image under {proofs.APP_IMAGE_MAX_MB} MB"):
        await proofs.image_size()


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
    """Remove the check's containers and volumes, and its images unless asked to keep them
    (nothing built here may speed up a later run)."""
    say("\n==> clean up")
    started = time.monotonic()
    with contextlib.suppress(CheckFailed):
        await stack("down", "--volumes", "--remove-orphans", timeout=120)
    if not keep_images:
        await base_images.remove((proofs.APP_IMAGE, *base_images.IMAGES))
        with contextlib.suppress(CheckFailed):
            await run("docker", "image", "prune", "--force")
    say(f"cleaned up in {time.monotonic() - started:.0f} s")


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
