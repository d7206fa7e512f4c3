"""The console's store: partners, users, claims, sessions, the audit log and
the notifications sent, in the operation's relational database
(:mod:`takedown.console.schema`; SQLite or PostgreSQL through
:mod:`takedown.tracker.db`, which migrates and checks it).

    with ConsoleStore.open(url) as cs:
        pid = cs.add_partner("CERT-EX", "cert", "abuse@cert.example", by="cli:root")
        cs.add_user("alice", "a long password 1", role="partner", partner_id=pid, by="cli:root")

Every change that matters to an auditor (a user added, a claim approved, a
password changed) writes an audit row in the same transaction as the change.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from takedown.console import passwords
from takedown.console.claims import parse_claim
from takedown.console.schema import PARTNER_KINDS, ROLES
from takedown.console.schema import audit as AU
from takedown.console.schema import claims as CL
from takedown.console.schema import deliveries as DE
from takedown.console.schema import partners as PA
from takedown.console.schema import sessions as SE
from takedown.console.schema import users as US
from takedown.errors import ConsoleError, TrackerError
from takedown.tracker import db

__all__ = ["ConsoleStore", "User", "Partner", "Claim", "Session", "AuditEntry", "token_hash"]

_USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-@")


def token_hash(token: str) -> str:
    """The key a session (or any bearer token) is stored under: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Partner:
    id: int
    name: str
    kind: str
    contact: str
    created: int


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str  # 'operator' | 'partner'
    partner_id: int | None
    partner: str | None  # the partner's name
    disabled: bool
    must_change: bool
    failures: int
    locked_until: int | None
    last_login: int | None

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"


@dataclass(frozen=True)
class Claim:
    id: int
    partner_id: int
    kind: str
    value: str
    status: str
    requested_by: str
    requested_at: int
    decided_by: str | None
    decided_at: int | None
    note: str


@dataclass(frozen=True)
class Session:
    id: str  # the token's hash
    user: User
    csrf: str
    created: int
    expires: int


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: int
    actor: str
    partner_id: int | None
    action: str
    target: str
    detail: dict
    address: str


def check_username(name: str) -> str:
    n = (name or "").strip().lower()
    if not 1 <= len(n) <= 64 or not set(n) <= _USERNAME_CHARS:
        raise ConsoleError(f"username: {name!r} must be 1-64 of a-z, 0-9, '.', '_', '-', '@'")
    return n


