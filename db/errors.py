"""Database failures worded for the operator, shared by the command line and the jobs, and
told apart: an outage (the database cannot be reached for now) or a fault in the bot."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.errors import DumpinError

MYSQL_OUTAGES = frozenset(
    {
        # cannot connect: server down or unreachable, too many connections, account locked
        # or refused (a password changed under a running bot)
        1040, 1042, 1043, 1045, 1129, 1130, 2002, 2003, 2005, 3118, 4151,
        # connection lost: server gone, restarting, killed the connection, network errors,
        # idle timeout
        1053, 1152, 1158, 1159, 1160, 1161, 1927, 2006, 2013, 2055, 4031,
        # a lock held elsewhere for longer than innodb_lock_wait_timeout
        1205,
    }
)  # fmt: skip
"""MySQL/MariaDB error codes that mean "not reachable for now"."""
SQLITE_OUTAGES = frozenset({5, 6, 14})
"""SQLite's BUSY and LOCKED ("database is locked": a writer held the lock past the busy
timeout) and CANTOPEN (the file cannot be opened)."""


def database_error(exc: DBAPIError) -> DumpinError:
    """A one-line error for a database failure, with no URL or password in it."""
    reason = str(exc.orig).splitlines()[0] if exc.orig is not None else type(exc).__name__
    return DumpinError(f"database error: {reason}")


def schema_missing(exc: DBAPIError) -> bool:
    """Whether the failure is a table not created yet (``dumpin db upgrade`` not run)."""
    return "no such table" in str(exc) or "doesn't exist" in str(exc)


def reading_error(exc: DBAPIError) -> DumpinError:
    """A failure to read reference data: a schema or seed not yet made says how to make it."""
    if schema_missing(exc):
        return DumpinError(
            "the database is not initialised: run `dumpin db upgrade && dumpin db seed`"
        )
    return database_error(exc)


def is_outage(error: BaseException | None) -> bool:
    """Whether ``error`` says the database cannot be reached right now (trying again later
    may work): a lost or refused connection, a lock or pool wait that timed out. Anything
    else (a missing table, a constraint, bad SQL) is a fault to fix, not an outage."""
    if isinstance(error, (PoolTimeout, DisconnectionError)):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    orig = error.orig
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        return sqlite_code & 0xFF in SQLITE_OUTAGES
    code = next(iter(getattr(orig, "args", ())), None)
    return isinstance(code, int) and code in MYSQL_OUTAGES
