"""The tracker's database: which one, its engine, its migrations.

SQLite is the embedded default, a file ``tracker.sqlite`` under the
operation's storage, opened in WAL mode (readers, an export say, do not
block the writer) with foreign keys enforced. A ``postgresql://`` URL
selects PostgreSQL through the psycopg 3 driver. The schema is built and
changed by the Alembic migrations shipped in ``migrations/``; a database is
used only at the code's head revision:

- a new, empty database is migrated to head when it is first opened;
- an older one is refused until ``takedown db upgrade`` migrates it (a
  migration is a deliberate step an operator takes, after a backup);
- one newer than the code (a revision these migrations do not know) is
  refused: an older takedown must not write a schema it does not know.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from takedown.errors import TrackerError
from takedown.tomlfile import expand_home

__all__ = ["DEFAULT_FILE", "resolve_url", "open_engine", "shown", "errors", "head", "known", "current", "upgrade",
           "upgrade_url", "revision_state", "ensure_current"]

DEFAULT_FILE = "tracker.sqlite"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def resolve_url(db: str | None, storage: Path | None = None) -> str:
    """The database URL: ``db`` (a URL, or a path taken as a SQLite file),
    else the SQLite file under ``storage`` (an operation's storage)."""
    if db:
        if "://" not in db:
            try:
                return f"sqlite:///{expand_home(db).resolve()}"
            except ValueError as e:
                raise TrackerError(f"--db: {db!r}: {e}") from None
        return db
    if storage is not None:
        return f"sqlite:///{Path(storage).resolve() / DEFAULT_FILE}"
    raise TrackerError("no tracker database: give --db URL or --operation FILE "
                       "(or set TAKEDOWN_DB or TAKEDOWN_OPERATION)")


def shown(url: str) -> str:
    """``url`` as messages show it: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _driver_url(url: str):
    try:
        u = make_url(url)
    except ArgumentError:
        raise TrackerError(f"database url {url!r} is not a URL (sqlite:///PATH or postgresql://...)") from None
    backend = u.get_backend_name()
    if backend == "postgres":  # the libpq spelling
        u = u.set(drivername="postgresql")
        backend = "postgresql"
    if backend == "postgresql" and u.get_driver_name() in ("", "psycopg2", "postgresql"):
        u = u.set(drivername="postgresql+psycopg")
    if backend not in ("sqlite", "postgresql"):
        raise TrackerError(f"database url {shown(url)}: only sqlite:/// and postgresql:// are supported")
    return u


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    # WAL with synchronous=NORMAL stays consistent after a crash; it may lose
    # the last transactions on power loss, which a re-import restores.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA cache_size=-65536")  # 64 MiB: a million-row import keeps its indexes in memory
    cur.execute("PRAGMA wal_autocheckpoint=16384")  # 64 MiB of WAL between checkpoints: fewer fsyncs in an import
    cur.close()


def open_engine(url: str) -> Engine:
    """An engine for ``url``, checked by one connection (a one-line
    TrackerError if the database cannot be reached or opened)."""
    u = _driver_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            try:
                Path(u.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise TrackerError(f"cannot open the tracker database {u.database}: {exc.strerror or exc}") from None
        engine = create_engine(u)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(u, pool_pre_ping=True,
                               connect_args={"connect_timeout": int(os.environ.get("TAKEDOWN_DB_TIMEOUT", "10"))})
    with errors(url):
        with engine.connect():
            pass
    return engine


@contextlib.contextmanager
def errors(url: str, doing: str = "use") -> Iterator[None]:
    """Database errors as one-line TrackerErrors naming the database."""
    try:
        yield
    except DBAPIError as exc:
        first = (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]
        raise TrackerError(f"cannot {doing} the tracker database {shown(url)}: {first}") from None
    except SQLAlchemyError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TrackerError(f"cannot {doing} the tracker database {shown(url)}: {first}") from None


def _config(connection=None):
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _script():
    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The revision this code's schema is at."""
    return _script().get_current_head()


def current(engine: Engine) -> str | None:
    """The database's revision; None for a database without one."""
    with errors(str(engine.url)), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def known(rev: str) -> bool:
    try:
        return _script().get_revision(rev) is not None
    except CommandError:
        return False


def _check_known(engine: Engine, rev: str | None) -> None:
    if rev is not None and not known(rev):
        raise TrackerError(f"the tracker database {shown(str(engine.url))} is at revision {rev}, newer than this "
                           f"takedown (head {head()}): use a newer takedown")


def _is_empty(engine: Engine) -> bool:
    with errors(str(engine.url)):
        return not inspect(engine).get_table_names()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Migrate the database to head; (revision before, revision after)."""
    before = current(engine)
    _check_known(engine, before)
    if before is None and not _is_empty(engine):
        raise TrackerError(f"{shown(str(engine.url))} has tables but no tracker revision: "
                           "not a takedown tracker database")
    with errors(str(engine.url), "migrate"), engine.begin() as conn:
        command.upgrade(_config(conn), "head")
    return before, head()


def ensure_current(engine: Engine) -> None:
    """Use a database only at head: a new, empty one is migrated; an older or
    newer one is refused with one line."""
    rev = current(engine)
    if rev == head():
        return
    _check_known(engine, rev)
    if rev is None and _is_empty(engine):
        upgrade(engine)
        return
    if rev is None:
        raise TrackerError(f"{shown(str(engine.url))} has tables but no tracker revision: "
                           "not a takedown tracker database")
    raise TrackerError(f"the tracker database {shown(str(engine.url))} is at revision {rev}, older than this "
                       f"takedown (head {head()}): run `takedown db upgrade` (after a backup)")


def upgrade_url(url: str) -> tuple[str | None, str]:
    """:func:`upgrade` the database at ``url`` (``takedown db upgrade``)."""
    engine = open_engine(url)
    try:
        return upgrade(engine)
    finally:
        engine.dispose()


def revision_state(url: str) -> tuple[str | None, str, str]:
    """The database's revision, the code's, and what that means (``takedown db current``)."""
    engine = open_engine(url)
    try:
        rev = current(engine)
    finally:
        engine.dispose()
    state = ("up to date" if rev == head() else "empty: made at the first use" if rev is None
             else "newer than this takedown" if not known(rev) else "older: run takedown db upgrade")
    return rev, head(), state
