"""The ``dumpin`` command: one subcommand per module, each registering itself."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from importlib import import_module

from bot.errors import DumpinError
from bot.logs import configure_logging
from bot.settings import Settings, SettingsError, load_settings

Command = Callable[[argparse.Namespace, Settings], int]

SUBCOMMANDS = (
    "db",
    "bot",
    "stats",
    "classify",
    "search",
    "evaluate",
    "train",
    "backup",
    "restore",
    "harvest",
    "purge",
    "retrain",
    "models",
    "scheduler",
)
"""Modules of :mod:`bot.cli` that each add one subcommand through ``register(subparsers)``."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="dumpin", description="Dumpin: which bin does this go in? (Telegram bot and tools)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        import_module(f"bot.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; errors print one line and give a non-zero exit code."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings)
        command: Command = args.func
        return command(args, settings)
    except (SettingsError, DumpinError) as exc:
        print(f"dumpin: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, SettingsError) else 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        logging.getLogger("dumpin").debug("command failed", exc_info=True)
        print(f"dumpin: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
