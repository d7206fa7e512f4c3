"""bench/RESULTS.md: the generated sections between ``<!-- bench:NAME:begin/end -->``
markers, rewritten in place by each benchmark (text outside them is kept)."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(name: str, text: str, path: Path = RESULTS) -> None:
    """Replace section ``name`` of ``path`` with ``text`` (appended if it is not there yet)."""
    begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
    body = path.read_text() if path.exists() else ""
    block = f"{begin}\n{text.rstrip()}\n\n{end}"
    if begin in body and end in body and body.index(begin) < body.index(end):
        body = body[: body.index(begin)] + block + body[body.index(end) + len(end):]
    else:
        body = body.rstrip() + "\n\n" + block + "\n"
    path.write_text(body)
