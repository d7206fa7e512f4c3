"""The tracker's commands (takedown tracker ..., takedown db ...), run as a
user runs them: a subprocess of the installed script, on SQLite and on
PostgreSQL (conftest.py's ``tracker_url``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from alembic import command

from takedown.tracker import db

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).with_name("takedown")


def run(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXE), *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env)


def one_error(p, starts: str) -> None:
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert p.stderr.count("\n") == 1 and p.stderr.startswith(starts), p.stderr
    assert "Traceback" not in p.stdout + p.stderr


def test_cli_add_show_list_status(tracker_url):
    p = run("tracker", "add", "Evil.Example.", "--family", "zeus", "--status", "online", "--tag", "banker",
            "--source", "partner", "--confidence", "75", "--note", "first", "--db", tracker_url)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "added evil.example (domain, zeus, online, revision 1)\n"
    p = run("tracker", "add", "192.0.2.5:8080", "--family", "feodo", "--db", tracker_url)
    assert p.stdout.startswith("added 192.0.2.5:8080 (ip, feodo, unknown")
    p = run("tracker", "status", "evil.example", "seized", "--reason", "court order", "--db", tracker_url)
    assert p.stdout == "evil.example: online -> seized\n", p.stderr
    p = run("tracker", "show", "EVIL.example", "--db", tracker_url)
    assert p.returncode == 0, p.stderr
    fields = dict(line.split(None, 1) for line in p.stdout.splitlines()[:4])
    assert fields == {"value": "evil.example", "kind": "domain", "family": "zeus", "status": "seized"}
    assert "tags          banker" in p.stdout and "confidence    75" in p.stdout
    assert "created online  by cli" in p.stdout and "online -> seized  by cli: court order" in p.stdout
    p = run("tracker", "list", "--status", "seized", "--db", tracker_url)
    assert [line.split("\t")[:4] for line in p.stdout.splitlines()] == [["evil.example", "domain", "zeus", "seized"]]
    p = run("tracker", "list", "--db", tracker_url)
    assert len(p.stdout.splitlines()) == 2
    one_error(run("tracker", "show", "nothere.example", "--db", tracker_url), "Error: nothere.example: not tracked")
    one_error(run("tracker", "add", "bad", "--family", "x", "--db", tracker_url),
              "Error: bad: 'bad' is not a domain name")
    one_error(run("tracker", "add", "a.example", "--family", "x", "--status", "gone", "--db", tracker_url),
              "Error: a.example: status: unknown status 'gone'")
    one_error(run("tracker", "export", "--format", "no-such-format", "--out", "/tmp/x", "--db", tracker_url),
              "Error: --format: cannot write 'no-such-format'")
    one_error(run("tracker", "import", "/nonexistent", "--format", "no-such", "--db", tracker_url),
              "Error: --format: cannot read 'no-such'")
    one_error(run("tracker", "import", "/nonexistent.csv", "--format", "feodo-csv", "--db", tracker_url),
              "Error: ")


def test_cli_finds_the_database(tmp_path):
    env_base = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    one_error(run("tracker", "list", env=env_base),
              "Error: no tracker database: give --db URL or --operation FILE")
    shutil.copytree(ROOT / "examples", tmp_path / "ex")
    op = tmp_path / "ex" / "operation.toml"
    p = run("tracker", "add", "a.example", "--family", "zeus", "--operation", str(op), env=env_base)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "ex" / "data" / "tracker.sqlite").is_file()  # storage = "data"
    p = run("tracker", "list", env={**env_base, "TAKEDOWN_OPERATION": str(op)})
    assert p.stdout.startswith("a.example\t")
    p = run("tracker", "list", env={**env_base, "TAKEDOWN_DB": str(tmp_path / "ex" / "data" / "tracker.sqlite")})
    assert p.stdout.startswith("a.example\t")
    # [database] url: a relative SQLite path is the operation file's directory's
    op.write_text(op.read_text() + '\n[database]\nurl = "sqlite:///db/t.sqlite"\n')
    p = run("tracker", "add", "b.example", "--family", "zeus", "--operation", str(op), env=env_base)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "ex" / "db" / "t.sqlite").is_file()
    op.write_text(op.read_text().replace("sqlite:///db/t.sqlite", "mysql://x/y"))
    one_error(run("tracker", "list", "--operation", str(op), env=env_base), f"Error: {op}:")


def test_cli_db_upgrade_and_current(tracker_url):
    engine = db.open_engine(tracker_url)
    with engine.begin() as conn:
        command.upgrade(db._config(conn), "0001")
    engine.dispose()
    head = db.head()  # the newest migration: the notice's sendings
    assert head == "0005"
    p = run("db", "current", "--db", tracker_url)
    assert p.returncode == 0 and f"revision 0001 (this takedown: {head}; older: run takedown db upgrade)" in p.stdout
    one_error(run("tracker", "list", "--db", tracker_url), "Error: the tracker database ")
    p = run("db", "upgrade", "--db", tracker_url)
    assert p.returncode == 0 and p.stdout.endswith(f": upgraded from 0001 to revision {head}\n"), p.stdout + p.stderr
    p = run("db", "upgrade", "--db", tracker_url)
    assert p.stdout.endswith(f": already at revision {head}\n")
    p = run("db", "current", "--db", tracker_url)
    assert f"revision {head} (this takedown: {head}; up to date)" in p.stdout
    assert run("tracker", "list", "--db", tracker_url).returncode == 0


FEODO_CSV = """\
"first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"
"2026-10-17 07:44:46","192.0.2.10","443","online","2026-12-04","Dridex"
"2026-11-02 13:01:09","198.51.100.7","8080","offline","2026-11-20","Emotet"
"""


def test_cli_import_a_feed_then_export_and_show(tracker_url, tmp_path):
    """A Feodo Tracker file in, the tracker's own JSON Lines out, through the store."""
    feed = tmp_path / "ipblocklist.csv"
    feed.write_text(FEODO_CSV)
    p = run("tracker", "import", str(feed), "--format", "feodo-csv", "--db", tracker_url)
    assert p.returncode == 0, p.stderr
    assert "imported 2 indicator(s)" in p.stdout
    p = run("tracker", "show", "192.0.2.10:443", "--db", tracker_url)
    assert p.returncode == 0, p.stderr
    assert "family        dridex" in p.stdout.lower() and "status        online" in p.stdout
    assert "first seen    2026-10-17 07:44:46" in p.stdout
    assert "created online  by import:feodo-csv: imported from ipblocklist.csv" in p.stdout
    out = tmp_path / "all.jsonl"
    p = run("tracker", "export", "--format", "jsonl", "--out", str(out), "--status", "offline", "--db", tracker_url)
    assert p.returncode == 0 and p.stdout.startswith(f"wrote 1 indicator(s) to {out} (jsonl, serial "), p.stderr
    assert '"value":"198.51.100.7:8080"' in out.read_text()


def test_cli_formats_lists_every_format_and_its_ways():
    from takedown.tracker import formats

    p = run("tracker", "formats")
    assert p.returncode == 0, p.stderr
    rows = {line.split("\t")[0]: line.split("\t")[1] for line in p.stdout.splitlines()}
    assert set(rows) == set(formats.names())
    for name, ways in rows.items():
        assert ("in" in ways.split("/")) == (name in formats.names(readable=True)), name
        assert ("out" in ways.split("/")) == (name in formats.names(writable=True)), name
