"""A private PostgreSQL instance on loopback, for tests and benchmarks.

The tracker's store runs on PostgreSQL as well as SQLite; the tests and
``bench/tracker_bench.py`` check it against a real server that they start
themselves from Debian's ``postgresql`` package (``scripts/bootstrap``
installs it): ``initdb`` in a fresh temporary directory, the server
listening on 127.0.0.1 and a free high port only, its unix socket in that
directory, trust authentication for the one local superuser. PostgreSQL
refuses to run as root, so as root (CI) the directory is given to
``nobody`` and every program runs through ``runuser -u nobody``; as another
user the programs run directly.

    pg = start_postgres()
    try:
        url = pg.create_database("tracker")   # postgresql://takedown@127.0.0.1:PORT/tracker
    finally:
        pg.stop()                              # pg_ctl stop -m fast, directory removed
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.peers import PeerError, free_port

__all__ = ["PostgresInstance", "available", "bindir", "start_postgres"]

SUPERUSER = "takedown"
_RUN_AS = "nobody"  # PostgreSQL's programs refuse root


def bindir() -> Path | None:
    """Debian's PostgreSQL programs (the newest installed major version), or
    those on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def available() -> bool:
    return bindir() is not None


def _as_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", _RUN_AS, "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str], what: str, timeout: float = 120) -> None:
    p = subprocess.run(_as_user(argv), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise PeerError(f"{what} failed (exit {p.returncode}): {(p.stderr or p.stdout).strip()[-800:]}")


@dataclass
class PostgresInstance:
    bindir: Path
    workdir: Path
    port: int
    host: str = "127.0.0.1"
    running: bool = True

    @property
    def data(self) -> Path:
        return self.workdir / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host=self.host, port=self.port, user=SUPERUSER, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, name: str) -> str:
        """A new, empty database; its URL."""
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Remove a database, ending the sessions still on it (a test's
        pooled connections); its buffers are not left for the shutdown to write."""
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server (fast shutdown: sessions are ended) and remove its directory."""
        if self.running:
            self.running = False
            try:
                _run([str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast", "-w"], "pg_ctl stop")
            finally:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "PostgresInstance":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_postgres(*, durable: bool = False, timeout: float = 60) -> PostgresInstance:
    """initdb and start a private server; ``durable=False`` (tests) turns
    fsync off: a test database need not survive a power cut, and the tests
    run several times faster for it."""
    bins = bindir()
    if bins is None:
        raise PeerError("PostgreSQL is not installed (no initdb): run scripts/bootstrap --test")
    # not under pytest's tmp_path: its parents are private to root, and the
    # server runs as nobody
    workdir = Path(tempfile.mkdtemp(prefix="takedown-pg-"))
    if os.geteuid() == 0:
        pw = pwd.getpwnam(_RUN_AS)
        os.chown(workdir, pw.pw_uid, pw.pw_gid)
    try:
        _run([str(bins / "initdb"), "-D", str(workdir / "data"), "-U", SUPERUSER, "--auth=trust",
              "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions"], "initdb")
        port = free_port()
        opts = [f"-p {port}", "-c listen_addresses=127.0.0.1", f"-k {workdir}", "-c max_connections=50"]
        if not durable:
            opts += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        _run([str(bins / "pg_ctl"), "start", "-D", str(workdir / "data"), "-l", str(workdir / "server.log"),
              "-w", "-t", str(int(timeout)), "-o", " ".join(opts)], f"pg_ctl start (log: {workdir / 'server.log'})",
             timeout=timeout + 10)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return PostgresInstance(bins, workdir, port)
