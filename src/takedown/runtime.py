"""The Runtime: everything an operation file makes a sensor serve, built as a unit.

One :class:`Runtime` holds the loaded :class:`~takedown.operation.Operation`,
the compiled DNS :class:`~takedown.dns.policy.Policy` (seized names, zones,
DGA names due today), and the network sinkhole's answers (fingerprint rules,
the command table: the rules' command responses joined with the case's
command authorities, response templates, TLS certificate;
:mod:`takedown.net.answers`). It is
immutable: a reload builds a new one from the files and the workers are
given the new one whole (:mod:`takedown.serve`), so no worker ever serves a
mix of an old rules file and a new zone.

:func:`watched` lists every file a Runtime was built from; a change to any
of them, or SIGHUP, rebuilds it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from takedown.dns.policy import Policy
from takedown.errors import ServeError
from takedown.net.answers import Answers, answer_files, certificate_files, load_answers
from takedown.net.commands import CommandTable
from takedown.operation import Listener, Operation, load_operation
from takedown.store.privacy import transform_for


@dataclass(frozen=True)
class Overrides:
    """Listen addresses and worker count given on the command line: they win
    over the file at start and at every reload."""

    dns: tuple[str, ...] | None = None
    http: tuple[str, ...] | None = None
    workers: int | None = None

    def apply(self, op: Operation) -> Operation:
        if self.dns:
            op = replace(op, dns=replace(op.dns, listen=tuple(self.dns)))
        if self.workers:
            op = replace(op, dns=replace(op.dns, workers=self.workers))
        if self.http:
            op = replace(op, http=replace(op.http or Listener("http", ()), listen=tuple(self.http)))
        return op


@dataclass(frozen=True)
class Runtime:
    operation: Operation
    policy: Policy
    answers: Answers | None  # None when the operation has no [http], [tls] or [tcp]
    files: tuple[Path, ...]
    built: float  # time.time() when built
    seconds: float  # how long the build took
    #: files the build itself wrote (the generated TLS certificate and key):
    #: not an operator's edit, so no reason to build again
    made: tuple[Path, ...] = ()

    def listeners(self) -> list[Listener]:
        op = self.operation
        return [x for x in (op.http, op.tls, op.tcp) if x is not None]

    @property
    def commands(self) -> CommandTable:
        """The command responses the sinkhole may send, each with its authorities' windows."""
        return self.answers.commands if self.answers is not None else CommandTable()

    def warnings(self) -> list[str]:
        """What ``takedown serve`` says at start and at each reload: a
        command response that no authority covers at all (never sent)."""
        return list(self.commands.uncovered)


def build(path: Path, overrides: Overrides = Overrides()) -> Runtime:
    """Load ``path`` and compile everything it names. Raises TakedownError
    (``FILE:LINE: ...``) on bad input; nothing is half-built."""
    t0 = time.monotonic()
    op = overrides.apply(load_operation(path))
    policy = Policy(op)
    made = tuple(p for p in certificate_files(op) if not p.exists())
    answers = load_answers(op) if (op.http or op.tls or op.tcp) else None
    transform_for(op)  # the privacy key and enrichment tables: made once, before workers fork
    return Runtime(op, policy, answers, tuple(watched(op)), time.time(), time.monotonic() - t0, made)


def watched(op: Operation) -> list[Path]:
    """Every file the Runtime of ``op`` is built from."""
    paths = [op.path]
    paths += [d.file for d in op.domains]
    paths += [g.plugin for g in op.dga if g.plugin is not None]
    for z in op.zones:
        paths.append(z.file)
        if z.blocklist is not None:
            paths.append(z.blocklist)
    paths += answer_files(op)
    return paths


def snapshot(paths) -> tuple:
    """What changes when a file is edited, replaced or removed."""
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append((str(p), st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            out.append((str(p), None, None, None))
    return tuple(out)


def changed_during_build(rt: Runtime, snap: tuple) -> bool:
    """Whether a file in ``snap`` (a :func:`snapshot` of ``rt.files`` taken
    after the build) was written after the build began: the build may have
    read it before the write, so the Runtime may lack the change and must be
    rebuilt. File times come from the kernel's coarse clock (a tick, up to
    10 ms, behind): a write in the 10 ms before the build counts too, at
    worst one needless rebuild."""
    began_ns = int((rt.built - rt.seconds - 0.010) * 1e9)
    made = {str(p) for p in rt.made}
    return any(mtime is not None and mtime >= began_ns and p not in made for p, mtime, _s, _i in snap)


def stale(rt: Runtime) -> str | None:
    """Why ``rt`` should be rebuilt without any file changing: a new UTC day
    brings new DGA names. None when it is current."""
    if rt.operation.dga and rt.policy.day != datetime.now(timezone.utc).date():
        return "a new UTC day: DGA names roll over"
    return None


def same_listeners(old: Operation, new: Operation) -> None:
    """A reload cannot move sockets: the addresses are bound once at start;
    nor change the user, which was switched to for good. Raises ServeError
    naming the file when they differ."""
    def addrs(op: Operation) -> dict[str, tuple]:
        return {"dns": op.dns.listen, "workers": (str(op.dns.workers),), "service": (op.service,),
                **{k: (getattr(op, k).listen if getattr(op, k) else ()) for k in ("http", "tls", "tcp")},
                "control": (op.control.listen,) if op.control else (),
                "console": (op.console.listen,) if op.console else ()}
    a, b = addrs(old), addrs(new)
    changed = [k for k in a if a[k] != b[k]]
    if changed:
        what = ", ".join(k if k == "workers" else "[service]" if k == "service" else f"[{k}] listen"
                         for k in changed)
        raise ServeError(f"{new.path}: {what} changed: restart takedown serve to apply it "
                         "(a reload keeps the sockets it has)")
