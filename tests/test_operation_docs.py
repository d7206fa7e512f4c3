"""docs/operation-file.md documents the schema of takedown.operation: every
key under its table's heading, no key that does not exist, the same defaults.

A table's heading names it in backticks (`[dns.rrl]`, `[[zones]]`; one heading
may name several tables: `[http]`, `[tls]`, `[tcp]`); the first markdown table
after it has one row per key: | `key` | type | default | meaning |. The
default cell must read as takedown.tomlfile.doc_default renders the
declaration; on a mismatch the message shows the rows the schema would write
(takedown.tomlfile.markdown_table)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from takedown.operation import Operation
from takedown.tomlfile import doc_default, markdown_table, tables

DOC = Path(__file__).resolve().parents[1] / "docs" / "operation-file.md"
SCHEMA = tables(Operation)
_HEADING = re.compile(r"^#+ (.*)$")
_NAMES = re.compile(r"`\[\[?([a-z_.]+)\]\]?`")


def documented() -> dict[tuple[str, ...], dict[str, str]]:
    """Table path -> {key: default cell}, from the document."""
    out: dict[tuple[str, ...], dict[str, str]] = {}
    current: list[tuple[str, ...]] = []
    in_table = False
    for line in DOC.read_text().splitlines():
        m = _HEADING.match(line)
        if m:
            current = [tuple(n.split(".")) for n in _NAMES.findall(m.group(1))]
            in_table = False
            continue
        if not current:
            continue
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells[0] in ("key", "---"):
                in_table = True
                continue
            if in_table:
                key = cells[0].strip("`")
                for path in current:
                    out.setdefault(path, {})[key] = cells[2]
        elif in_table:
            current = []  # only the first table after a heading
    return out


DOCUMENTED = documented()


@pytest.mark.parametrize("path", sorted(SCHEMA), ids=lambda p: ".".join(p) or "root")
def test_every_schema_key_is_documented_with_its_default(path):
    rows = DOCUMENTED.get(path)
    want = markdown_table(SCHEMA[path])
    assert rows is not None, f"no heading naming `[{'.'.join(path)}]` with a key table; it would be:\n{want}"
    for k in SCHEMA[path]:
        assert k.name in rows, f"[{'.'.join(path)}] {k.name} is not documented; the schema's row:\n{want}"
        assert rows[k.name] == doc_default(k), (
            f"[{'.'.join(path)}] {k.name}: the doc says the default is {rows[k.name]}, "
            f"the schema {doc_default(k)}")


def test_every_documented_key_exists():
    for path, rows in DOCUMENTED.items():
        assert path in SCHEMA, f"docs/operation-file.md documents a table [{'.'.join(path)}] that does not exist"
        names = {k.name for k in SCHEMA[path]}
        extra = sorted(set(rows) - names)
        assert not extra, f"docs/operation-file.md documents [{'.'.join(path)}] keys that do not exist: {extra}"


def test_the_check_sees_drift(monkeypatch, tmp_path):
    """A row removed, a default changed: the checks above would fail."""
    text = DOC.read_text()
    drifted = text.replace("| `slip` | integer, 0-10 | `2` |", "| `slip` | integer, 0-10 | `3` |")
    drifted = drifted.replace("| `workers` |", "| `worker_count` |")
    assert drifted != text
    f = tmp_path / "doc.md"
    f.write_text(drifted)
    monkeypatch.setattr(__import__(__name__), "DOC", f)
    rows = documented()
    assert rows[("dns", "rrl")]["slip"] == "`3`"
    assert "workers" not in rows[("dns",)] and "worker_count" in rows[("dns",)]
