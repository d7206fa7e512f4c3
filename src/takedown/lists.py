"""List files named by an operation: seized-domain lists and zone blocklists.

Both formats are one entry per line, ``#`` starts a comment (whole line or
trailing), blank lines are ignored. Every line that is not blank or a comment
must be a valid entry: a rejected line is an error naming ``FILE:LINE``, never
a silent skip, so a typo cannot quietly un-sink a name.

The per-line check is one compiled regular expression, so lists of 100,000+
names load in a fraction of a second (a takedown's lists are that big: the
Waledac complaint named 273 domains, Rustock/Conficker-style DGA forecasts and
the 3322.org blocklist run to tens of thousands).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from takedown.errors import OperationError
from takedown.tomlfile import display_path  # noqa: F401 (re-exported: messages name files this way)

__all__ = [
    "MAX_NAME_LENGTH",
    "display_path",
    "domain_list_lines",
    "is_valid_name",
    "normalize_name",
    "read_blocklist",
    "read_domain_list",
]

#: RFC 1035 2.3.4: 255 octets on the wire, i.e. 253 characters in text form
#: without the trailing dot.
MAX_NAME_LENGTH = 253

# Labels of 1-63 letters, digits, hyphens or underscores (underscore for
# _service labels and the odd real-world malware name). re.ASCII matters:
# with IGNORECASE alone, [a-z] also matches the Kelvin sign and the long s.
_NAME_RE = re.compile(r"(?:[a-z0-9_-]{1,63}\.)*[a-z0-9_-]{1,63}", re.IGNORECASE | re.ASCII)


def is_valid_name(name: str) -> bool:
    """True if ``name`` (no trailing dot) is a syntactically valid DNS name."""
    return len(name) <= MAX_NAME_LENGTH and _NAME_RE.fullmatch(name) is not None


def normalize_name(text: str) -> str | None:
    """``text`` lowercased without its trailing dot, or None if it is not a valid name."""
    name = text[:-1] if text.endswith(".") else text
    if len(name) > MAX_NAME_LENGTH or _NAME_RE.fullmatch(name) is None:
        return None
    return name.lower()


def read_domain_list(path: str | os.PathLike[str]) -> list[str]:
    """Seized names from a domain-list file, lowercased, without trailing dot,
    in order of first occurrence (duplicates are dropped).

    Each name stands for itself and every name below it, so a ``*.`` prefix
    is refused rather than guessed at. Single-label names (whole TLDs) and
    names whose last label is numeric (an IP address pasted into the list)
    are refused too.
    """
    return list(domain_list_lines(path))


def domain_list_lines(path: str | os.PathLike[str]) -> dict[str, int]:
    """:func:`read_domain_list`, each name with the line it first appears on."""
    display = display_path(path)
    seen: dict[str, int] = {}
    for lineno, line in _entries(path, display):
        name = normalize_name(line)
        if name is None or "." not in name or _numeric_tld(name):
            raise OperationError(f"{display}:{lineno}: {_why(line, seized=True)}")
        seen.setdefault(name, lineno)
    return seen


def read_blocklist(
    path: str | os.PathLike[str], origin: str
) -> tuple[frozenset[str], frozenset[str]]:
    """``(exact, wildcard_bases)`` from the blocklist of the zone ``origin``.

    A line ``foo.3322.org`` sinks that one name; ``*.foo.3322.org`` sinks
    foo.3322.org *and every name below it* (this is a blocklist rule, not a
    DNS wildcard), and puts ``foo.3322.org`` in ``wildcard_bases``. Names are
    absolute and must be at or below ``origin``; they need not exist in the
    zone.
    """
    display = display_path(path)
    origin = origin.lower().rstrip(".")
    suffix = "." + origin
    exact: set[str] = set()
    wild: set[str] = set()
    for lineno, line in _entries(path, display):
        is_wild = line.startswith("*.")
        name = normalize_name(line[2:] if is_wild else line)
        if name is None:
            raise OperationError(f"{display}:{lineno}: {_why(line, seized=False)}")
        if name != origin and not name.endswith(suffix):
            raise OperationError(
                f"{display}:{lineno}: {line!r} is not in zone {origin} "
                f"(blocklist names are absolute, at or below the origin)"
            )
        (wild if is_wild else exact).add(name)
    return frozenset(exact), frozenset(wild)


def _entries(path: str | os.PathLike[str], display: str):
    """(line number, entry) for every non-blank, non-comment line."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise OperationError(f"{display}: cannot read: {e.strerror or e}") from None
    try:
        # utf-8-sig: tolerate the BOM some Windows editors write.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        lineno = data.count(b"\n", 0, e.start) + 1
        raise OperationError(f"{display}:{lineno}: not valid UTF-8 text") from None
    # split("\n"), not splitlines(): the latter also breaks at \x0b, \x1c,
    # U+2028... and would throw the line numbers off.
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.split("#", 1)[0].strip() if "#" in raw else raw.strip()
        if line:
            yield lineno, line


def _numeric_tld(name: str) -> bool:
    return name[-1].isdigit() and name.rpartition(".")[2].isdigit()


def _why(line: str, *, seized: bool) -> str:
    """The reason ``line`` was refused, as precise as cheaply possible."""
    base = f"{line!r} is not a valid domain name"
    if not line.isascii():
        return f"{base} (write internationalized names in their xn-- form)"
    if any(c.isspace() for c in line):
        return f"{base} (one name per line; '#' starts a comment)"
    if "/" in line or "@" in line:
        return f"{base} (a bare name is expected, not a URL or an address)"
    if seized and line.startswith("*."):
        return (
            f"{base} (a seized name already covers every name below it: "
            f"drop the '*.')"
        )
    name = line[:-1] if line.endswith(".") else line
    if len(name) > MAX_NAME_LENGTH:
        return f"{base} (longer than {MAX_NAME_LENGTH} characters)"
    labels = name.split(".")
    if any(len(label) > 63 for label in labels):
        return f"{base} (a label is longer than 63 characters)"
    if "" in labels:
        return f"{base} (empty label)"
    if seized and _NAME_RE.fullmatch(name):
        if len(labels) == 1:
            return f"{base} to seize (a single label: a whole top-level domain)"
        return f"{base} (its last label is numeric: an IP address?)"
    return f"{base} (letters, digits, '-' and '_' only)"
