"""Files that appear whole or not at all: written beside their place under a
hidden temporary name, flushed to disk, then renamed over it (rename(2) is
atomic within a file system), so a reader (a web server, rsync, a report
viewer) sees the previous file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import BinaryIO, Iterator

from takedown.errors import TakedownError


@contextlib.contextmanager
def atomic_file(path: Path, error: type[TakedownError] = TakedownError) -> Iterator[BinaryIO]:
    """A binary file that replaces ``path`` only when the block succeeds; one
    that cannot be created is ``error("cannot write PATH: reason")``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        f = open(tmp, "wb")
    except OSError as exc:
        raise error(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
