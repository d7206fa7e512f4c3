"""The tracker's file formats, one module each, found through a registry.

A module of this package defines ``FORMAT``, a :class:`Format` with a
``name`` (what ``--format`` takes) and a ``read`` (files in: yields
:class:`~takedown.tracker.indicator.Indicator`), a ``write`` (files out), or
both. ``write`` gets the indicators to export (streamed from the store, in
``id`` order), an :class:`ExportContext` and an open binary file (or, for a
directory format, a fresh directory) that :func:`export` swaps into place
atomically when ``write`` returns: a reader never sees half an export.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pkgutil
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator

from takedown import atomic as _atomic
from takedown.errors import TrackerError
from takedown.tracker.indicator import Change, Indicator

__all__ = ["Format", "ExportContext", "get", "names", "export", "atomic_file", "atomic_dir"]


@dataclass(slots=True)
class ExportContext:
    """What an export needs besides the indicators.

    ``serial`` increases on every export of a format (the store keeps it):
    the RPZ's SOA serial. ``sinkhole_v4``/``sinkhole_v6``: the addresses a
    ``sinkholed``/``seized`` name is pointed at (the operation's sinkhole);
    None: such names get NXDOMAIN. ``changes``: the latest status changes,
    newest first (Atom). ``params``: per-format options from the CLI
    (``--param key=value``)."""

    now: datetime
    serial: int = 1
    sinkhole_v4: str | None = None
    sinkhole_v6: str | None = None
    origin: str = "rpz.takedown"
    title: str = "takedown C&C tracker"
    link: str = "https://takedown.invalid/tracker/"
    changes: list[Change] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    summary: str
    read: Callable[[Path], Iterator[Indicator]] | None = None
    write: Callable[[Iterable[Indicator], ExportContext, BinaryIO], int] | None = None
    write_dir: Callable[[Iterable[Indicator], ExportContext, Path], int] | None = None
    suffix: str = ""


_FORMATS: dict[str, Format] = {}


def _load() -> dict[str, Format]:
    if not _FORMATS:
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
            mod = importlib.import_module(f"{__name__}.{info.name}")
            fmt = getattr(mod, "FORMAT", None)
            if isinstance(fmt, Format):
                if fmt.name in _FORMATS:
                    raise TrackerError(f"format {fmt.name!r} defined twice ({info.name})")
                _FORMATS[fmt.name] = fmt
    return _FORMATS


def names(*, readable: bool = False, writable: bool = False) -> list[str]:
    return sorted(n for n, f in _load().items()
                  if (not readable or f.read) and (not writable or f.write or f.write_dir))


def get(name: str, *, reading: bool = False) -> Format:
    fmt = _load().get(name)
    ok = fmt is not None and (fmt.read if reading else (fmt.write or fmt.write_dir))
    if not ok:
        choices = names(readable=reading, writable=not reading)
        raise TrackerError(f"--format: {'cannot read' if reading else 'cannot write'} {name!r} "
                           f"(one of {', '.join(choices)})")
    return fmt


def atomic_file(path: Path):
    """A binary file that replaces ``path`` only when the block succeeds."""
    return _atomic.atomic_file(path, TrackerError)


@contextlib.contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """A fresh directory that takes the place of ``path`` only when the block
    succeeds. ``path`` is a symbolic link to a versioned directory beside it
    (``.NAME.<serial>``): replacing a link with ``os.replace`` is atomic, so a
    reader (a web server publishing a MISP feed) sees the old directory or the
    new one, never a mix. A real directory at ``path`` from elsewhere is
    refused rather than removed."""
    path = Path(path)
    if path.exists() and not path.is_symlink():
        raise TrackerError(f"{path}: exists and is not a link made by takedown; move it away "
                           "(directory exports are published through a link)")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrackerError(f"cannot write {path}: {exc.strerror or exc}") from None
    n = 0
    while (parent / f".{path.name}.{n}").exists():
        n += 1
    fresh = parent / f".{path.name}.{n}"
    fresh.mkdir()
    old = os.readlink(path) if path.is_symlink() else None
    try:
        yield fresh
        link = parent / f".{path.name}.link{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        os.symlink(fresh.name, link)
        os.replace(link, path)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    if old and old != fresh.name and old.startswith(f".{path.name}."):
        shutil.rmtree(parent / old, ignore_errors=True)


def export(fmt: Format, indicators: Iterable[Indicator], ctx: ExportContext, out: Path) -> int:
    """Write ``indicators`` in ``fmt`` to ``out`` atomically; the count written."""
    if fmt.write_dir is not None:
        with atomic_dir(out) as d:
            return fmt.write_dir(indicators, ctx, d)
    assert fmt.write is not None
    with atomic_file(out) as f:
        return fmt.write(indicators, ctx, f)
