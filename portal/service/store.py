"""The portal's database: one engine per `Store`, a short session per call, migrated to the newest schema on open.

Streamlit runs every browser session in its own thread, so a `Store` is shared and each call takes its own
session (`store.session()`), committed or rolled back as a whole. SQLite (the default, in the state folder) runs
every transaction as `BEGIN IMMEDIATE`: writers queue on the file's lock instead of failing half-way, and a check
followed by an insert (a lease overlap) cannot interleave with another thread's. PostgreSQL
(`postgresql+psycopg://...`) serves a central install.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from farmcore.paths import default_state_dir
from portal.service.errors import BadRequest, StoreUnavailable
from portal.service.migrations import migrate

DB_ALLOWED = ("sqlite:///PATH", "postgresql+psycopg://USER@HOST:PORT/DB")


def utc_now(now: datetime | None = None) -> datetime:
    """`now` (aware, any zone) in UTC, or the wall clock: what the store writes and gives back is always UTC."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError(f"naive time {now!r}: the portal takes aware times only")
    return now.astimezone(UTC)


def default_url() -> str:
    """sqlite:///$FARMCTL_STATE_DIR/portal.db (the folder is made when the store opens)."""
    return f"sqlite:///{default_state_dir() / 'portal.db'}"


def parse_db_url(text: str) -> URL:
    """A database URL the portal can use; `postgresql://` means psycopg 3 (the driver installed)."""
    try:
        url = make_url(text)
    except ArgumentError:
        url = None
    if url is None or url.get_backend_name() not in ("sqlite", "postgresql"):
        raise BadRequest("db", f"{text!r}: 다음 형식이어야 합니다: {', '.join(DB_ALLOWED)}",
                         f"{text!r}: allowed are {', '.join(DB_ALLOWED)}")
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        raise BadRequest("db", "sqlite는 파일 경로가 필요합니다 (sqlite:///PATH)",
                         "sqlite needs a file path (sqlite:///PATH): every thread must see one database")
    return url


def _sqlite_setup(engine: Engine) -> None:
    """Foreign keys on, write-ahead log (readers never wait for a writer), BEGIN IMMEDIATE for every transaction."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver leaves transactions to the "begin" hook below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Store:
    """The engine and its session factory; the modules accounts, leases, sites and audit take it first."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str | None = None) -> Store:
        """Open (and make, or upgrade to the newest schema) the database at `url`, default `default_url()`."""
        parsed = parse_db_url(url or default_url())
        if parsed.get_backend_name() == "sqlite":
            assert parsed.database is not None
            try:
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailable(f"{parsed.database}: {exc.strerror}") from exc
            engine = create_engine(parsed, connect_args={"timeout": 30})
            _sqlite_setup(engine)
        else:
            engine = create_engine(parsed, pool_pre_ping=True)
        try:
            migrate(engine)
        except (DBAPIError, NoSuchModuleError) as exc:
            engine.dispose()
            first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise StoreUnavailable(f"{parsed.render_as_string(hide_password=True)}: {first}") from exc
        return cls(engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back when it raises."""
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
