"""The compose stack under check: docker-compose.yml plus deploy/check.compose.yml, run with
the same ``docker-compose`` commands as docs/operations.md gives operators."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from deploy.shell import CheckFailed, CommandFailed, run, tail

REPO = Path(__file__).resolve().parent.parent
PROJECT = "dumpin-check"
SERVICES = ("db", "migrate", "bot", "scheduler")
RUNNING = ("db", "bot", "scheduler")
BOT_URL = "http://127.0.0.1:8080"
"""Where the bot serves ``/healthz`` and ``/metrics`` (the image's HEALTHCHECK asks there)."""
SQL_CLIENT = (
    'MYSQL_PWD="$MARIADB_PASSWORD" exec mariadb --user=dumpin --batch --skip-column-names'
    ' --execute="$0" dumpin'
)
"""The database's client in the db container, as the app's user, running the query ``$0``."""
APP_UID = 10001
"""The ``dumpin`` user of the image."""


@dataclass(frozen=True)
class Snapshot:
    """What must survive a restart: rows per table, the users' rows, the stored photos."""

    rows: dict[str, int]
    checksums: dict[str, str]
    photos: dict[str, str]

    def differences(self, later: Snapshot) -> list[str]:
        """What changed between this snapshot and ``later``, one line each."""
        lines = []
        for name, before, after in (
            ("rows", self.rows, later.rows),
            ("checksum", self.checksums, later.checksums),
            ("photo", self.photos, later.photos),
        ):
            for key in sorted(before.keys() | after.keys()):
                if before.get(key) != after.get(key):
                    lines.append(f"{name} {key}: {before.get(key)} -> {after.get(key)}")
        return lines


def write_env(token: str) -> Path:
    """``.env`` made as an operator makes it, from ``.env.example``: the token and a database
    password filled in. Refuses to replace an existing ``.env``."""
    target = REPO / ".env"
    if target.exists():
        raise CheckFailed(f"{target} exists: the check writes its own; move yours away first")
    password = secrets.token_hex(24)
    text = (REPO / ".env.example").read_text()
    for key, value in (("DUMPIN_TELEGRAM_TOKEN", token), ("MARIADB_PASSWORD", password)):
        text, count = re.subn(rf"^{key}=$", f"{key}={value}", text, flags=re.MULTILINE)
        if count != 1:
            raise CheckFailed(f".env.example has no empty {key}= line")
    target.touch(mode=0o600)
    target.write_text(text)
    return target


class Stack:
    """``docker-compose`` on the checked files, with the check's variables."""

    def __init__(self, variables: dict[str, str], log: Path) -> None:
        self.env = {
            "COMPOSE_FILE": "docker-compose.yml:deploy/check.compose.yml",
            "COMPOSE_PROJECT_NAME": PROJECT,
            **variables,
        }
        self.log = log

    async def __call__(self, *args: str, quiet: bool = False, timeout: float = 900) -> str:  # noqa: ASYNC109
        """``docker-compose ARGS`` in the repository."""
        return await run(
            "docker-compose",
            *args,
            env=self.env,
            cwd=REPO,
            log=self.log,
            quiet=quiet,
            timeout=timeout,
        )

    async def container(self, service: str) -> str:
        """The id of ``service``'s container (not of a one-off ``run``)."""
        labels = (f"project={PROJECT}", f"service={service}", "oneoff=False")
        filters = [f"--filter=label=com.docker.compose.{label}" for label in labels]
        ids = (await run("docker", "ps", "-aq", *filters, quiet=True)).split()
        if not ids:
            raise CheckFailed(f"no {service} container")
        return ids[0]

    async def state(self, service: str) -> dict[str, Any]:
        """``State`` of ``service``'s container, as ``docker inspect`` gives it."""
        found = await run(
            "docker",
            "inspect",
            "--format",
            "{{json .State}}",
            await self.container(service),
            quiet=True,
        )
        return json.loads(found)  # type: ignore[no-any-return]

    async def wait_healthy(self, service: str, seconds: float) -> None:
        """Wait until Docker's health check of ``service`` reports healthy."""
        deadline = time.monotonic() + seconds
        while (health := (await self.state(service)).get("Health", {})).get("Status") != "healthy":
            if time.monotonic() > deadline:
                probes = health.get("Log", [])[-1:]
                raise CheckFailed(
                    f"{service} not healthy after {seconds:.0f} s: {health.get('Status')} {probes}"
                )
            await asyncio.sleep(2)

    async def volume_path(self, volume: str) -> Path:
        """Where the project's ``volume`` lies on this machine."""
        labels = [
            f"label=com.docker.compose.{k}" for k in (f"project={PROJECT}", f"volume={volume}")
        ]
        [name] = (
            await run(
                "docker", "volume", "ls", "-q", *(f"--filter={f}" for f in labels), quiet=True
            )
        ).split()
        mountpoint = await run(
            "docker", "volume", "inspect", "--format", "{{.Mountpoint}}", name, quiet=True
        )
        return Path(mountpoint.strip())

    async def logs(self, service: str) -> str:
        """The last lines of ``service``'s log."""
        try:
            return tail(await self("logs", "--no-color", "--tail=30", service, quiet=True))
        except CommandFailed as exc:
            return tail(exc.output)

    async def exec(self, service: str, *command: str) -> str:
        """``docker-compose exec -T SERVICE COMMAND``."""
        return await self("exec", "-T", service, *command)

    async def inside(self, service: str, *command: str) -> str:
        """``docker exec`` in ``service``'s container, not echoed (the check's own looks)."""
        return await run("docker", "exec", await self.container(service), *command, quiet=True)

    async def sql(self, query: str) -> list[list[str]]:
        """Rows of ``query`` in the dumpin database, run by the db container's client with the
        password the container was given (so it is never on a command line)."""
        out = await self.inside("db", "sh", "-c", SQL_CLIENT, query)
        return [line.split("\t") for line in out.splitlines()]

    async def snapshot(self) -> Snapshot:
        """Rows of every table, checksums of the users' tables, photos on disk."""
        tables = [row[0] for row in await self.sql("SHOW TABLES")]
        counts = " UNION ALL ".join(f"SELECT '{t}', COUNT(*) FROM `{t}`" for t in tables)
        rows = {name: int(count) for name, count in await self.sql(counts)}
        sums = await self.sql("CHECKSUM TABLE users, users_departments, users_predictions")
        listing = await self.inside(
            "bot", "find", "/data/uploads", "-type", "f", "-printf", "%P %s\\n"
        )
        photos = dict(line.split(" ", 1) for line in listing.splitlines())
        return Snapshot(rows, {name: value for name, value in sums}, photos)

    async def wait_answering(self, seconds: float = 120) -> dict[str, Any]:
        """Wait until the bot's ``/healthz`` answers 200; its JSON."""
        deadline = time.monotonic() + seconds
        last = "no answer"
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                try:
                    async with http.get(f"{BOT_URL}/healthz") as resp:
                        if resp.status == 200:
                            return await resp.json()  # type: ignore[no-any-return]
                        last = f"{resp.status} {await resp.text()}"
                except aiohttp.ClientError as exc:
                    last = type(exc).__name__
                await asyncio.sleep(1)
        raise CheckFailed(f"{BOT_URL}/healthz did not answer 200 within {seconds:.0f} s: {last}")
