"""``dumpin classify IMAGE...``: material and container for image files."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError, ProgrammingError

from bot.errors import DumpinError
from bot.settings import Settings
from db import geo
from db.categories import CLASSES
from db.disposal import Disposal, load_rulebook
from db.errors import reading_error
from db.session import create_engine, session_factory
from ml.classifier import Classifier, Prediction
from ml.image_io import UnsupportedImage
from ml.memory_sync import load_memory


def register(subparsers: Any) -> None:
    """Add ``classify``."""
    parser = subparsers.add_parser("classify", help="classify image files")
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    parser.add_argument("--department", help="département code, name or postal code")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--lang", choices=("fr", "en"), default="fr", help="language of the rule")
    parser.add_argument(
        "--model", type=Path, help="model folder (default: the shipped model, ml/models)"
    )
    parser.set_defaults(func=_run)


def department_code(text: str | None) -> str | None:
    """The INSEE code of the département ``text`` names; an unknown or ambiguous one stops."""
    if text is None:
        return None
    found = geo.resolve_department(text)
    if len(found) != 1:
        names = ", ".join(f"{d.code} {d.name}" for d in found[:5])
        raise DumpinError(
            f"unknown département '{text}'" if not found else f"'{text}' is ambiguous: {names}"
        )
    return found[0].code


async def _rules(settings: Settings, department: str | None, language: str) -> dict[str, Disposal]:
    engine = create_engine(settings.db_url)
    try:
        async with session_factory(engine)() as session:
            book = await load_rulebook(session)
        rules = {c: book.disposal(c, department, language) for c in CLASSES}
    except (OperationalError, ProgrammingError) as exc:
        raise reading_error(exc) from None
    finally:
        await engine.dispose()
    if any(rule is None for rule in rules.values()):
        raise DumpinError("sorting rules are missing: run `dumpin db seed`")
    return {c: r for c, r in rules.items() if r is not None}


def _line(path: Path, prediction: Prediction, rule: Disposal, as_json: bool) -> str:
    if as_json:
        return json.dumps(
            {
                "file": str(path),
                "label": prediction.label,
                "confidence": round(prediction.confidence, 4),
                "top": [{"label": lbl, "confidence": round(p, 4)} for lbl, p in prediction.top],
                "container": rule.container,
                "instruction": rule.instruction,
            },
            ensure_ascii=False,
        )
    return f"{path}: {prediction.label} ({prediction.confidence:.0%}) -> {rule.container}"


def _run(args: argparse.Namespace, settings: Settings) -> int:
    department = department_code(args.department)
    rules = asyncio.run(_rules(settings, department, args.lang))
    classifier = Classifier.load(
        args.model or settings.shipped_model_dir, settings.memory_max_entries
    )
    asyncio.run(load_memory(settings.db_url, classifier))
    failed = 0
    for path in args.images:
        try:
            prediction = classifier.classify_bytes(path.read_bytes())
        except (OSError, UnsupportedImage) as exc:
            failed += 1
            reason = exc.reason if isinstance(exc, UnsupportedImage) else exc.strerror or str(exc)
            print(
                json.dumps({"file": str(path), "error": reason})
                if args.json
                else f"{path}: error: {reason}"
            )
            continue
        print(_line(path, prediction, rules[prediction.label], args.json))
    return 1 if failed else 0
