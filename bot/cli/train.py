"""``dumpin train``: fine-tune and export a new model (needs the ``train`` extra)."""

from __future__ import annotations

import argparse
import importlib.util
import shlex
import sys
from typing import Any

from bot.errors import DumpinError
from bot.settings import Settings
from ml.train import add_arguments, run


def register(subparsers: Any) -> None:
    """Add ``train`` with the options of :mod:`ml.train`."""
    parser = subparsers.add_parser(
        "train", help="fine-tune and export the classifier (needs the train extra: TensorFlow)"
    )
    add_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace, _settings: Settings) -> int:
    if importlib.util.find_spec("tensorflow") is None:
        raise DumpinError("training needs TensorFlow: pip install -e '.[train]'")
    run(args, "dumpin " + shlex.join(sys.argv[1:]))
    return 0
