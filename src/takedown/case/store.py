"""The operation's relational store, opened for the case's tables.

The case keeps what a court may ask about later (the date each seizure was
first verified, every sending of the notice) in the same database as the
tracker and the console (``[database] url``; ``tracker.sqlite`` in the
storage directory by default), built by the tracker's migrations.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Engine

from takedown.operation import Operation
from takedown.tracker import db

__all__ = ["case_database"]


@contextlib.contextmanager
def case_database(op: Operation) -> Iterator[Engine]:
    """The operation's database at the current schema (an older one is
    refused with the command that moves it: ``takedown db upgrade``)."""
    engine = db.open_engine(db.resolve_url(op.database.url or None, op.storage))
    try:
        db.ensure_current(engine)
        yield engine
    finally:
        engine.dispose()
