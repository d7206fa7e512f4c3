"""Fixtures shared by the test files.

``tracker_url``: a fresh, empty tracker database per test, once on SQLite
and once on PostgreSQL (a private server on loopback, started once per test
session by ``harness.postgres``): every test that takes it runs against
both. Without PostgreSQL installed the PostgreSQL half fails, saying to run
``scripts/bootstrap --test``; TAKEDOWN_TESTS_NO_POSTGRES=1 skips it instead
(a machine where it cannot be installed)."""

from __future__ import annotations

import itertools
import os

import pytest

_databases = itertools.count(1)


@pytest.fixture(scope="session")
def postgres():
    """A private PostgreSQL server for the session (harness.postgres)."""
    from harness import postgres as pg

    if not pg.available():
        if os.environ.get("TAKEDOWN_TESTS_NO_POSTGRES") == "1":
            pytest.skip("PostgreSQL not installed and TAKEDOWN_TESTS_NO_POSTGRES=1")
        pytest.fail("PostgreSQL is not installed (no initdb): run scripts/bootstrap --test")
    instance = pg.start_postgres()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def tracker_url(request, tmp_path):
    """The URL of a new, empty tracker database (SQLite, then PostgreSQL)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tracker.sqlite'}"
        return
    server, name = request.getfixturevalue("postgres"), f"tracker_{os.getpid()}_{next(_databases)}"
    yield server.create_database(name)
    server.drop_database(name)


@pytest.fixture
def console(tmp_path):
    """An operation with a console, two partners and three users (tests/console_helpers.py)."""
    from console_helpers import make_console

    c = make_console(tmp_path / "console")
    yield c
    c.store.close()
