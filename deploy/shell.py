"""Commands the deploy check runs: echoed, with their output kept for when one fails."""

from __future__ import annotations

import asyncio
import os
import shlex
import time
from collections.abc import Mapping
from pathlib import Path

TAIL_LINES = 30
STARTED = time.monotonic()


class CheckFailed(Exception):
    """Something the check proves did not hold; the message says what."""


class CommandFailed(CheckFailed):
    """A command exited non-zero."""

    def __init__(self, command: tuple[str, ...], code: int, output: str) -> None:
        self.output = output
        super().__init__(f"`{shlex.join(command)}` exited {code}:\n{tail(output)}")


def tail(text: str, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of ``text``, indented."""
    return "\n".join(f"    {line}" for line in text.rstrip().splitlines()[-lines:])


def say(message: str) -> None:
    """One line of the check's transcript."""
    print(message, flush=True)


async def run(
    *command: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    log: Path | None = None,
    quiet: bool = False,
    timeout: float = 900,  # noqa: ASYNC109
) -> str:
    """Run ``command`` and return its standard output.

    Standard error goes with it into ``log`` when given (long build outputs), else it is only
    kept for the error. Non-zero exit: :class:`CommandFailed` with the last lines.
    """
    if not quiet:
        say(f"[{time.monotonic() - STARTED:5.0f} s] $ {shlex.join(command)}")
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=None if env is None else {**os.environ, **env},
        cwd=cwd,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
    if log is not None:
        with log.open("a") as handle:
            handle.write(f"$ {shlex.join(command)}\n{stdout}{stderr}\n")
    if process.returncode != 0:
        raise CommandFailed(command, process.returncode or 0, stdout + stderr)
    return stdout
