"""Where the console's static files are: its own (``static/`` in the
package) and the front-end files fetched from the npm registry at bootstrap
(htmx, pinned by version and sha256 in scripts/bootstrap, unpacked into
``<venv>/share/takedown/console``). No CDN: the pages work with no internet.
Without htmx (a wheel installed without the bootstrap) every page still
works as plain links and forms; only the partial updates are lost."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["own_dir", "vendor_dir", "HTMX"]

HTMX = "htmx.min.js"


def own_dir() -> Path:
    return Path(__file__).resolve().parent / "static"


def vendor_dir() -> Path:
    env = os.environ.get("TAKEDOWN_CONSOLE_VENDOR")
    return Path(env) if env else Path(sys.prefix) / "share" / "takedown" / "console"


def has_htmx() -> bool:
    return (vendor_dir() / HTMX).is_file()
