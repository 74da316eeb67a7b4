"""Database failures worded for the operator, shared by the command line and the jobs."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from bot.errors import DumpinError


def database_error(exc: DBAPIError) -> DumpinError:
    """A one-line error for a database failure, with no URL or password in it."""
    reason = str(exc.orig).splitlines()[0] if exc.orig is not None else type(exc).__name__
    return DumpinError(f"database error: {reason}")


def reading_error(exc: DBAPIError) -> DumpinError:
    """A failure to read reference data: a schema or seed not yet made says how to make it."""
    if "no such table" in str(exc) or "doesn't exist" in str(exc):
        return DumpinError(
            "the database is not initialised: run `dumpin db upgrade && dumpin db seed`"
        )
    return database_error(exc)
