"""Every sending of the notice to the defendants (``takedown case notice
--smtp``), in the operation's relational store beside the seizures' first
verification (``[database] url``; SQLite by default).

A court that allowed service by e-mail asks whom the notice was sent to,
when, and whether the relay took it: each attempt is a row, failed ones
included, never rewritten. ``sendings.csv`` beside the package is an export
of these rows for the case, written again after each run.

**The same notice** is the same published notice page, byte for byte: the
SHA-256 of ``site/index.html``, which holds the case's caption, the notice
and every published document's SHA-256. Sending it again skips each address
the relay already accepted it for (a rerun after a failure sends the rest);
a notice whose page changed (a new pleading published) is a new notice and
goes to everyone again. Addresses compare case-insensitively, as the
recipients list does. The table is built by the tracker's migration 0005.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import BigInteger, Column, Engine, Index, Integer, MetaData, String, Table, Text, func, select

from takedown.tracker import db

__all__ = ["SENT", "FAILED", "FIELDS", "Sending", "metadata", "notice_sendings", "record", "sent_to", "export_csv"]

SENT, FAILED = "sent", "failed"
FIELDS = ("time", "address", "message_id", "status", "detail", "notice")

metadata = MetaData()

notice_sendings = Table(
    "notice_sendings", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notice", String(64), nullable=False),  # SHA-256 hex of the notice page
    Column("case_number", String(200), nullable=False),
    Column("time", BigInteger, nullable=False),  # Unix seconds, as the tracker's tables
    Column("address", String(320), nullable=False),  # RFC 5321 4.5.3.1: 64 + @ + 255
    Column("message_id", String(998), nullable=False),  # "" when the mail was not handed over
    Column("status", String(16), nullable=False),  # sent or failed
    Column("detail", Text, nullable=False),
    Index("ix_notice_sendings_notice_address", "notice", "address"),
)


@dataclass(frozen=True)
class Sending:
    time: int
    address: str
    message_id: str
    status: str
    detail: str
    notice: str
    case_number: str


def record(engine: Engine, sendings: Iterable[Sending]) -> None:
    rows = [vars(s) for s in sendings]
    if rows:
        with db.errors(str(engine.url)), engine.begin() as conn:
            conn.execute(notice_sendings.insert(), rows)


def sent_to(engine: Engine, notice: str) -> set[str]:
    """The addresses (lowercased) the relay accepted ``notice`` for."""
    q = (select(func.lower(notice_sendings.c.address)).distinct()
         .where(notice_sendings.c.notice == notice, notice_sendings.c.status == SENT))
    with db.errors(str(engine.url)), engine.connect() as conn:
        return {r[0] for r in conn.execute(q)}


def export_csv(engine: Engine, case_number: str) -> str:
    """Every sending of the case's notices, oldest first, as CSV (``FIELDS``)."""
    q = (select(notice_sendings).where(notice_sendings.c.case_number == case_number)
         .order_by(notice_sendings.c.id))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(FIELDS)
    with db.errors(str(engine.url)), engine.connect() as conn:
        for r in conn.execute(q):
            when = datetime.fromtimestamp(r.time, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            w.writerow([when, r.address, r.message_id, r.status, r.detail, r.notice])
    return buf.getvalue()
