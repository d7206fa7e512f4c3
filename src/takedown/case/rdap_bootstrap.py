"""IANA's RDAP bootstrap file for domain names (``dns.json``, RFC 9224).

The file maps TLDs to the base URLs of their registries' RDAP services:
``{"version": "1.0", "publication": "...", "services": [[[tld, ...], [url, ...]], ...]}``
(RFC 9224 section 3). A name's service is the entry that matches the longest
run of its last labels (section 4). takedown ships a dated copy
(``data/rdap-dns-YYYY-MM-DD.json``, the date its ``publication``) so the
appendix is built offline; :func:`refresh` fetches a new one from IANA
(``takedown case rdap-refresh``) and the newest shipped file wins.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from takedown.errors import TakedownError

__all__ = ["IANA_URL", "Bootstrap", "BootstrapError", "load", "parse", "refresh", "shipped"]

#: where IANA publishes it (RFC 9224 section 7, IANA's RDAP bootstrap registry)
IANA_URL = "https://data.iana.org/rdap/dns.json"
DATA_DIR = Path(__file__).parent / "data"
_DATED = re.compile(r"rdap-dns-(\d{4}-\d{2}-\d{2})\.json")


class BootstrapError(TakedownError):
    """An RDAP bootstrap file cannot be read or fetched; the message names it."""


@dataclass(frozen=True)
class Bootstrap:
    publication: str  # as IANA wrote it, e.g. 2026-11-20T19:00:01Z
    source: str  # the file or URL it was read from
    services: dict[str, str]  # TLD (or multi-label suffix) -> the first base URL

    def service_for(self, name: str) -> tuple[str, str] | None:
        """(the matching entry, its base URL) for ``name``, longest match first (RFC 9224 section 4)."""
        labels = name.lower().rstrip(".").split(".")
        for i in range(len(labels)):
            suffix = ".".join(labels[i:])
            url = self.services.get(suffix)
            if url is not None:
                return suffix, url
        return None


def parse(data: bytes, source: str) -> Bootstrap:
    """A bootstrap from the bytes of a ``dns.json``; ``source`` names it in errors."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise BootstrapError(f"{source}: not JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), list):
        raise BootstrapError(f"{source}: not an RDAP bootstrap file (RFC 9224): no \"services\" list")
    publication = doc.get("publication")
    if not isinstance(publication, str) or not re.match(r"\d{4}-\d{2}-\d{2}", publication):
        raise BootstrapError(f"{source}: \"publication\" must be a date (RFC 9224 section 3)")
    services: dict[str, str] = {}
    for i, entry in enumerate(doc["services"]):
        ok = (isinstance(entry, list) and len(entry) == 2 and all(isinstance(x, list) for x in entry)
              and all(isinstance(x, str) for x in entry[0] + entry[1]) and entry[1])
        if not ok:
            raise BootstrapError(f"{source}: services[{i}] must be [[TLD, ...], [URL, ...]]")
        # RFC 9224 section 3: prefer https when a service lists several URLs
        urls = sorted(entry[1], key=lambda u: not u.startswith("https:"))
        for tld in entry[0]:
            services[tld.lower().rstrip(".")] = urls[0]
    return Bootstrap(publication, source, services)


def load(path: str | os.PathLike[str]) -> Bootstrap:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise BootstrapError(f"{path}: {e.strerror}") from None
    return parse(data, str(path))


def shipped(data_dir: Path = DATA_DIR) -> Bootstrap | None:
    """The newest dated bootstrap file shipped with the package, or None if there is none."""
    files = sorted(p for p in data_dir.glob("rdap-dns-*.json") if _DATED.fullmatch(p.name))
    return load(files[-1]) if files else None


def refresh(data_dir: Path = DATA_DIR, url: str = IANA_URL, timeout: float = 30.0) -> Path:
    """Fetch the bootstrap file from ``url`` (IANA's by default), check it and
    write it as ``rdap-dns-<publication date>.json`` in ``data_dir``; the path written."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 (https by default)
            data = r.read()
    except OSError as e:
        raise BootstrapError(f"{url}: cannot fetch the RDAP bootstrap file: {e}") from None
    boot = parse(data, url)
    out = data_dir / f"rdap-dns-{boot.publication[:10]}.json"
    tmp = out.with_suffix(".tmp")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, out)
    except OSError as e:
        raise BootstrapError(f"{out}: {e.strerror}") from None
    return out