class ConsoleStore:
    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time):
        self.engine = engine
        self.url = str(engine.url)
        #: every time the store writes or compares (sessions, audit rows, claims):
        #: the console context's clock, so that tests move time instead of sleeping
        self.clock = clock

    def now(self) -> int:
        return int(self.clock())

    @classmethod
    def open(cls, url: str) -> "ConsoleStore":
        try:
            engine = db.open_engine(url)
            db.ensure_current(engine)
        except TrackerError as e:
            raise ConsoleError(str(e)) from None
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "ConsoleStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _begin(self):
        return _Tx(self)

    # --- audit ----------------------------------------------------------
    def _audit(self, conn, actor: str, action: str, target: str = "", detail: dict | None = None, address: str = "",
               partner_id: int | None = None, at: int | None = None) -> None:
        conn.execute(insert(AU).values(at=at or self.now(), actor=actor, partner_id=partner_id, action=action,
                                       target=target, detail=json.dumps(detail or {}, sort_keys=True),
                                       address=address))

    def audit(self, actor: str, action: str, target: str = "", detail: dict | None = None, address: str = "",
              partner_id: int | None = None) -> None:
        with self._begin() as conn:
            self._audit(conn, actor, action, target, detail, address, partner_id)

    @staticmethod
    def _audit_filter(q, action: str | None, actor: str | None, since: int | None, until: int | None):
        if action:
            q = q.where(AU.c.action == action)
        if actor:
            q = q.where(AU.c.actor == actor)
        if since is not None:
            q = q.where(AU.c.at >= since)
        if until is not None:
            q = q.where(AU.c.at < until)
        return q

    def audit_log(self, *, limit: int = 100, offset: int = 0, action: str | None = None,
                  actor: str | None = None, since: int | None = None, until: int | None = None) -> list[AuditEntry]:
        """Audit rows, newest first; ``since``/``until`` bound ``at`` (Unix
        seconds, ``until`` excluded)."""
        q = self._audit_filter(select(AU).order_by(AU.c.id.desc()), action, actor, since, until)
        with self._begin() as conn:
            return [AuditEntry(r.id, r.at, r.actor, r.partner_id, r.action, r.target, json.loads(r.detail), r.address)
                    for r in conn.execute(q.limit(limit).offset(offset))]

    def audit_count(self, *, action: str | None = None, actor: str | None = None, since: int | None = None,
                    until: int | None = None) -> int:
        q = self._audit_filter(select(func.count()).select_from(AU), action, actor, since, until)
        with self._begin() as conn:
            return conn.execute(q).scalar_one()

    def audit_actions(self) -> list[str]:
        """The actions the log holds, for the page's filter."""
        with self._begin() as conn:
            return list(conn.execute(select(AU.c.action).distinct().order_by(AU.c.action)).scalars())

    # --- partners -------------------------------------------------------
    def add_partner(self, name: str, kind: str, contact: str = "", *, by: str, address: str = "") -> int:
        name = (name or "").strip()
        if not 1 <= len(name) <= 128 or any(c in name for c in "\r\n\t"):
            raise ConsoleError(f"partner: name {name!r} must be 1-128 characters on one line")
        if kind not in PARTNER_KINDS:
            raise ConsoleError(f"partner: kind must be one of {', '.join(PARTNER_KINDS)}, not {kind!r}")
        try:
            with self._begin() as conn:
                pid = conn.execute(insert(PA).values(name=name, kind=kind, contact=contact.strip(),
                                                     created=self.now())).inserted_primary_key[0]
                self._audit(conn, by, "partner-add", name, {"kind": kind, "contact": contact}, address)
        except IntegrityError:
            raise ConsoleError(f"partner: {name!r} exists already") from None
        return int(pid)

    def partner(self, ref: int | str) -> Partner:
        col = PA.c.id if isinstance(ref, int) else PA.c.name
        with self._begin() as conn:
            r = conn.execute(select(PA).where(col == ref)).first()
        if r is None:
            raise ConsoleError(f"partner: no partner {ref!r}")
        return Partner(r.id, r.name, r.kind, r.contact, r.created)

    def partners(self) -> list[Partner]:
        with self._begin() as conn:
            return [Partner(r.id, r.name, r.kind, r.contact, r.created)
                    for r in conn.execute(select(PA).order_by(PA.c.name))]

    # --- users ----------------------------------------------------------
    def add_user(self, username: str, password: str, *, role: str, partner_id: int | None = None,
                 must_change: bool = True, by: str, address: str = "") -> int:
        username = check_username(username)
        if role not in ROLES:
            raise ConsoleError(f"user: role must be one of {', '.join(ROLES)}, not {role!r}")
        if (role == "partner") != (partner_id is not None):
            raise ConsoleError("user: a partner's user needs its partner; an operator has none")
        if partner_id is not None:
            self.partner(partner_id)
        hashed = passwords.hash_password(password)
        try:
            with self._begin() as conn:
                uid = conn.execute(insert(US).values(
                    username=username, password_hash=hashed, role=role, partner_id=partner_id, disabled=False,
                    must_change=must_change, failures=0, locked_until=None, created=self.now(),
                    last_login=None)).inserted_primary_key[0]
                self._audit(conn, by, "user-add", username, {"role": role, "partner_id": partner_id}, address)
        except IntegrityError:
            raise ConsoleError(f"user: {username!r} exists already") from None
        return int(uid)

    def _user_query(self):
        return select(US, PA.c.name.label("partner_name")).select_from(US.outerjoin(PA, US.c.partner_id == PA.c.id))

    @staticmethod
    def _user(r) -> User:
        return User(r.id, r.username, r.role, r.partner_id, r.partner_name, bool(r.disabled), bool(r.must_change),
                    r.failures, r.locked_until, r.last_login)

    def user(self, ref: int | str) -> User:
        with self._begin() as conn:
            cond = US.c.id == ref if isinstance(ref, int) else US.c.username == check_username(ref)
            r = conn.execute(self._user_query().where(cond)).first()
        if r is None:
            raise ConsoleError(f"user: no user {ref!r}")
        return self._user(r)

    def users(self, partner_id: int | None = None) -> list[User]:
        q = self._user_query().order_by(US.c.username)
        if partner_id is not None:
            q = q.where(US.c.partner_id == partner_id)
        with self._begin() as conn:
            return [self._user(r) for r in conn.execute(q)]

    def password_hash(self, user_id: int) -> str | None:
        with self._begin() as conn:
            return conn.execute(select(US.c.password_hash).where(US.c.id == user_id)).scalar()

    def set_password(self, ref: int | str, password: str, *, must_change: bool, by: str, address: str = "") -> None:
        u = self.user(ref)
        hashed = passwords.hash_password(password)
        with self._begin() as conn:
            conn.execute(update(US).where(US.c.id == u.id).values(password_hash=hashed, must_change=must_change,
                                                                  failures=0, locked_until=None))
            conn.execute(delete(SE).where(SE.c.user_id == u.id))  # every session of the old password ends
            self._audit(conn, by, "passwd", u.username, {"must_change": must_change}, address, u.partner_id)

    def set_disabled(self, ref: int | str, disabled: bool, *, by: str, address: str = "") -> None:
        u = self.user(ref)
        with self._begin() as conn:
            values = {"disabled": disabled}
            if not disabled:  # enabling also lifts a lock-out: the operator has looked at the account
                values.update(failures=0, locked_until=None)
            conn.execute(update(US).where(US.c.id == u.id).values(**values))
            if disabled:
                conn.execute(delete(SE).where(SE.c.user_id == u.id))
            self._audit(conn, by, "disable" if disabled else "enable", u.username, {}, address, u.partner_id)

    # --- claims ---------------------------------------------------------
    @staticmethod
    def _claim(r) -> Claim:
        return Claim(r.id, r.partner_id, r.kind, r.value, r.status, r.requested_by, r.requested_at, r.decided_by,
                     r.decided_at, r.note)

    def add_claim(self, partner_id: int, kind: str, value: str, *, by: str, address: str = "",
                  status: str = "pending", note: str = "") -> Claim:
        """A new claim, pending unless ``status`` says otherwise (an operator's
        own entry, or one :mod:`takedown.console.scope` finds already covered)."""
        kind, value = parse_claim(kind, value)
        p = self.partner(partner_id)
        now = self.now()
        decided = status != "pending"
        try:
            with self._begin() as conn:
                cid = conn.execute(insert(CL).values(
                    partner_id=p.id, kind=kind, value=value, status=status, requested_by=by, requested_at=now,
                    decided_by=by if decided else None, decided_at=now if decided else None,
                    note=note)).inserted_primary_key[0]
                self._audit(conn, by, "claim", f"{p.name} {kind} {value}", {"status": status, "note": note},
                            address, p.id)
        except IntegrityError:
            raise ConsoleError(f"claim: {p.name} has already claimed {kind} {value}") from None
        return self.claim(int(cid))

    def claim(self, claim_id: int) -> Claim:
        with self._begin() as conn:
            r = conn.execute(select(CL).where(CL.c.id == claim_id)).first()
        if r is None:
            raise ConsoleError(f"claim: no claim {claim_id}")
        return self._claim(r)

    def claims(self, *, partner_id: int | None = None, status: str | None = None) -> list[Claim]:
        q = select(CL).order_by(CL.c.partner_id, CL.c.kind, CL.c.value)
        if partner_id is not None:
            q = q.where(CL.c.partner_id == partner_id)
        if status is not None:
            q = q.where(CL.c.status == status)
        with self._begin() as conn:
            return [self._claim(r) for r in conn.execute(q)]

    def decide(self, claim_id: int, status: str, *, by: str, note: str = "", address: str = "") -> Claim:
        if status not in ("approved", "rejected", "pending"):
            raise ConsoleError(f"claim: status must be approved, rejected or pending, not {status!r}")
        c = self.claim(claim_id)
        with self._begin() as conn:
            conn.execute(update(CL).where(CL.c.id == c.id).values(status=status, decided_by=by, decided_at=self.now(),
                                                                  note=note))
            action = {"approved": "approve", "rejected": "reject", "pending": "reopen"}[status]
            self._audit(conn, by, action, f"claim {c.id}: {c.kind} {c.value}", {"note": note}, address,
                        c.partner_id)
        return self.claim(c.id)

    def withdraw(self, claim_id: int, *, by: str, address: str = "") -> Claim:
        """Delete a pending claim (its partner changed its mind); decided
        claims stay, for the record."""
        c = self.claim(claim_id)
        if c.status != "pending":
            raise ConsoleError(f"claim: claim {c.id} is {c.status}, only a pending claim can be withdrawn")
        with self._begin() as conn:
            conn.execute(delete(CL).where(CL.c.id == c.id))
            self._audit(conn, by, "withdraw", f"claim {c.id}: {c.kind} {c.value}", {}, address, c.partner_id)
        return c

    # --- sessions -------------------------------------------------------
    def create_session(self, user_id: int, *, address: str, lifetime: float) -> tuple[str, Session]:
        """A new session (token for the cookie, and the stored row)."""
        token = secrets.token_urlsafe(32)
        now = self.now()
        with self._begin() as conn:
            conn.execute(insert(SE).values(id=token_hash(token), user_id=user_id, csrf=secrets.token_urlsafe(32),
                                           created=now, seen=now, expires=now + int(lifetime), address=address))
        s = self.session(token, lifetime=lifetime)
        assert s is not None
        return token, s

    def session(self, token: str, *, lifetime: float, touch: bool = True) -> Session | None:
        """The live session of ``token`` (its expiry moved on by ``lifetime``
        when ``touch``); None for an unknown, expired or disabled user's one."""
        h = token_hash(token)
        now = self.now()
        with self._begin() as conn:
            r = conn.execute(select(SE).where(SE.c.id == h)).first()
            if r is None:
                return None
            if r.expires <= now:
                conn.execute(delete(SE).where(SE.c.id == h))
                return None
            u = conn.execute(self._user_query().where(US.c.id == r.user_id)).first()
            if u is None or u.disabled:
                return None
            expires = r.expires
            if touch and now - r.seen >= 60:  # one write a minute per session, not one per request
                expires = now + int(lifetime)
                conn.execute(update(SE).where(SE.c.id == h).values(seen=now, expires=expires))
        return Session(h, self._user(u), r.csrf, r.created, expires)

    def end_session(self, token_or_hash: str, *, hashed: bool = False) -> None:
        h = token_or_hash if hashed else token_hash(token_or_hash)
        with self._begin() as conn:
            conn.execute(delete(SE).where(SE.c.id == h))

    def purge_sessions(self) -> int:
        with self._begin() as conn:
            return conn.execute(delete(SE).where(SE.c.expires <= self.now())).rowcount

    # --- notifications sent ---------------------------------------------
    def record_delivery(self, *, day: str, operation: str, owner: str, address: str, organisation: str,
                        files: list[str], events: int, status: str, detail: str = "", at: int | None = None) -> None:
        with self._begin() as conn:
            conn.execute(insert(DE).values(day=day, operation=operation, owner=owner, address=address,
                                           organisation=organisation, files=json.dumps(list(files)),
                                           events=int(events), status=status, detail=detail, at=at or self.now()))

    def deliveries(self, *, limit: int = 100, offset: int = 0) -> list[dict]:
        q = select(DE).order_by(DE.c.at.desc(), DE.c.id.desc()).limit(limit).offset(offset)
        with self._begin() as conn:
            return [dict(r._mapping, files=json.loads(r.files)) for r in conn.execute(q)]

    def count(self, table) -> int:
        with self._begin() as conn:
            return conn.execute(select(func.count()).select_from(table)).scalar_one()


class _Tx:
    """``engine.begin()`` with database errors as one-line ConsoleErrors
    (an IntegrityError passes through: the caller says what it means)."""

    def __init__(self, store: ConsoleStore):
        self.store = store
        self.cm = None

    def __enter__(self):
        self.cm = self.store.engine.begin()
        try:
            return self.cm.__enter__()
        except SQLAlchemyError as e:
            self._raise(e)

    def __exit__(self, et, ev, tb) -> bool:
        try:
            self.cm.__exit__(et, ev, tb)
        except IntegrityError:
            raise
        except SQLAlchemyError as e:  # the commit failed
            self._raise(e)
        if isinstance(ev, SQLAlchemyError) and not isinstance(ev, IntegrityError):
            self._raise(ev)
        return False

    def _raise(self, e: Exception) -> None:
        try:
            with db.errors(self.store.url):
                raise e
        except TrackerError as te:
            raise ConsoleError(str(te).replace("tracker database", "database")) from None
