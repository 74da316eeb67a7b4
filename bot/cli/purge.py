"""``dumpin purge``: apply the retention periods of the privacy notice now."""

from __future__ import annotations

import argparse
import threading
from typing import Any

from bot.settings import Settings
from scheduler.jobs import purge_job, run_command


def register(subparsers: Any) -> None:
    """Add ``purge``."""
    parser = subparsers.add_parser(
        "purge",
        help="delete what is kept longer than the privacy notice says (the scheduler does it "
        "daily)",
        description="Delete the photos of answers nobody confirmed after "
        "DUMPIN_UNCONFIRMED_PHOTO_DAYS, erase users inactive for DUMPIN_INACTIVE_USER_DAYS "
        "(as /oublier does), expire erasure records no backup needs any more and delete "
        "uploads no row refers to. The first run also re-encodes without metadata the images "
        "earlier versions stored as received.",
    )
    parser.set_defaults(func=_purge)


def _purge(_args: argparse.Namespace, settings: Settings) -> int:
    report = run_command(settings, "purge", lambda: purge_job(settings, threading.Event()))
    print(
        f"{report.users} inactive users erased, {report.photos} unconfirmed photos dropped, "
        f"{report.files} files deleted, {report.erasures} erasure records expired"
    )
    if report.reencoded:
        print(f"{report.reencoded} images stored by an earlier version re-encoded without metadata")
    return 0
