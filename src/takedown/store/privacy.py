"""Storing source addresses truncated or keyed-hashed (``[events] privacy``).

Some operators may not keep infected users' addresses in clear (data
protection law, a court's order). Two modes, applied by the segment writer to
each batch before it reaches the disk:

``truncate``
    ``src_ip`` keeps the network part only (IPv4 /24, IPv6 /48);
``hash``
    ``src_ip`` is not stored at all.

In both, three columns are filled from the *full* address while it is still
in memory: ``src_key`` = HMAC-SHA256(key, address) (hex, first 32 digits:
128 bits), ``src_cc`` and ``src_asn`` (the enrichment at that moment). Reports
count unique addresses by ``src_key`` (:mod:`takedown.analytics.dataset`), so
counts stay exact; the country and AS tables stay correct too. Without the
key, a hash cannot be turned back into an address by trying all 2^32 IPv4
addresses, which a plain unkeyed hash could.

The key is a file of at least 32 random bytes (``privacy_key``; by default
``{storage}/privacy.key``, created with mode 0600 on first use). Keep it with
the operation: another key gives other hashes, and unique counts across the
two would be wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from takedown.enrich.choice import make_enricher
from takedown.errors import StoreError

KEY_BYTES = 32


def load_key(path: Path, create: bool = True) -> bytes:
    """The privacy key in ``path``; created (random, mode 0600) when absent and ``create``.

    Creation is atomic (a temporary file hard-linked into place), so workers
    starting together agree on one key.
    """
    path = Path(path)
    if not path.exists() and create:
        try:
            _create_key(path)
        except OSError as exc:  # e.g. a directory the service user may not write (docs/deploy.md)
            raise StoreError(f"{path}: cannot create the privacy key: {exc.strerror or exc}") from None
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the privacy key: {exc.strerror or exc}") from None
    if len(key) < KEY_BYTES:
        raise StoreError(f"{path}: the privacy key must hold at least {KEY_BYTES} bytes, not {len(key)}")
    return key


def _create_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, os.urandom(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:  # another worker made it first: use theirs
        pass
    finally:
        tmp.unlink(missing_ok=True)


def _canonical(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr


def truncate(text: str) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network address of ``text``; None if it is not an address."""
    addr = _canonical(text)
    if addr is None:
        return None
    bits = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{bits}", strict=False).network_address)


class Pseudonymiser:
    """A batch transform (pa.Table -> pa.Table) for the segment writer."""

    def __init__(self, mode: str, key: bytes, lookup: Callable[[pa.Array], pa.Table] | None = None):
        if mode not in ("truncate", "hash"):
            raise StoreError(f"unknown privacy mode {mode!r} (expected truncate or hash)")
        self.mode = mode
        self.key = key
        self.lookup = lookup

    def keyed_hash(self, text: str) -> str | None:
        addr = _canonical(text)
        if addr is None:
            return None
        return hmac.new(self.key, addr.packed, hashlib.sha256).hexdigest()[:32]

    def __call__(self, table: pa.Table) -> pa.Table:
        if table.num_rows == 0 or "src_ip" not in table.column_names:
            return table
        col = table.column("src_ip").combine_chunks()
        if isinstance(col, pa.DictionaryArray):
            col = col.cast(pa.string())
        enc = pc.dictionary_encode(col)
        uniques = enc.dictionary.to_pylist()  # distinct addresses: per-address work happens once
        idx = enc.indices
        keys = pa.array([self.keyed_hash(u) for u in uniques], pa.string())
        if self.mode == "truncate":
            shown = pa.array([truncate(u) for u in uniques], pa.string())
        else:
            shown = pa.nulls(len(uniques), pa.string())
        if self.lookup is not None and uniques:
            info = self.lookup(enc.dictionary)
            cc, asn = info.column("cc"), info.column("asn").cast(pa.int64())
        else:
            cc, asn = pa.nulls(len(uniques), pa.string()), pa.nulls(len(uniques), pa.int64())
        out = table
        for name, values in (("src_ip", shown), ("src_key", keys), ("src_cc", cc), ("src_asn", asn)):
            if isinstance(values, pa.ChunkedArray):
                values = values.combine_chunks()
            i = out.column_names.index(name)
            out = out.set_column(i, out.schema.field(name).with_type(values.type), values.take(idx))
        return out


@lru_cache(maxsize=8)
def _cached(mode: str, key_path: Path, country: Path | None, asn: Path | None) -> Pseudonymiser:
    key = load_key(key_path)
    enricher = make_enricher(country, asn)
    return Pseudonymiser(mode, key, enricher.lookup)


def transform_for(op) -> Callable[[pa.Table], pa.Table] | None:
    """The writers' transform for operation ``op`` (None when addresses are kept in clear).

    Cached per process: ``takedown serve`` builds it before forking its
    workers (the key created once, the enrichment tables loaded once).
    """
    if op.events.privacy == "clear":
        return None
    key_path = op.events.privacy_key or (op.storage / "privacy.key")
    return _cached(op.events.privacy, key_path, op.enrich.country_mmdb, op.enrich.asn_mmdb)
