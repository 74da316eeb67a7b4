"""What the bot keeps in RAM per user (PTB's ``context.user_data``), bounded: the
conversation's state, and the answers and choices of users who did not consent (they have
no row).

PTB keeps an entry for every user who ever wrote, for as long as the process runs. Here an
entry goes once its user has been idle for ``MAX_IDLE_SECONDS`` (checked whenever any user
writes), and the least recently seen first when there are more than ``MAX_USERS``.
"""

from __future__ import annotations

import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from telegram.ext import Application

MAX_USERS = 5000
"""Users remembered at most: 56 MiB with the most answers kept for each (BENCHMARKS.md)."""
MAX_IDLE_SECONDS = 24 * 3600.0
"""A user idle for longer is forgotten: their buttons expire, their choices are asked again."""


class RecentUsers(defaultdict[int, dict[str, Any]]):
    """Per-user dictionaries that forget idle and least recently seen users."""

    def __init__(
        self,
        max_users: int = MAX_USERS,
        max_idle: float = MAX_IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(dict)
        self.max_users = max_users
        self.max_idle = max_idle
        self._clock = clock
        self._seen: OrderedDict[int, float] = OrderedDict()

    def __getitem__(self, user_id: int) -> dict[str, Any]:
        """The user's dictionary (new if forgotten or never seen); the user counts as seen."""
        now = self._clock()
        while self._seen:
            oldest, seen = next(iter(self._seen.items()))
            if now - seen <= self.max_idle:
                break
            self.pop(oldest, None)
        self._seen[user_id] = now
        self._seen.move_to_end(user_id)
        data = super().__getitem__(user_id)
        while len(self._seen) > self.max_users:
            self.pop(next(iter(self._seen)), None)
        return data

    def pop(self, user_id: int, *default: Any) -> Any:
        """Forget the user (``Application.drop_user_data`` calls this)."""
        self._seen.pop(user_id, None)
        return super().pop(user_id, *default)


def bound_user_data(
    application: Application[Any, Any, Any, Any, Any, Any], users: RecentUsers
) -> None:
    """Make ``users`` the application's ``user_data``."""
    application._user_data = users  # PTB takes no container of ours
    application.user_data = MappingProxyType(users)
