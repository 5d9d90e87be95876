"""The SQLite historian's listings: its sites, a zone's series, and event points read back as events.

Pure reads on one connection inside the caller's read transaction (`SqliteHistorian._read`), so the inbox and
the tables it is compacted into are seen at one instant; kept apart from sqlite.py, which holds the write
path and the range queries.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from farmcore.historian.base import Event, FieldValue, SeriesInfo, newest_events

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def from_ms(t: int) -> datetime:
    """Integer milliseconds since the epoch -> a UTC datetime."""
    return EPOCH + timedelta(0, t // 1000, t % 1000 * 1000)


def typed_value(vtype: str, v: float | None) -> FieldValue:
    """A stored number given back with its series' value type (b bool, i int, f float)."""
    if v is None:
        return math.nan  # the point carried NaN (stored as NULL)
    if vtype == "b":
        return bool(v)
    if vtype == "i":
        return int(v)
    return float(v)


def sites(conn: sqlite3.Connection) -> list[str]:
    """The site ids that have data, sorted."""
    return [r[0] for r in conn.execute("SELECT DISTINCT site FROM series ORDER BY site")]


def catalog(conn: sqlite3.Connection, site: str, zone: str) -> list[SeriesInfo]:
    """Every series of a zone by name, kind and field; the unit is the `unit` tag of its newest numeric row."""
    out = []
    tagsets = dict(conn.execute("SELECT id, json FROM tagsets"))
    for sid, kind, name, field, vtype in conn.execute(
            "SELECT id, kind, name, field, vtype FROM series WHERE site = ? AND zone = ?"
            " ORDER BY name, kind, field", (site, zone)):
        unit = None
        row = conn.execute("SELECT g FROM samples WHERE series_id = ? ORDER BY t DESC LIMIT 1", (sid,)).fetchone()
        if row is None:
            row = conn.execute("SELECT g FROM inbox WHERE series_id = ? ORDER BY rowid DESC LIMIT 1",
                               (sid,)).fetchone()
        if row is not None and row[0] is not None:
            unit = json.loads(tagsets.get(row[0], "{}")).get("unit")
        out.append(SeriesInfo(kind=kind, name=name, field=field, numeric=vtype != "t", unit=unit))
    return out


def events(conn: sqlite3.Connection, *, site: str, zone: str | None, lo: int, hi: int,
           codes: Sequence[str] | None, limit: int) -> list[Event]:
    """Event points in [lo, hi) ms, newest `limit`, newest last. Each field of an event is its own series, so
    the fields of one (zone, code, millisecond) are put back together; each series gives at most its newest
    `limit` rows (enough: an event among the newest `limit` is among the newest `limit` of each of its series)."""
    where = "site = ? AND kind = 'event'"
    args: list[Any] = [site]
    if zone is not None:
        where += " AND zone = ?"
        args.append(zone)
    if codes is not None:
        if not codes:
            return []
        where += f" AND name IN ({','.join('?' * len(codes))})"
        args += list(codes)
    series = {sid: (z, name, field, vtype) for sid, z, name, field, vtype in
              conn.execute(f"SELECT id, zone, name, field, vtype FROM series WHERE {where}", args)}
    if not series:
        return []
    found: dict[tuple[str, str, int], dict[str, FieldValue]] = {}

    def put(sid: int, t: int, value: FieldValue) -> None:
        z, name, field, _ = series[sid]
        found.setdefault((z, name, t), {})[field] = value

    window = (lo, hi, limit)
    for sid, (_, _, _, vtype) in series.items():
        for t, v in conn.execute("SELECT t, v FROM samples WHERE series_id = ? AND t >= ? AND t < ?"
                                 " ORDER BY t DESC LIMIT ?", (sid, *window)):
            put(sid, t, typed_value(vtype, v))
        for t, s in conn.execute("SELECT t, s FROM texts WHERE series_id = ? AND t >= ? AND t < ?"
                                 " ORDER BY t DESC LIMIT ?", (sid, *window)):
            put(sid, t, s)
    for sid, t, v in conn.execute(  # the inbox has no index: one pass for every series, later rows win
            f"SELECT i.series_id, i.t, i.v FROM inbox i JOIN series s ON s.id = i.series_id WHERE {where}"
            " AND i.t >= ? AND i.t < ? ORDER BY i.rowid", (*args, lo, hi)):
        put(sid, t, typed_value(series[sid][3], v))
    return newest_events([Event(time=from_ms(t), site=site, zone=z, code=name,
                                message=m if isinstance(m := fields.get("message"), str) else None, fields=fields)
                          for (z, name, t), fields in found.items()], limit)
