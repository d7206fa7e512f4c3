"""The manifest: one JSON object a line (JSON Lines), each entry chained to
the one before it by hash, so no entry can be changed, removed, inserted or
moved without every later entry's hash failing.

An entry's hash is the SHA-256 of one line of text, tab-separated, ending in
a newline::

    seq  path  size  sha256  sealed_at  prev

(``prev`` is the hash of the entry before; 64 zeros for the first). The text
form, rather than the JSON, is what is hashed so that a verifier needs
nothing but ``printf`` and ``openssl dgst -sha256`` to recompute it
(docs/evidence.md). Paths are relative to the operation file's directory,
with ``/`` separators; a path holding a tab or newline is refused.

SHA-256: FIPS 180-4.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from takedown.errors import EvidenceError

GENESIS = "0" * 64
_FIELDS = ("seq", "path", "size", "sha256", "sealed_at", "prev", "hash")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Entry:
    seq: int
    path: str
    size: int
    sha256: str
    sealed_at: str  # UTC, ISO 8601, seconds
    prev: str
    hash: str

    def text(self) -> str:
        """The line the entry's hash is taken over."""
        return f"{self.seq}\t{self.path}\t{self.size}\t{self.sha256}\t{self.sealed_at}\t{self.prev}\n"

    def expected_hash(self) -> str:
        return hashlib.sha256(self.text().encode()).hexdigest()


def make_entry(seq: int, path: str, size: int, sha256: str, sealed_at: str, prev: str) -> Entry:
    if any(c in path for c in "\t\n\r"):
        raise EvidenceError(f"cannot seal {path!r}: a tab or newline in its name")
    draft = Entry(seq, path, size, sha256, sealed_at, prev, "")
    return Entry(seq, path, size, sha256, sealed_at, prev, draft.expected_hash())


def file_digest(path: Path) -> tuple[int, str]:
    """(size, SHA-256 hex) of a file, read in chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def read_manifest(path: Path) -> list[Entry]:
    """Every entry of the manifest at ``path`` (none if it does not exist yet);
    a line that is not a well-formed entry is ``MANIFEST:LINE: reason``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise EvidenceError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise EvidenceError(f"{path}:{n}: not a JSON object: {exc}") from None
        if not isinstance(obj, dict) or set(obj) != set(_FIELDS):
            raise EvidenceError(f"{path}:{n}: an entry has exactly the fields {', '.join(_FIELDS)}")
        kinds = {"seq": int, "size": int}
        for k in _FIELDS:
            want = kinds.get(k, str)
            if not isinstance(obj[k], want) or isinstance(obj[k], bool):
                raise EvidenceError(f"{path}:{n}: {k} must be {'an integer' if want is int else 'a string'}")
        out.append(Entry(**obj))
    return out


def append(path: Path, entries: list[Entry]) -> None:
    """Append ``entries`` to the manifest, flushed to disk. The file is only
    ever opened for appending: earlier lines are never rewritten."""
    if not entries:
        return
    data = "".join(json.dumps(asdict(e), separators=(",", ":")) + "\n" for e in entries)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise EvidenceError(f"cannot write {path}: {exc.strerror or exc}") from None


def chain_faults(entries: list[Entry]) -> list[str]:
    """What is wrong with the chain itself, one line per fault naming the
    entry (its line in the manifest) and its path."""
    faults = []
    prev = GENESIS
    for n, e in enumerate(entries, 1):
        where = f"entry {n} ({e.path})"
        if e.seq != n:
            faults.append(f"{where}: sequence number {e.seq}, expected {n} (entries removed, inserted or re-ordered)")
        if e.hash != e.expected_hash():
            faults.append(f"{where}: its hash does not match its content (the entry was edited)")
        if e.prev != prev:
            faults.append(f"{where}: does not follow the entry before it (entries removed, inserted or re-ordered)")
        prev = e.hash
    return faults
