"""Recording what ``takedown notify`` sent to whom, into the operation's
database (the console's ``deliveries`` table), for the notifications page.

The CLI hands :func:`recorder`'s callback to :func:`takedown.analytics.notify.notify`;
analytics knows nothing of the console (layers).
"""

from __future__ import annotations

from datetime import date

from takedown.analytics.notify import Delivery, Record
from takedown.console.store import ConsoleStore
from takedown.operation import Operation
from takedown.tracker.db import resolve_url

__all__ = ["recorder"]

OWNER_MAX = 64


def recorder(op: Operation, day: date, *, db: str | None = None) -> tuple[ConsoleStore, Record]:
    """(the store, to close after the run; the callback recording each
    delivery of ``day``: owners, address, organisation, files, events, status)."""
    store = ConsoleStore.open(resolve_url(db or op.database.url or None, op.storage))

    def record(d: Delivery, status: str, detail: str) -> None:
        owners = ", ".join(sorted({f.owner for f in d.files}))
        if len(owners) > OWNER_MAX:  # the column's width; the files name every owner anyway
            owners = owners[:OWNER_MAX - 3] + "..."
        store.record_delivery(day=day.isoformat(), operation=op.name, owner=owners, address=d.address,
                              organisation=d.organisation, files=list(d.attachments), events=d.events,
                              status=status, detail=detail)

    return store, record
