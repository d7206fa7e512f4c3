"""The atheris harnesses of fuzz/ (docs/fuzzing.md): each one runs briefly
through fuzz/run.py (what `make fuzz` runs) in a subprocess and must finish
without a crash or a hang; every crashing input the campaign found is kept
in tests/fuzz_corpus/<target>/ and replayed here through its harness, so a
fixed crash stays fixed."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FUZZ = REPO / "fuzz"
CORPUS = Path(__file__).resolve().parent / "fuzz_corpus"

# Inputs per harness: about two seconds each on the 2-core test machine.
RUNS = {
    "dns_query": 40_000, "proxy": 40_000, "tls_hello": 30_000, "dns_responder": 20_000, "http_request": 6_000,
    "net_connection": 3_000, "zonefile": 1_000, "operation": 2_000, "rules": 1_500, "scenario": 3_000,
}


def test_every_harness_is_run():
    sys.path.insert(0, str(FUZZ))
    from run import TARGETS

    assert set(RUNS) == set(TARGETS) == {p.stem.removeprefix("fuzz_") for p in FUZZ.glob("fuzz_*.py")}


@pytest.mark.parametrize("target", sorted(RUNS))
def test_harness_runs_without_a_crash(target, tmp_path):
    proc = subprocess.run(
        [sys.executable, str(FUZZ / "run.py"), "--out", str(tmp_path), "--runs", str(RUNS[target]),
         "--seconds", "30", "--seed", "1", target],
        capture_output=True, text=True, timeout=180, cwd=REPO,
    )
    log = (tmp_path / "logs" / f"{target}.log").read_text(errors="replace")
    assert proc.returncode == 0, proc.stdout + proc.stderr + log[-3000:]
    (res,) = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert res["crashes"] == [] and res["exit"] == 0
    # the harness really ran the target: inputs executed, coverage of takedown's code reached
    assert res["inputs"] > 0 and res["cov"] > 50, log[-3000:]
    assert "Instrumenting takedown" in log


def _kept() -> list[tuple[str, Path]]:
    return [(d.name, f) for d in sorted(CORPUS.iterdir()) if d.is_dir() for f in sorted(d.iterdir())]


@pytest.mark.parametrize("target,path", _kept(), ids=lambda v: v.name if isinstance(v, Path) else v)
def test_kept_crash_is_fixed(target, path):
    """A crashing input found by the campaign no longer crashes its harness."""
    sys.path.insert(0, str(FUZZ))
    harness = importlib.import_module(f"fuzz_{target}")
    harness.TestOneInput(path.read_bytes())
