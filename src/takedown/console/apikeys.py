"""API keys of partners: made, listed, revoked and checked.

A key is a public ``key_id`` (16 hexadecimal digits, sent with every
request) and a secret the server *derives* from the console key::

    secret = HMAC-SHA256(console key, "api:" + key_id)        (hex)

The database keeps only ``sha256(secret)``. The secret is shown once, when
the key is made; a database leak alone (a backup, a replica) lets no one
sign, and replacing the console key (:mod:`takedown.console.secret`)
invalidates every key at once. To check a request the server looks the
key id up (not revoked, its partner still there), derives the secret again,
compares its hash with the stored one (so a key id revoked and made again by
hand cannot come back with the old secret) and then the request's HMAC
(:func:`verify`). Requests are signed as Shadowserver's Reports API signs
them (https://github.com/The-Shadowserver-Foundation/api_utils): an
HMAC-SHA256 of the raw body in the ``HMAC2`` header.

A signature is accepted once: it is remembered in ``api_nonces`` until the
request's timestamp leaves the window (:func:`remember`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as _random
import time
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from takedown.console.schema import api_keys as AK
from takedown.console.schema import api_nonces as AN
from takedown.console.schema import partners as PA
from takedown.console.secret import Secret
from takedown.console.store import ConsoleStore
from takedown.errors import ConsoleError

__all__ = ["ApiKey", "create", "revoke", "keys", "verify", "remember", "signature", "derive_secret"]

KEY_ID_BYTES = 8  # 16 hexadecimal digits: public, only needs to be unique


def _now() -> int:
    return int(time.time())


@dataclass(frozen=True)
class ApiKey:
    id: int
    key_id: str
    partner_id: int
    partner: str
    label: str
    created: int
    created_by: str
    last_used: int | None
    revoked: int | None


def derive_secret(secret: Secret, key_id: str) -> str:
    return secret.derive("api:" + key_id).hex()


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def signature(secret: str, body: bytes) -> str:
    """The ``HMAC2`` header of a request: hex HMAC-SHA256 of its raw body
    with the key's secret (as text, the way the client holds it)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _label(label: str) -> str:
    label = (label or "").strip()
    if not 1 <= len(label) <= 128 or any(c in label for c in "\r\n\t"):
        raise ConsoleError(f"API key: label {label!r} must be 1-128 characters on one line")
    return label


def _key(r) -> ApiKey:
    return ApiKey(r.id, r.key_id, r.partner_id, r.partner_name, r.label, r.created, r.created_by, r.last_used,
                  r.revoked)


def _query():
    return select(AK, PA.c.name.label("partner_name")).select_from(AK.join(PA, AK.c.partner_id == PA.c.id))


def create(store: ConsoleStore, secret: Secret, partner_id: int, label: str, *, by: str,
           address: str = "") -> tuple[ApiKey, str]:
    """A new key of the partner: (the key, its secret); the secret is not
    kept and cannot be shown again."""
    label = _label(label)
    p = store.partner(partner_id)
    now = _now()
    for _ in range(3):  # a clash of 64 random bits: practically never, but never a 500 either
        key_id = _random.token_hex(KEY_ID_BYTES)
        plain = derive_secret(secret, key_id)
        try:
            with store._begin() as conn:
                conn.execute(insert(AK).values(key_id=key_id, partner_id=p.id, secret_hash=_hash(plain), label=label,
                                               created=now, created_by=by, last_used=None, revoked=None))
                store._audit(conn, by, "apikey-create", key_id, {"partner": p.name, "label": label}, address, p.id)
        except IntegrityError:
            continue
        return key(store, key_id), plain
    raise ConsoleError("API key: could not draw an unused key id")


def key(store: ConsoleStore, key_id: str) -> ApiKey:
    with store._begin() as conn:
        r = conn.execute(_query().where(AK.c.key_id == key_id)).first()
    if r is None:
        raise ConsoleError(f"API key: no key {key_id!r}")
    return _key(r)


def keys(store: ConsoleStore, partner_id: int | None = None) -> list[ApiKey]:
    q = _query().order_by(PA.c.name, AK.c.created, AK.c.id)
    if partner_id is not None:
        q = q.where(AK.c.partner_id == partner_id)
    with store._begin() as conn:
        return [_key(r) for r in conn.execute(q)]


def revoke(store: ConsoleStore, key_id: str, *, by: str, partner_id: int | None = None, address: str = "") -> ApiKey:
    """Revoke a key (``partner_id``: only if it is that partner's; another
    partner's key is 'no key', as it would be on the partner's page)."""
    k = key(store, key_id)
    if partner_id is not None and k.partner_id != partner_id:
        raise ConsoleError(f"API key: no key {key_id!r}")
    if k.revoked is None:
        with store._begin() as conn:
            conn.execute(update(AK).where(AK.c.id == k.id).values(revoked=_now()))
            store._audit(conn, by, "apikey-revoke", key_id, {"partner": k.partner, "label": k.label}, address,
                         k.partner_id)
    return key(store, key_id)


_DUMMY = "0" * 64


def verify(store: ConsoleStore, secret: Secret, key_id: object, body: bytes, sent: str | None) -> ApiKey | None:
    """The live key that signed ``body`` with ``sent`` (the ``HMAC2``
    header), or None. Unknown key, revoked key, stale secret and bad
    signature are all None and cost the same HMAC, so an answer's timing does
    not tell which key ids exist."""
    r = None
    if isinstance(key_id, str) and 0 < len(key_id) <= 32:
        with store._begin() as conn:
            r = conn.execute(_query().where(AK.c.key_id == key_id, AK.c.revoked.is_(None))).first()
    plain = derive_secret(secret, key_id if r is not None else "-")
    expected = signature(plain, body)
    good_hash = hmac.compare_digest(_hash(plain), r.secret_hash if r is not None else _DUMMY)
    good_sig = hmac.compare_digest(expected, (sent or "").strip().lower()) and bool(sent)
    return _key(r) if r is not None and good_hash and good_sig else None


def remember(store: ConsoleStore, k: ApiKey, sent: str, *, expires: int, now: int) -> bool:
    """Record a signature as used until ``expires`` (and the key as used
    now); False if it was used already (a replayed request). Expired
    signatures are dropped in the same transaction."""
    try:
        with store._begin() as conn:
            conn.execute(delete(AN).where(AN.c.expires < now))
            conn.execute(insert(AN).values(signature=sent.strip().lower(), expires=expires))
            conn.execute(update(AK).where(AK.c.id == k.id).values(last_used=now))
    except IntegrityError:
        return False
    return True
