"""The container engine and tools of the check, from Debian's packages: installed when absent,
the engine started for the check only (and stopped after it) when none answers."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from deploy.shell import CheckFailed, CommandFailed, run, say

TOOLS = {"debootstrap": "debootstrap", "ss": "iproute2"}
ENGINE = {"dockerd": "docker.io", "docker-compose": "docker-compose"}
"""The command each Debian package brings."""
START_SECONDS = 60
STOP_SECONDS = 60


def missing(packages: dict[str, str]) -> list[str]:
    """Those of ``packages`` (command: package) whose command is not installed."""
    return sorted({package for command, package in packages.items() if not shutil.which(command)})


async def apt(*args: str) -> None:
    """``apt-get ARGS``, without questions."""
    await run("apt-get", *args, "-qq", env={"DEBIAN_FRONTEND": "noninteractive"})


async def install(packages: list[str]) -> None:
    """``apt-get install`` ``packages`` (nothing when empty)."""
    if packages:
        await apt("install", "-y", "--no-install-recommends", *packages)


async def answers() -> bool:
    """Whether a Docker engine answers on the default socket."""
    if not shutil.which("docker"):
        return False
    try:
        await run("docker", "info", "--format", "{{.ServerVersion}}", quiet=True, timeout=20)
    except CommandFailed:
        return False
    return True


@contextlib.asynccontextmanager
async def engine(log: Path) -> AsyncIterator[bool]:
    """A Docker engine answering; yields whether it was started here (then stopped on exit).

    Started without a bridge or firewall rules: the check runs everything with host
    networking, so no address outside the loopback is ever used.
    """
    if await answers():
        yield False
        return
    say(f"$ dockerd --bridge=none --iptables=false  (log: {log})")
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            "dockerd",
            "--bridge=none",
            "--iptables=false",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output,
            stderr=output,
        )
    try:
        for _ in range(START_SECONDS):
            if process.returncode is not None:
                raise CheckFailed(f"dockerd exited {process.returncode}, see {log}")
            if await answers():
                break
            await asyncio.sleep(1)
        else:
            raise CheckFailed(f"dockerd did not answer within {START_SECONDS} s, see {log}")
        yield True
    finally:
        say("stopping the Docker engine started for the check")
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), STOP_SECONDS)
            except TimeoutError:
                process.kill()
                await process.wait()
