"""The portal's schema, made and moved by Alembic revisions (`versions/`), run from code: no alembic.ini.

`migrate` brings any database to the newest revision: `Store.open` and `farmctl portal` call it on every start, so
a new release upgrades its database by itself, and an up-to-date one is left as it is. A new revision: write
`versions/NNNN_what.py` by hand (or `alembic.command.revision(config(connection), "what", autogenerate=True)`).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, text

HERE = Path(__file__).resolve().parent
MIGRATE_LOCK = 4_017_017  # a PostgreSQL advisory lock: two processes starting at once migrate one after the other


def config(connection: Connection) -> Config:
    """Alembic's configuration for the revisions here, on an open connection."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision this release knows."""
    return str(ScriptDirectory(str(HERE)).get_current_head())


def current(connection: Connection) -> str | None:
    """The revision a database is at (None: never migrated)."""
    return MigrationContext.configure(connection).get_current_revision()


def migrate(target: Engine | str) -> None:
    """Upgrade the database at `target` (an engine or a URL) to `head()`; a no-op when it is there already."""
    engine = create_engine(target) if isinstance(target, str) else target
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATE_LOCK})
            command.upgrade(config(connection), "head")
    finally:
        if isinstance(target, str):
            engine.dispose()
