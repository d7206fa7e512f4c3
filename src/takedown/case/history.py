"""When each seized name was first verified (``takedown case verify``), in
the operation's relational store beside the tracker's and the console's
tables (``[database] url``; SQLite by default).

The table is built by the tracker's migration 0004, so one ``takedown db
upgrade`` moves the whole database; ``tests/test_tracker_store.py`` compares
a migrated database with this metadata too. Times are Unix seconds, as in
the tracker's tables. A name keeps the date it was first verified even if a
later run finds it not verified: a court asks when the seizure took effect,
and a later change is the next run's finding, not a rewrite of history.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import BigInteger, Column, Engine, MetaData, String, Table, select

from takedown.tracker import db

__all__ = ["metadata", "verifications", "record_verified", "first_verified"]

metadata = MetaData()

verifications = Table(
    "seizure_verifications", metadata,
    Column("name", String(253), primary_key=True),  # RFC 1035 2.3.4: 253 characters without the root dot
    Column("first_verified", BigInteger, nullable=False),
    Column("checks", String(16), nullable=False),  # what verified it first: "dns", "rdap" or "dns+rdap"
)


def record_verified(engine: Engine, names: Iterable[str], checks: str, now: int) -> dict[str, int]:
    """Record ``now`` as the first verification of every name in ``names``
    not recorded yet; the first verification (Unix seconds) of each of them."""
    wanted = list(dict.fromkeys(names))
    first: dict[str, int] = {}
    with db.errors(str(engine.url)), engine.begin() as conn:
        for i in range(0, len(wanted), 500):  # bound the IN list (SQLite's variable limit)
            chunk = wanted[i:i + 500]
            rows = conn.execute(select(verifications.c.name, verifications.c.first_verified)
                                .where(verifications.c.name.in_(chunk)))
            first.update((r.name, r.first_verified) for r in rows)
        new = [{"name": n, "first_verified": now, "checks": checks} for n in wanted if n not in first]
        if new:
            conn.execute(verifications.insert(), new)
        first.update((r["name"], now) for r in new)
    return first


def first_verified(engine: Engine) -> dict[str, int]:
    """Every recorded name and its first verification (Unix seconds)."""
    with db.errors(str(engine.url)), engine.connect() as conn:
        return {r.name: r.first_verified for r in conn.execute(select(verifications))}
