"""A zone's history as CSV for the tenant's own records: one row a minute, one column a series.

Why this shape: a farmer opens it in Excel. UTF-8 with a BOM, or Excel reads Korean headers as mojibake; a local
(Asia/Seoul) time column to read and a UTC column to join with other data; wide by time (one column per series)
so a row is one moment. One-minute means come from the historian's 1-minute roll-up, kept for a year, so a
whole lease exports at one resolution (raw rows are kept only 30 days). The window [start, end) is already
clipped by tenancy; rows are read and written a few days at a time (CHUNK), so a season's export never holds
more than those days of samples in memory.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from farmcore.historian.base import Historian, Sample
from portal.service import texts
from portal.service.history import (
    EPOCH,
    NOTHING_HELD,
    Carry,
    hold_setpoint,
    label,
    numeric_series,
    reading,
    unit_of,
)
from portal.service.model import SEOUL, ZoneKey

CSV_EVERY = timedelta(minutes=1)
# Read and written 4 days (5,760 rows) at a time: enough windows that SQLite answers each series by one scan, not
# a seek per window (30 days of 9 series, benchmarks/portal.py's data: 1.6 s against 2.3-3.0 s by 1-day pieces),
# while Python holds at most ~24 MiB at once (7 MiB by 1-day pieces; the whole 30 days at once would hold ~7x).
CHUNK = timedelta(days=4)
BOM = "\ufeff".encode()
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # what Excel reads as a date and time in either language


@dataclass(frozen=True)
class Column:
    kind: str  # sensor | setpoint
    name: str
    unit: str

    def header(self, lang: str) -> str:
        name = texts.quantity(self.name, lang)
        if self.kind == "setpoint":
            name = f"{name} {texts.t('band:setpoint', lang)}"
        unit = texts.unit(self.unit)
        return f"{name} ({unit})" if unit else name


def csv_columns(historian: Historian, key: ZoneKey, units: Mapping[str, str] | None = None) -> list[Column]:
    """The zone's numeric sensor series, then its setpoints, in the historian's catalog order."""
    with reading(key):
        tagged = numeric_series(historian.catalog(site=key.site, zone=key.zone))
    return [Column(kind, name, unit_of(tagged, units, kind, name))
            for wanted in ("sensor", "setpoint") for kind, name in tagged if kind == wanted]


def iter_csv(historian: Historian, key: ZoneKey, start: datetime, end: datetime, lang: str = "ko", *,
             units: Mapping[str, str] | None = None, every: timedelta = CSV_EVERY) -> Iterator[bytes]:
    """The CSV in pieces (the BOM and header, then CHUNK of rows at a time); HistoryUnavailable on a failure."""
    columns = csv_columns(historian, key, units)
    yield BOM + _rows([[label("time_local", lang), label("time_utc", lang), *(c.header(lang) for c in columns)]])
    carry: dict[str, Carry] = {}
    for lo, hi in _chunks(start, end, every):
        with reading(key):
            sensors = _query(historian, key, [c.name for c in columns if c.kind == "sensor"], lo, hi, every,
                             "sensor", "mean")
            setpoints = _query(historian, key, [c.name for c in columns if c.kind == "setpoint"], lo, hi, every,
                               "setpoint", "last")
        cells: list[list[float | None] | None] = []
        for c in columns:
            if c.kind == "sensor":
                got = sensors.get(c.name)
                cells.append([s.value for s in got] if got else None)
            else:
                got = setpoints.get(c.name)
                filled, carry[c.name] = hold_setpoint([s.value for s in got] if got else [], every,
                                                      carry.get(c.name, NOTHING_HELD))
                cells.append(filled if got else None)
        rows = _wide(lo, hi, every, cells)
        if rows:
            yield _rows(rows)


def csv_export(historian: Historian, key: ZoneKey, start: datetime, end: datetime, lang: str = "ko", *,
               units: Mapping[str, str] | None = None) -> bytes:
    """The whole CSV of [start, end) as bytes (what a download button takes)."""
    return b"".join(iter_csv(historian, key, start, end, lang, units=units))


def _query(historian: Historian, key: ZoneKey, names: Sequence[str], lo: datetime, hi: datetime, every: timedelta,
           kind: str, agg: str) -> dict[str, list[Sample]]:
    if not names:
        return {}
    return historian.query(site=key.site, zone=key.zone, names=names, start=lo, end=hi, every=every,
                           agg=agg, kind=kind)  # type: ignore[arg-type]


def _chunks(start: datetime, end: datetime, every: timedelta) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) cut at epoch-aligned multiples of CHUNK, so no window of `every` is split between chunks."""
    lo = start
    while lo < end:
        hi = min(end, EPOCH + ((lo - EPOCH) // CHUNK + 1) * CHUNK)
        yield lo, hi
        lo = hi


def _wide(lo: datetime, hi: datetime, every: timedelta, cells: list[list[float | None] | None]) -> list[list[str]]:
    """One row per window holding a value in any column: local time, UTC, then the columns. The first window,
    which may begin before `lo`, is stamped `lo` (nothing before the window is shown)."""
    first = EPOCH + ((lo - EPOCH) // every) * every
    n = (hi - first + every - timedelta(microseconds=1)) // every
    rows = []
    for i in range(n):
        values = [None if col is None or i >= len(col) else col[i] for col in cells]
        if all(v is None for v in values):
            continue
        when = max(first + i * every, lo)
        rows.append([when.astimezone(SEOUL).strftime(TIME_FORMAT), when.strftime(TIME_FORMAT),
                     *("" if v is None else f"{v:.6g}" for v in values)])  # 6 digits: finer than any sensor
    return rows


def _rows(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)  # CRLF: what Excel writes and expects
    return buf.getvalue().encode("utf-8")
