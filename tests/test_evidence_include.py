"""Outputs written outside the storage are evidence too (docs/evidence.md,
"Outputs outside the storage"): ``takedown evidence seal --include PATH`` and
``[case] evidence`` seal reports, the appendix and exports wherever they are
written; the manifest names them relative to the operation file, so a later
``evidence verify`` without ``--include`` re-hashes them and names the one
changed or removed (exit 3). serve's sealing takes ``[case] evidence`` as
``evidence seal`` does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from takedown import runtime as rt_mod
from takedown.cli import app, main
from takedown.errors import EvidenceError, OperationError
from takedown.evidence import chain
from takedown.evidence.seal import seal, verify
from takedown.operation import load_operation
from takedown.serve import Supervisor
from takedown.store import compact as compact_mod

from dns_helpers import make_operation
from test_evidence import op_dir  # noqa: F401  (the fixture: an operation with closed, open and secret files)
from test_serve_seal import _seal_once, write_operation, write_past_day

CASE = '''
[case]
court = "U.S. District Court, Eastern District of Virginia"
case_number = "1:26-cv-00017"
order_type = "temporary restraining order"
order_date = 2026-02-27
'''


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


def _paths(manifest: Path) -> list[str]:
    return [e.path for e in chain.read_manifest(manifest)]


@pytest.fixture
def outputs(op_dir: Path) -> Path:  # noqa: F811
    """A report beside the storage (with hidden files to leave out), and an
    appendix outside the operation's directory altogether."""
    report = op_dir / "report"
    (report / "weekly").mkdir(parents=True)
    (report / "index.html").write_text("<h1>report</h1>")
    (report / "weekly" / "2026-W01.csv").write_text("week,ips\n2026-W01,12\n")
    (report / ".index.html.tmp").write_text("half written")
    (report / ".staging").mkdir()
    (report / ".staging" / "x.csv").write_text("x")
    appendix = op_dir.parent / "court" / "appendix.pdf"
    appendix.parent.mkdir()
    appendix.write_bytes(b"%PDF-1.7 appendix")
    return op_dir


def test_included_directory_and_file_are_sealed_and_verified_without_include(outputs: Path):
    op_file = str(outputs / "operation.toml")
    r = _run("evidence", "seal", op_file, "--include", str(outputs / "report"),
             "--include", str(outputs.parent / "court" / "appendix.pdf"))
    assert r.exit_code == 0, r.output
    assert "sealed report/index.html\t" in r.output and "sealed ../court/appendix.pdf\t" in r.output
    manifest = outputs / "data" / "evidence" / "manifest.jsonl"
    paths = _paths(manifest)
    # after the storage's files, in the order named, each directory walked sorted; hidden names left out
    assert paths[-3:] == ["report/index.html", "report/weekly/2026-W01.csv", "../court/appendix.pdf"]
    assert not any(".tmp" in p or ".staging" in p for p in paths)
    r = _run("evidence", "verify", op_file)
    assert r.exit_code == 0 and r.output.endswith("evidence verify: OK\n"), r.output
    assert f"{len(paths)} of {len(paths)} file(s) as sealed" in r.output
    # changed and removed afterwards: verify, without --include, names both
    (outputs / "report" / "index.html").write_text("<h1>report, edited</h1>")
    (outputs.parent / "court" / "appendix.pdf").unlink()
    r = _run("evidence", "verify", op_file)
    assert r.exit_code == 3, r.output
    n = len(paths)
    assert f"changed: report/index.html (entry {n - 2}: sealed 15 bytes" in r.output
    assert f"removed: ../court/appendix.pdf (entry {n})" in r.output
    assert "evidence verify: 2 fault(s)" in r.output and "OK" not in r.output


def test_a_removed_file_of_an_included_directory_is_named(outputs: Path):
    op = load_operation(outputs / "operation.toml")
    seal(op, include=[outputs / "report"])
    (outputs / "report" / "weekly" / "2026-W01.csv").unlink()
    res = verify(load_operation(outputs / "operation.toml"))
    assert not res.ok and len(res.faults) == 1 and res.faults[0].startswith("removed: report/weekly/2026-W01.csv (entry ")


def test_include_relative_to_the_current_directory_and_sealed_once(outputs: Path, monkeypatch):
    monkeypatch.chdir(outputs.parent)
    op = load_operation(outputs / "operation.toml")
    first = seal(op, include=["case/report"])
    assert [e.path for e in first.added][-2:] == ["report/index.html", "report/weekly/2026-W01.csv"]
    (outputs / "report" / "weekly" / "2026-W02.csv").write_text("week,ips\n2026-W02,9\n")
    again = seal(op, include=["case/report"])
    assert [e.path for e in again.added] == ["report/weekly/2026-W02.csv"]  # only the new file
    assert seal(op).added == []  # without --include, files not sealed yet outside the storage stay out


