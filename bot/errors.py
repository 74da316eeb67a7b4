"""Errors worded for the operator: the CLI prints them as one line."""


class DumpinError(Exception):
    """A failure the operator can act on (bad argument, missing file, unreachable database)."""
