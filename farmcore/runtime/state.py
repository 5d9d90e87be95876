"""What the daemon must remember across a restart or a kill -9: controller sums and timers, actuator positions,
and every scheduler run (so a duplicated run would be seen, not silently repeated).

One small SQLite file in the state directory (WAL, synchronous=NORMAL: a crash loses at most the last
moments of state, never the file); written from the daemon's event loop only.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (zone TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
                               PRIMARY KEY (zone, key));
CREATE TABLE IF NOT EXISTS job_runs (job_id TEXT NOT NULL, scheduled TEXT NOT NULL, ran_at TEXT NOT NULL,
                                     outcome TEXT NOT NULL, PRIMARY KEY (job_id, scheduled));
"""


class StateStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def get(self, zone: str, key: str) -> Any:
        row = self._db.execute("SELECT value FROM kv WHERE zone=? AND key=?", (zone, key)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, zone: str, key: str, value: Any) -> None:
        self._db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)", (zone, key, json.dumps(value)))

    def put_many(self, zone: str, items: dict[str, Any]) -> None:
        self._db.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)",
                             [(zone, k, json.dumps(v)) for k, v in items.items()])

    def items(self, zone: str) -> list[tuple[str, Any]]:
        return [(k, json.loads(v)) for k, v in self._db.execute("SELECT key, value FROM kv WHERE zone=?", (zone,))]

    def delete(self, zone: str, keys: list[str]) -> None:
        self._db.executemany("DELETE FROM kv WHERE zone=? AND key=?", [(zone, k) for k in keys])

    def record_run(self, job_id: str, scheduled: datetime, ran_at: datetime, outcome: str) -> bool:
        """Record one scheduler run; False when this job already ran for this scheduled time (a duplicate)."""
        try:
            self._db.execute("INSERT INTO job_runs VALUES (?, ?, ?, ?)",
                             (job_id, scheduled.isoformat(), ran_at.isoformat(), outcome))
        except sqlite3.IntegrityError:
            return False
        return True

    def runs(self, job_id: str | None = None) -> list[tuple[str, str, str, str]]:
        sql, args = "SELECT job_id, scheduled, ran_at, outcome FROM job_runs", ()
        if job_id is not None:
            sql, args = sql + " WHERE job_id=?", (job_id,)
        return list(self._db.execute(sql + " ORDER BY scheduled", args))

    def close(self) -> None:
        self._db.close()
