"""The console's tables (SQLAlchemy Core), in the operation's relational
store beside the tracker's (``[database] url``; SQLite by default).

The tracker's Alembic migrations build them too (revision 0003), so one
``takedown db upgrade`` moves the whole database; ``tests/test_tracker_store.py``
compares a migrated database with the union of both metadata objects.
Times are Unix seconds, as in the tracker's tables.

Nothing secret is stored in clear: passwords are Argon2id hashes, a session
row is keyed by the SHA-256 of the token its cookie carries, an API key row
holds the SHA-256 of a secret the server derives from its key file
(:mod:`takedown.console.apikeys`).
"""

from __future__ import annotations

from sqlalchemy import (BigInteger, Boolean, Column, ForeignKey, Index, Integer, MetaData, String, Table, Text,
                        UniqueConstraint)

from takedown.tracker.schema import ID

__all__ = ["metadata", "partners", "users", "claims", "sessions", "login_failures", "api_keys", "api_nonces",
           "audit", "deliveries", "ROLES", "CLAIM_KINDS", "CLAIM_STATUSES", "PARTNER_KINDS"]

ROLES = ("operator", "partner")
CLAIM_KINDS = ("asn", "cidr", "country", "domain")
CLAIM_STATUSES = ("pending", "approved", "rejected")
PARTNER_KINDS = ("cert", "isp", "hosting", "other")

metadata = MetaData()

partners = Table(
    "partners", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("contact", Text, nullable=False),  # a mail address, or ''
    Column("created", BigInteger, nullable=False),
)

users = Table(
    "users", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("partner_id", ID, ForeignKey("partners.id", ondelete="CASCADE")),  # NULL for operators
    Column("disabled", Boolean, nullable=False),
    Column("must_change", Boolean, nullable=False),  # a one-time password: change it at first login
    Column("failures", Integer, nullable=False),  # failed logins since the last success
    Column("locked_until", BigInteger),
    Column("created", BigInteger, nullable=False),
    Column("last_login", BigInteger),
    Index("ix_users_partner_id", "partner_id"),
)

claims = Table(
    "claims", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("partner_id", ID, ForeignKey("partners.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("value", String(255), nullable=False),  # canonical: '64500', '192.0.2.0/24', 'at', 'example.net'
    Column("status", String(16), nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("decided_by", String(64)),
    Column("decided_at", BigInteger),
    Column("note", Text, nullable=False),  # why: 'inside approved AS64500', a rejection's reason
    UniqueConstraint("partner_id", "kind", "value", name="uq_claims_partner_kind_value"),
    Index("ix_claims_status", "status"),
)

sessions = Table(
    "sessions", metadata,
    Column("id", String(64), primary_key=True),  # sha256 hex of the cookie's token
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("seen", BigInteger, nullable=False),
    Column("expires", BigInteger, nullable=False),
    Column("address", String(64), nullable=False),
    Index("ix_sessions_user_id", "user_id"),
)

login_failures = Table(
    "login_failures", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("address", String(64), nullable=False),
    Column("at", BigInteger, nullable=False),
    Index("ix_login_failures_address_at", "address", "at"),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("key_id", String(32), nullable=False, unique=True),  # public, sent with every request
    Column("partner_id", ID, ForeignKey("partners.id", ondelete="CASCADE"), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("label", Text, nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("last_used", BigInteger),
    Column("revoked", BigInteger),
    Index("ix_api_keys_partner_id", "partner_id"),
)

api_nonces = Table(
    "api_nonces", metadata,
    Column("signature", String(64), primary_key=True),  # a request's signature, seen once within the window
    Column("expires", BigInteger, nullable=False),
    Index("ix_api_nonces_expires", "expires"),
)

audit = Table(
    "audit", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(128), nullable=False),  # a username, 'cli:<unix user>', 'api:<key id>'
    Column("partner_id", ID),  # the actor's partner, NULL for operators and the CLI (no FK: audit outlives it)
    Column("action", String(32), nullable=False),
    Column("target", Text, nullable=False),
    Column("detail", Text, nullable=False),  # JSON object
    Column("address", String(64), nullable=False),  # the client's address, '' from the CLI
    Index("ix_audit_at", "at"),
    Index("ix_audit_action", "action"),
)

deliveries = Table(
    "deliveries", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("day", String(10), nullable=False),  # the events' UTC day, ISO
    Column("operation", String(64), nullable=False),
    Column("owner", String(64), nullable=False),  # 'as64500', 'de', 'cidr-192_0_2_0_24'
    Column("address", Text, nullable=False),
    Column("organisation", Text, nullable=False),
    Column("files", Text, nullable=False),  # JSON array of file names
    Column("events", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # 'sent', 'failed', 'written' (no SMTP relay given)
    Column("detail", Text, nullable=False),
    Column("at", BigInteger, nullable=False),
    Index("ix_deliveries_day", "day"),
    Index("ix_deliveries_at", "at"),
)
