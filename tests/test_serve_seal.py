"""`takedown serve` with `[case] seal = true` seals each closed event day
into the evidence chain (issue 17, point 5): once serve has compacted a past
day, the manifest lists the day's compacted files (time-stamped with
`[case] tsa`) and `takedown evidence verify` passes; with `seal = false`
nothing is sealed; a failed seal is one line and is tried again."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from net_helpers import TAKEDOWN, operation_text
from test_compact import _cli_env, write_segments
from test_console_commands import CASE, command_row, write_commands
from test_evidence import tsa  # noqa: F401  (the fixture: an RFC 3161 TSA on loopback)

from takedown import runtime as rt_mod
from takedown.evidence import chain
from takedown.evidence.collect import closed_days
from takedown.evidence.seal import verify
from takedown.operation import load_operation
from takedown.serve import Supervisor
from takedown.store import compact as compact_mod
from takedown.store.compact import MANIFEST


def write_operation(d: Path, case: str) -> Path:
    """One worker, compaction as soon as a day ends (the smallest compact_after), and ``case`` lines."""
    op = d / "operation.toml"
    lines = CASE.replace("\n[[case.authorities]]", f"{case}\n\n[[case.authorities]]", 1)  # in [case], before its tables
    op.write_text(operation_text(0, "sealtest", "workers = 1\n[events]\ncompact_after = 0\n" + lines))
    return op


def yesterday() -> datetime:
    day = datetime.now(UTC).date() - timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def write_past_day(storage: Path) -> str:
    """Yesterday's DNS segments and command events, as serve's workers leave them; the day, ISO."""
    day = yesterday()
    write_segments(storage, day.date(), files=4, workers=1)
    write_commands(storage, [command_row(day.timestamp() + 60 * i, f"192.0.2.{i}", 1000 + i) for i in range(4)])
    return day.date().isoformat()


def day_files(storage: Path, kind: str, day: str) -> list[str]:
    """The day's files, relative to the operation's directory, as the manifest names them."""
    return sorted(p.relative_to(storage.parent).as_posix()
                  for p in (storage / "events" / f"kind={kind}" / f"date={day}").glob("*.parquet"))


def sealed_paths(storage: Path) -> set[str]:
    return {e.path for e in chain.read_manifest(storage / "evidence" / "manifest.jsonl")}


def start(op: Path, d: Path) -> subprocess.Popen:
    with open(d / "serve.stderr", "wb") as err:
        return subprocess.Popen([TAKEDOWN, "serve", str(op)], cwd=d, env=_cli_env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0


def until(proc: subprocess.Popen, d: Path, done, timeout: float = 40.0) -> None:
    end = time.monotonic() + timeout
    while not done():
        assert proc.poll() is None and time.monotonic() < end, (d / "serve.stderr").read_text()
        time.sleep(0.1)


def test_serve_seals_a_compacted_day_with_a_time_stamp(tmp_path, tsa):  # noqa: F811
    url, ca, seen = tsa
    op = write_operation(tmp_path, f'seal = true\ntsa = "{url}"')
    storage = tmp_path / "data"
    day = write_past_day(storage)
    proc = start(op, tmp_path)
    try:
        compacted = lambda k: (storage / "events" / f"kind={k}" / f"date={day}" / MANIFEST).exists()  # noqa: E731

        def sealed() -> bool:  # the day's compacted files, not its segments, are in the manifest
            return compacted("dns") and compacted("command") and \
                set(day_files(storage, "dns", day) + day_files(storage, "command", day)) <= sealed_paths(storage)

        until(proc, tmp_path, sealed)
        until(proc, tmp_path, lambda: "sealed " in (tmp_path / "serve.stderr").read_text())
        log = (tmp_path / "serve.stderr").read_text()
        assert "; chain head time-stamped at " in log and seen == ["application/timestamp-query"]
        assert len(day_files(storage, "dns", day)) == 1 and len(day_files(storage, "command", day)) == 1
        assert "operation.toml" in sealed_paths(storage)  # as `takedown evidence seal` does: the operation too
        assert proc.poll() is None  # serving goes on
    finally:
        stop(proc)
    r = subprocess.run([TAKEDOWN, "evidence", "verify", str(op), "--tsa-ca", str(ca)], env=_cli_env(),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.endswith("evidence verify: OK\n"), r.stdout + r.stderr
    assert "time-stamp 0000000" in r.stdout


def test_serve_without_seal_seals_nothing(tmp_path):
    op = write_operation(tmp_path, "seal = false")
    storage = tmp_path / "data"
    day = write_past_day(storage)
    proc = start(op, tmp_path)
    try:
        until(proc, tmp_path, lambda: all((storage / "events" / f"kind={k}" / f"date={day}" / MANIFEST).exists()
                                          for k in ("dns", "command")))
        time.sleep(2.0)  # with seal = true the manifest is there well within this (the test above)
        assert not (storage / "evidence").exists()
        assert "sealed" not in (tmp_path / "serve.stderr").read_text()
    finally:
        stop(proc)


def _seal_once(sup: Supervisor) -> int | None:
    """One look of the parent; if it forked a sealer, wait for it and reap it as the loop does."""
    sup.maybe_seal()
    if sup.sealer is None:
        return None
    _pid, status = os.waitpid(sup.sealer, 0)
    sup._sealer_done(status)
    return status


def test_a_failed_seal_is_one_line_and_tried_again(tmp_path, capfd):
    op_path = write_operation(tmp_path, "seal = true")
    storage = tmp_path / "data"
    write_past_day(storage)
    compact_mod.compact(storage)
    (storage / "evidence").write_text("in the way")  # the manifest's directory cannot be made
    sup = Supervisor(op_path, rt_mod.Overrides(), rt_mod.build(op_path), [], None)
    try:
        assert _seal_once(sup) != 0
        err = capfd.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith("takedown: sealing the evidence (tried again in a minute) "
                                                   "failed: cannot write "), err
        assert sup.sealed == set() and sup.next_seal > time.monotonic() + 50
        assert _seal_once(sup) is None  # not before the next look is due
        (storage / "evidence").unlink()
        sup.next_seal = 0.0  # a minute later
        assert _seal_once(sup) == 0
        assert "sealed " in capfd.readouterr().err
        op = load_operation(op_path)
        assert sup.sealed == set(closed_days(op)[0]) and len(sup.sealed) == 2
        assert verify(op).ok
        sup.next_seal = 0.0
        assert _seal_once(sup) is None  # nothing closed since: no sealer
        sup.compactor = 1  # a compaction running: no look until it has finished
        sup.sealed.clear()
        sup.next_seal = 0.0
        assert _seal_once(sup) is None
    finally:
        sup.compactor = None
