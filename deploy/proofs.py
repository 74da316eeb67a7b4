"""What the deploy check proves about the running stack, each a function that raises
:class:`~deploy.shell.CheckFailed` with what it found instead."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from deploy.conversation import Photo
from deploy.shell import CheckFailed, run, say
from deploy.stack import APP_UID, BOT_URL, RUNNING, Snapshot, Stack

APP_IMAGE = "dumpin:latest"
APP_IMAGE_MAX_MB = 600
"""The Dumpin image (the three app services share it) must stay under this size."""


async def backup(stack: Stack) -> str:
    """``dumpin backup --media`` in the scheduler: its files land in the backups volume, owned
    by the app user; the bot does not see them, but its figures (``/stats``) report the backup.
    Returns the SQL backup's name."""
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
    figures = await stack.exec("bot", "dumpin", "stats", "--lang", "en")
    if "Last backup: never" in figures:
        raise CheckFailed(f"the bot does not know of the backup (/stats):\n{figures}")
    return sql[-1]


def _process_uids(pid: int) -> list[str]:
    """Real and effective user ids of a process on this machine."""
    return Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[:2]


async def users(stack: Stack) -> None:
    """Every running container's main process runs as a user other than root."""
    for service in RUNNING:
        uid = _process_uids((await stack.state(service))["Pid"])
        if "0" in uid:
            raise CheckFailed(f"{service} runs as root (uid {uid})")
        say(f"{service}: uid {uid[1]}")


async def loopback(stack: Stack) -> None:
    """Every socket the containers listen on is bound to 127.0.0.1 (host networking)."""
    pids = {(await stack.state(service))["Pid"]: service for service in RUNNING}
    for line in (await run("ss", "-Hltnp", quiet=True)).splitlines():
        local = line.split()[3]
        for pid, service in pids.items():
            if f"pid={pid}," in line:
                if not local.startswith("127.0.0.1:"):
                    raise CheckFailed(f"{service} listens on {local}")
                say(f"{service} listens on {local}")


async def endpoints(photo: Photo) -> None:
    """``/healthz`` says ok, ``/metrics`` counts the photo."""
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


async def same_after(stack: Stack, what: str, action: Callable[[], Awaitable[object]]) -> Snapshot:
    """Every row and photo as they were after ``action``, once the bot answers again."""
    before = await stack.snapshot()
    await action()
    await stack.wait_answering()
    after = await stack.snapshot()
    if changes := before.differences(after):
        raise CheckFailed(f"{what} changed the data:\n" + "\n".join(changes))
    say(f"{what}: {sum(after.rows.values())} rows, {len(after.photos)} photo(s) unchanged")
    return after


async def image_size() -> float:
    """The Dumpin image's size in MB, under :data:`APP_IMAGE_MAX_MB`."""
    out = await run("docker", "image", "inspect", "--format", "{{.Size}}", APP_IMAGE)
    megabytes = int(out) / 1e6
    if megabytes >= APP_IMAGE_MAX_MB:
        raise CheckFailed(f"{APP_IMAGE} is {megabytes:.0f} MB, over {APP_IMAGE_MAX_MB} MB")
    say(f"{APP_IMAGE}: {megabytes:.0f} MB (limit {APP_IMAGE_MAX_MB} MB)")
    return megabytes
