"""``dumpin models`` lists the recorded models; ``dumpin models activate ID`` rolls back."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from db.models import Model
from ml.registry import list_models, promote
from scheduler.jobs import run_command, with_sessions
from scheduler.lock import models_lock


def register(subparsers: Any) -> None:
    """Add ``models`` with its optional ``activate`` action."""
    parser = subparsers.add_parser(
        "models", help="list the trained models; 'activate ID' makes one active (rollback)"
    )
    parser.set_defaults(func=_list)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    activate = actions.add_parser("activate", help="make model ID the active one")
    activate.add_argument("id", type=int, help="the model id (see 'dumpin models')")
    activate.set_defaults(func=_activate)


def _list(_args: argparse.Namespace, settings: Settings) -> int:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> list[Model]:
        async with sessions() as session:
            return await list_models(session)

    rows = run_command(settings, "models", lambda: with_sessions(settings, work))
    if not rows:
        print("no model recorded yet (the shipped model in ml/models is in use)")
    for row in rows:
        accuracy, f1 = row.metrics.get("accuracy"), row.metrics.get("macro_f1")
        scores = f"accuracy {accuracy:.4f}, macro-F1 {f1:.4f}" if accuracy is not None else "-"
        print(
            f"{row.id:>4}  {row.status:<9}  {row.version:<28}  {row.created_at:%Y-%m-%d %H:%M}  "
            f"{scores}"
        )
    return 0


def _activate(args: argparse.Namespace, settings: Settings) -> int:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> str:
        async with models_lock(settings.db_url), sessions() as session:
            row = await promote(session, args.id)
            await session.commit()
            return row.version

    version = run_command(settings, "models", lambda: with_sessions(settings, work))
    print(
        f"model {version} (id {args.id}) is active; the bot switches to it within "
        f"{settings.model_poll_seconds:.0f} s"
    )
    return 0
