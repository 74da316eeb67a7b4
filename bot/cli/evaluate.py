"""``dumpin evaluate DIR``: accuracy, macro-F1, per-class figures and confusion matrix."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from bot.errors import DumpinError
from bot.settings import Settings
from db.categories import CLASSES
from ml.classifier import Classifier
from ml.evaluate import EvalReport, evaluate
from ml.memory_sync import load_memory


def register(subparsers: Any) -> None:
    """Add ``evaluate``."""
    parser = subparsers.add_parser("evaluate", help="measure the model on labelled images")
    parser.add_argument("data", type=Path, metavar="DIR", help="folder of <class>/*.jpg")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--model", type=Path, help="model folder (default: the shipped model, ml/models)"
    )
    parser.set_defaults(func=_run)


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty() or done == total or done % 200 == 0:
        width = 30
        filled = width * done // max(total, 1)
        end = "\n" if done == total else ""
        print(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end=end, file=sys.stderr
        )


def _text(report: EvalReport) -> str:
    lines = [
        f"model {report.model_version}: {report.n} images",
        f"accuracy {report.accuracy:.4f}  macro-F1 {report.macro_f1:.4f}",
        f"{'class':<14}{'precision':>10}{'recall':>8}{'support':>9}",
    ]
    for name, figures in report.per_class.items():
        lines.append(
            f"{name:<14}{figures['precision']:>10.3f}{figures['recall']:>8.3f}"
            f"{int(figures['support']):>9}"
        )
    lines.append("confusion (rows: true, columns: predicted, order as above)")
    lines.extend(" ".join(f"{v:>4}" for v in row) for row in report.confusion)
    return "\n".join(lines)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if not any((args.data / name).is_dir() for name in (*CLASSES, "val")):
        raise DumpinError(f"no labelled images in {args.data} (expected <class>/*.jpg)")
    classifier = Classifier.load(
        args.model or settings.shipped_model_dir, settings.memory_max_entries
    )
    asyncio.run(load_memory(settings.db_url, classifier))
    report = evaluate(classifier, args.data, _progress)
    if report.n == 0:
        raise DumpinError(f"no labelled images in {args.data} (expected <class>/*.jpg)")
    if args.json:
        data = report.to_dict()
        print(
            json.dumps(
                {k: data[k] for k in ("n", "accuracy", "macro_f1", "per_class", "confusion")}
                | {"model_version": report.model_version, "skipped": report.skipped}
            )
        )
    else:
        print(_text(report))
    return 0
