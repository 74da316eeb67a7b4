"""``dumpin retrain``: train a candidate head, promote it when the gate says so."""

from __future__ import annotations

import argparse
import threading
from typing import Any

from bot.settings import Settings
from scheduler.jobs import retrain_job, run_command
from scheduler.retrain_text import report_text


def register(subparsers: Any) -> None:
    """Add ``retrain``."""
    parser = subparsers.add_parser(
        "retrain",
        help="retrain the classifier head on base + harvested data",
        description="Train a new head on the cached embeddings (base datasets and users' "
        "photos, these weighted DUMPIN_USER_PHOTO_WEIGHT), compare it with the active model on "
        "the base and the users' test photos, promote it when it is better on users' photos "
        "and at most one point worse on base photos (docs/operations.md).",
    )
    parser.add_argument(
        "--if-new",
        type=int,
        default=0,
        metavar="N",
        help="only when N samples were harvested since the last model",
    )
    parser.add_argument(
        "--no-promote", action="store_true", help="record the candidate, never promote it"
    )
    parser.set_defaults(func=_retrain)


def _retrain(args: argparse.Namespace, settings: Settings) -> int:
    report = run_command(
        settings,
        "retrain",
        lambda: retrain_job(settings, threading.Event(), args.if_new, not args.no_promote),
    )
    if report is None:
        print(f"fewer than {args.if_new} new samples: nothing to do")
        return 0
    print(report_text(report, "en"))
    if not report.judged:
        print("--no-promote: recorded as a candidate without being judged")
    if report.missing_files:
        print(f"{report.missing_files} harvested files missing: left out")
    print(f"model id {report.model_id}, {report.seconds:.0f} s")
    return 0