def test_a_missing_include_is_one_line_and_seals_nothing(outputs: Path, monkeypatch, capsys):
    monkeypatch.chdir(outputs)
    monkeypatch.setattr("sys.argv", ["takedown", "evidence", "seal", "operation.toml",
                                     "--include", "report", "--include", "exports"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 1
    captured = capsys.readouterr()
    assert captured.err == "Error: cannot seal exports: no such file or directory (nothing sealed)\n"
    assert captured.out == "" and not (outputs / "data" / "evidence").exists()


def test_the_storage_keeps_its_rules_inside_an_included_directory(outputs: Path):
    """The operation's whole directory included: the report is sealed, but
    not the storage's open days, secrets, databases or the manifest."""
    op = load_operation(outputs / "operation.toml")
    paths = [e.path for e in seal(op, include=[outputs]).added]
    assert "report/index.html" in paths and "data/report/index.html" in paths
    assert "data/events/kind=http/date=2026-01-01/http-s1-0.parquet" in paths
    for left_out in ("date=2026-01-02", "kind=dns", "privacy.key", "tracker.sqlite", "evidence/", ".tmp"):
        assert not any(left_out in p for p in paths), (left_out, paths)
    assert len(paths) == len(set(paths))  # files the storage seals are not sealed twice
    assert verify(op).ok


def test_linked_directories_are_followed_once(outputs: Path):
    """A directory export is published as a link to a hidden versioned
    directory (the tracker's MISP feed): sealed under the link's name; a link
    out of the named directory (here, up to the operation's) is not followed."""
    exports = outputs / "exports"
    (exports / ".misp.0").mkdir(parents=True)
    (exports / ".misp.0" / "manifest.json").write_text("{}")
    os.symlink(".misp.0", exports / "misp")
    os.symlink("..", exports / "up")
    op = load_operation(outputs / "operation.toml")
    paths = [e.path for e in seal(op, include=[exports]).added]
    assert [p for p in paths if p.startswith("exports/")] == ["exports/misp/manifest.json"]
    assert "report/index.html" not in paths and not any("/up/" in p for p in paths), paths


def test_case_evidence_is_sealed_and_an_absent_path_waits(outputs: Path):
    make_operation(outputs, extra_toml=CASE + 'evidence = ["report", "exports"]\n')
    op = load_operation(outputs / "operation.toml")
    assert op.case.evidence == (outputs / "report", outputs / "exports")
    r = _run("evidence", "seal", str(outputs / "operation.toml"))
    assert r.exit_code == 0, r.output
    assert "sealed report/index.html\t" in r.output and "sealed report/weekly/2026-W01.csv\t" in r.output
    assert f"not there yet, not sealed: {outputs / 'exports'} ([case] evidence)" in r.output
    (outputs / "exports").mkdir()
    (outputs / "exports" / "rpz.zone").write_text("$ORIGIN rpz.\n")
    done = seal(op)
    assert [e.path for e in done.added] == ["exports/rpz.zone"] and done.absent == []
    (outputs / "exports" / "rpz.zone").write_text("$ORIGIN rpz.\nx CNAME .\n")
    r = _run("evidence", "verify", str(outputs / "operation.toml"))
    assert r.exit_code == 3 and "changed: exports/rpz.zone (entry " in r.output, r.output


def test_case_evidence_must_be_paths(op_dir: Path):  # noqa: F811
    make_operation(op_dir, extra_toml=CASE + "evidence = [\"report\", 3]\n")
    with pytest.raises(OperationError, match=r"operation.toml:\d+: case.evidence\[1\] must be a string, not 3"):
        load_operation(op_dir / "operation.toml")


def test_serve_seals_case_evidence_with_the_closed_days(tmp_path: Path, capfd):
    op_path = write_operation(tmp_path, 'seal = true\nevidence = ["report", "exports"]')
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "index.html").write_text("<h1>report</h1>")
    storage = tmp_path / "data"
    write_past_day(storage)
    compact_mod.compact(storage)
    sup = Supervisor(op_path, rt_mod.Overrides(), rt_mod.build(op_path), [], None)
    assert _seal_once(sup) == 0
    log = capfd.readouterr().err
    assert f"[case] evidence not there yet: {tmp_path / 'exports'}" in log, log
    assert "report/index.html" in _paths(storage / "evidence" / "manifest.jsonl")
    assert verify(load_operation(op_path)).ok


def test_the_cli_help_names_include():
    r = CliRunner().invoke(app, ["evidence", "seal", "--help"], terminal_width=200)
    assert r.exit_code == 0 and "--include" in r.output and "repeatable" in r.output, r.output


def test_a_file_named_with_a_tab_is_refused(outputs: Path):
    odd = outputs / "report" / "a\tb.csv"
    odd.write_text("x")
    with pytest.raises(EvidenceError, match="a tab or newline in its name"):
        seal(load_operation(outputs / "operation.toml"), include=[outputs / "report"])
