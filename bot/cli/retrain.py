"""``dumpin retrain``: train a candidate head, promote it when it is at least as good."""

from __future__ import annotations

import argparse
import threading
from typing import Any

from bot.settings import Settings
from scheduler.jobs import retrain_job, run_command


def register(subparsers: Any) -> None:
    """Add ``retrain``."""
    parser = subparsers.add_parser(
        "retrain",
        help="retrain the classifier head on base + harvested data",
        description="Train a new head on the cached embeddings, evaluate it and the active "
        "model on the same test set, promote it only when it is at least as good.",
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
    new, old = report.candidate, report.active
    print(
        f"candidate {report.version} (id {report.model_id}): accuracy {new['accuracy']:.4f}, "
        f"macro-F1 {new['macro_f1']:.4f}; active {report.active_version}: "
        f"accuracy {old['accuracy']:.4f}, macro-F1 {old['macro_f1']:.4f} ({report.seconds:.0f} s)"
    )
    if report.missing_files:
        print(f"{report.missing_files} harvested files missing: left out")
    if report.promoted:
        print(f"promoted {report.version}")
    else:
        print("not promoted: " + ("; ".join(report.reasons) or "--no-promote"))
    return 0
