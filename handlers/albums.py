"""Collects the photos of an album (media group) so they get one combined reply."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from handlers.render import Answer

log = logging.getLogger(__name__)

QUIET_SECONDS = 1.0
"""How long an album must stay quiet, all its photos classified, before the reply goes out."""

Release = Callable[[], None]


@dataclass
class PendingAlbum:
    """Photos of one album seen so far."""

    chat_id: int
    pending: int = 0
    answers: list[tuple[int, Answer]] = field(default_factory=list)
    """(message id, answer) pairs, sorted when the reply is built."""
    first_message_id: int = 0
    task: asyncio.Task[None] | None = None
    releases: list[Release] = field(default_factory=list)
    """Let the album's updates be confirmed: only once the reply is sent (or failed)."""


Flush = Callable[[PendingAlbum], Awaitable[None]]


class AlbumCollector:
    """Debounces photos by media group id; flushes once no photo is in flight and all is quiet."""

    def __init__(self, quiet: float = QUIET_SECONDS) -> None:
        self.quiet = quiet
        self.albums: dict[str, PendingAlbum] = {}

    def begin(self, group_id: str, chat_id: int, message_id: int, release: Release) -> None:
        """A photo of the album arrived and is being classified; ``release`` is called once
        the album's reply is sent, so that its update counts as done only then."""
        album = self.albums.setdefault(group_id, PendingAlbum(chat_id, first_message_id=message_id))
        album.pending += 1
        album.releases.append(release)
        album.first_message_id = min(album.first_message_id, message_id)
        if album.task is not None:
            album.task.cancel()
            album.task = None

    def done(self, group_id: str, message_id: int, answer: Answer | None, flush: Flush) -> None:
        """The photo is classified (``answer`` None when it failed); maybe schedule the reply."""
        album = self.albums[group_id]
        album.pending -= 1
        if answer is not None:
            album.answers.append((message_id, answer))
        if album.pending == 0:
            album.task = asyncio.get_running_loop().create_task(self._later(group_id, flush))

    async def _later(self, group_id: str, flush: Flush) -> None:
        await asyncio.sleep(self.quiet)
        album = self.albums.pop(group_id)
        album.answers.sort(key=lambda pair: pair[0])
        try:
            await flush(album)
        except Exception:
            log.exception("album reply failed")
        finally:
            for release in album.releases:
                release()
