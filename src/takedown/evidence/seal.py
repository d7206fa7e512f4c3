"""Sealing an operation's files into its evidence manifest, and checking it.

The manifest is ``{storage}/evidence/manifest.jsonl`` (takedown.evidence.chain);
the time-stamp replies are ``{storage}/evidence/timestamps/NNNNNNNN.tsr``,
NNNNNNNN being the sequence number of the entry that was the chain head when
it was made (takedown.evidence.timestamp).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from dataclasses import dataclass, field
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from takedown.atomic import atomic_file
from takedown.errors import EvidenceError
from takedown.evidence import chain, timestamp
from takedown.evidence.collect import EVIDENCE_DIR, evidence_files
from takedown.tomlfile import display_path
from takedown.operation import Operation

MANIFEST = "manifest.jsonl"
TIMESTAMPS = "timestamps"
_TOKEN = re.compile(r"^(\d{8})\.tsr$")


def evidence_dir(op: Operation) -> Path:
    return Path(op.storage) / EVIDENCE_DIR


def _relative(op: Operation, path: Path) -> str:
    return Path(os.path.relpath(path, op.path.parent)).as_posix()


@dataclass
class Sealed:
    manifest: Path
    added: list[chain.Entry]
    total: int
    open_days: int
    token: Path | None = None
    token_time: str = ""
    absent: list[Path] = field(default_factory=list)  # [case] evidence paths not written yet


@contextlib.contextmanager
def _locked(directory: Path):
    """One sealer at a time (a cron job and an operator by hand): both would
    read the same head and append two chains' worth of entries."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise EvidenceError(f"cannot write {directory}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _outputs(op: Operation, include: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[Path]]:
    """(the paths to seal beside the storage, absolute; the ``[case]
    evidence`` paths not there yet). A path the caller names must exist; a
    declared one may not yet (serve seals before the first report is
    written), and is left out until it does."""
    named = []
    for p in include:
        path = Path(os.path.abspath(os.path.expanduser(p)))
        if not path.exists():
            raise EvidenceError(f"cannot seal {display_path(p)}: no such file or directory (nothing sealed)")
        named.append(path)
    declared = op.case.evidence if op.case is not None else ()
    absent = [p for p in declared if not p.exists()]
    return named + [p for p in declared if p.exists()], absent


def seal(op: Operation, tsa: str | None = None, now: datetime | None = None,
         include: Iterable[str | os.PathLike[str]] = ()) -> Sealed:
    """Append every file of the operation not yet in the manifest, then, with
    ``tsa``, time-stamp the chain head. A file already sealed is never sealed
    again, even when changed: that is for :func:`verify` to report.
    ``include``: files and directories outside the storage (relative to the
    current directory) sealed with it, as the ``[case] evidence`` paths are;
    a missing one is an error before anything is sealed."""
    outputs, absent = _outputs(op, include)
    with _locked(evidence_dir(op)):
        done = _seal(op, tsa, now or datetime.now(timezone.utc), outputs)
    done.absent = absent
    return done


def _seal(op: Operation, tsa: str | None, now: datetime, outputs: list[Path]) -> Sealed:
    manifest = evidence_dir(op) / MANIFEST
    entries = chain.read_manifest(manifest)
    faults = chain.chain_faults(entries)
    if faults:
        raise EvidenceError(f"{manifest}: the chain is broken, nothing sealed: {faults[0]}")
    known = {e.path for e in entries}
    files, open_days = evidence_files(op, now, outputs)
    stamp = now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    prev = entries[-1].hash if entries else chain.GENESIS
    added = []
    for path in files:
        rel = _relative(op, path)
        if rel in known:
            continue
        try:
            size, digest = chain.file_digest(path)
        except OSError as exc:
            raise EvidenceError(f"cannot read {path}: {exc.strerror or exc}") from None
        entry = chain.make_entry(len(entries) + len(added) + 1, rel, size, digest, stamp, prev)
        added.append(entry)
        prev = entry.hash
    chain.append(manifest, added)
    out = Sealed(manifest, added, len(entries) + len(added), open_days)
    if tsa is not None and out.total:
        head = (added or entries)[-1]
        reply = timestamp.fetch(tsa, timestamp.request(head.hash))
        tokens = evidence_dir(op) / TIMESTAMPS
        tokens.mkdir(parents=True, exist_ok=True)
        path = tokens / f"{head.seq:08d}.tsr"
        with atomic_file(path, EvidenceError) as f:
            f.write(reply)
        info = timestamp.inspect(path)
        if not info.granted or info.imprint != head.hash:
            path.unlink()
            raise EvidenceError(f"time-stamp authority {tsa} did not grant a time-stamp of the chain head "
                                f"(status {'granted' if info.granted else 'refused'}, imprint {info.imprint or 'none'})")
        out.token, out.token_time = path, info.time
    return out


@dataclass
class Verified:
    manifest: Path
    entries: int
    files_ok: int
    tokens: list[tuple[Path, int, str]] = field(default_factory=list)  # (file, head seq, time)
    faults: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.faults


def verify(op: Operation, tsa_ca: Path | None = None) -> Verified:
    """Re-hash every sealed file and check the chain and the time-stamps.
    Each fault names the file or entry. Without ``tsa_ca`` a token's imprint
    and status are checked but not its signature."""
    manifest = evidence_dir(op) / MANIFEST
    if not manifest.is_file():
        raise EvidenceError(f"{manifest}: no evidence manifest (run takedown evidence seal first)")
    entries = chain.read_manifest(manifest)
    out = Verified(manifest, len(entries), 0, faults=chain.chain_faults(entries))
    base = op.path.parent
    for e in entries:
        path = base / e.path
        try:
            size, digest = chain.file_digest(path)
        except FileNotFoundError:
            out.faults.append(f"removed: {e.path} (entry {e.seq})")
            continue
        except OSError as exc:
            out.faults.append(f"unreadable: {e.path} (entry {e.seq}): {exc.strerror or exc}")
            continue
        if (size, digest) != (e.size, e.sha256):
            out.faults.append(f"changed: {e.path} (entry {e.seq}: sealed {e.size} bytes sha256 {e.sha256[:16]}..., "
                              f"now {size} bytes sha256 {digest[:16]}...)")
        else:
            out.files_ok += 1
    tokens = evidence_dir(op) / TIMESTAMPS
    for path in sorted(tokens.iterdir()) if tokens.is_dir() else []:
        if path.name.startswith("."):
            continue
        m = _TOKEN.match(path.name)
        if not m:
            out.faults.append(f"timestamp {path.name}: not named NNNNNNNN.tsr after the entry it covers")
            continue
        seq = int(m.group(1))
        if not 1 <= seq <= len(entries):
            out.faults.append(f"timestamp {path.name}: covers entry {seq}, which the manifest does not hold")
            continue
        head = entries[seq - 1]
        try:
            info = timestamp.inspect(path)
        except EvidenceError as exc:
            out.faults.append(f"timestamp {exc}")  # the message starts with the file's name
            continue
        if not info.granted:
            out.faults.append(f"timestamp {path.name}: the authority did not grant it")
        elif info.imprint != head.hash:
            out.faults.append(f"timestamp {path.name}: its imprint is not the hash of entry {seq} ({head.path})")
        elif tsa_ca is not None and (why := timestamp.verify(path, head.hash, tsa_ca)) is not None:
            out.faults.append(f"timestamp {path.name}: signature not valid under {tsa_ca}: {why}")
        else:
            out.tokens.append((path, seq, info.time))
    return out
