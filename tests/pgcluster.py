"""A throwaway PostgreSQL cluster for the tests: Debian's binaries, a temporary folder, a free port, trust auth.

`initdb` refuses to run as root (libraries.md §9), so as root the cluster runs as the `postgres` user. Start it
once per test session (the `pg_cluster` fixture: about 3 s) and give each test its own empty database (`fresh`).
Without the binaries the tests that need it are skipped with the reason (`.ci/run` installs `postgresql`).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
BIN = Path(BINARIES[-1]) if BINARIES else None
AS_ROOT = os.geteuid() == 0
HAS_POSTGRES_USER = any(u.pw_name == "postgres" for u in pwd.getpwall())


def missing_reason() -> str | None:
    """Why no cluster can be started here, or None."""
    if BIN is None or not (BIN / "initdb").exists():
        return "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb; .ci/run installs `postgresql`)"
    if AS_ROOT and not HAS_POSTGRES_USER:
        return "running as root without a `postgres` user to run initdb as"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    """initdb + pg_ctl start on a free port; `url(db)` for SQLAlchemy; `stop()` removes everything."""

    def __init__(self) -> None:
        assert BIN is not None
        self.folder = Path(tempfile.mkdtemp(prefix="pgcluster-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.names = itertools.count(1)
        if AS_ROOT:
            shutil.chown(self.folder, "postgres", "postgres")

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(BIN / args[0]), *args[1:]]
        if AS_ROOT:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    def start(self) -> PgCluster:
        steps = (("initdb", "-D", str(self.data), "-A", "trust", "-U", "farm", "--no-sync"),
                 ("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.folder / "log"), "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start"))
        for step in steps:
            done = self._run(*step)
            if done.returncode != 0:
                log = (self.folder / "log").read_text() if (self.folder / "log").exists() else ""
                self.stop()
                raise AssertionError(f"{step[0]} failed: {done.stdout}{done.stderr}{log}")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://farm@127.0.0.1:{self.port}/{database}"

    def fresh(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"t{next(self.names)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=farm dbname=postgres", autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One cluster for the whole session; skipped, with the reason, where PostgreSQL is missing."""
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    cluster = PgCluster().start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            cluster.stop()
