"""Flux for the InfluxDB back-end's listings (sites, a zone's series, events) and the literals every Flux
query of ours is built from; pure: text in, text out, and the parsing of influxdb-client's FluxTables.

- `sites`: `schema.tagValues` of the tag `site` over all time (the storage's tag index, no data read).
- `catalog`: `last()` of every series of the zone. The schema functions (`schema.measurementFieldKeys`,
  `schema.tagValues`) give names but neither a field's type (numeric or text) nor its `unit` tag, which the
  export's columns need; `last()` gives both and is pushed down to the storage by InfluxDB 2.
- `events`: points of measurement `event`, one table per field and tag set, each cut to its newest `limit`
  rows with `tail()` (an event among the newest `limit` is among the newest `limit` of each of its tables),
  joined back into events here: Flux cannot put string and number columns of one event in one table
  (`group()` of mixed types is a runtime "schema collision").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from farmcore.errors import BadInput
from farmcore.historian.base import Event, FieldValue, SeriesInfo, newest_events
from farmcore.historian.lineproto import INT_FIELDS_TAG

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def flux_string(text: str) -> str:
    """A Flux string literal: backslash, double quote and `${` (interpolation) escaped."""
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
               .replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t"))
    return f'"{escaped}"'


def flux_time(when: datetime) -> str:
    """An RFC 3339 UTC time literal (microseconds when not whole seconds)."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise BadInput(f"time {when.isoformat()} has no time zone; give UTC (…Z or +00:00) or a local offset")
    utc = when.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}"
    return text + "Z"


def flux_duration(every: timedelta) -> str:
    """A Flux duration literal in the largest whole unit: 1h, 15m, 30s, 250ms, 10us."""
    us = every // _US
    if us <= 0 or every % _US:
        raise BadInput(f"every {every}: a positive whole number of microseconds")
    for unit, size in (("h", 3_600_000_000), ("m", 60_000_000), ("s", 1_000_000), ("ms", 1_000)):
        if us % size == 0:
            return f"{us // size}{unit}"
    return f"{us}us"


def any_of(column: str, values: Iterable[str]) -> str:
    """A Flux predicate: the column equals one of the values."""
    return " or ".join(f"r.{column} == {flux_string(v)}" for v in values)


def field_value(record: Any) -> FieldValue:
    """A record's value, an integer written as a float (named in the `int_fields` tag) given back as an int."""
    value = record.get_value()
    if isinstance(value, float) and value.is_integer() and \
            record.get_field() in (record.values.get(INT_FIELDS_TAG) or "").split(","):
        return int(value)
    return value


# ---------------------------------------------------------------------------------------------- Flux text


def flux_sites(*, bucket: str) -> str:
    """Flux for `Historian.sites`: the values of the tag `site` since the epoch."""
    return ('import "influxdata/influxdb/schema"\n\n'
            f'schema.tagValues(bucket: {flux_string(bucket)}, tag: "site", start: {flux_time(EPOCH)})\n')


def flux_catalog(*, bucket: str, site: str, zone: str) -> str:
    """Flux for `Historian.catalog`: the last row of every series of the zone, with its unit tag."""
    return "\n".join([
        f"from(bucket: {flux_string(bucket)})",
        "  |> range(start: 0)",
        f"  |> filter(fn: (r) => r.site == {flux_string(site)} and r.zone == {flux_string(zone)})",
        "  |> last()",
        '  |> keep(columns: ["_time", "_value", "_field", "_measurement", "name", "unit"])',
    ]) + "\n"


def flux_events(*, bucket: str, site: str, zone: str | None, start: datetime, end: datetime,
                codes: Sequence[str] | None, limit: int) -> str:
    """Flux for `Historian.events`: event rows over [start, end), the newest `limit` of each table."""
    where = ['r._measurement == "event"', f"r.site == {flux_string(site)}"]
    if zone is not None:
        where.append(f"r.zone == {flux_string(zone)}")
    lines = [
        f"from(bucket: {flux_string(bucket)})",
        f"  |> range(start: {flux_time(start)}, stop: {flux_time(end)})",
        f"  |> filter(fn: (r) => {' and '.join(where)})",
    ]
    if codes is not None:
        lines.append(f"  |> filter(fn: (r) => {any_of('name', codes)})")
    lines += [
        f"  |> tail(n: {limit})",
        f'  |> keep(columns: ["_time", "_value", "_field", "zone", "name", "{INT_FIELDS_TAG}"])',
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------- answers


def sites_from_tables(tables: Iterable[Any]) -> list[str]:
    """Parse the tables of `flux_sites`: the site ids, sorted."""
    return sorted({v for table in tables for record in table.records if isinstance(v := record.get_value(), str)})


def catalog_from_tables(tables: Iterable[Any]) -> list[SeriesInfo]:
    """Parse the tables of `flux_catalog`: one entry per (kind, name, field), its unit from the newest row
    (a unit or quality that changed leaves several tables of one series), by name, kind and field."""
    newest: dict[tuple[str, str, str], tuple[datetime, bool, str | None]] = {}
    for table in tables:
        for record in table.records:
            kind, name, field, when = record.get_measurement(), record.values.get("name"), record.get_field(), \
                record.get_time()
            if kind is None or name is None or field is None or when is None:
                continue
            key = (name, kind, field)
            if key not in newest or when > newest[key][0]:
                newest[key] = (when, not isinstance(record.get_value(), str), record.values.get("unit") or None)
    return [SeriesInfo(kind=kind, name=name, field=field, numeric=numeric, unit=unit)  # type: ignore[arg-type]
            for (name, kind, field), (_, numeric, unit) in sorted(newest.items())]


def events_from_tables(tables: Iterable[Any], *, site: str, limit: int) -> list[Event]:
    """Parse the tables of `flux_events`: the fields of one (zone, code, time) make one event; newest last."""
    found: dict[tuple[str, str, datetime], dict[str, FieldValue]] = {}
    for table in tables:
        for record in table.records:
            zone, name, field, when = record.values.get("zone"), record.values.get("name"), record.get_field(), \
                record.get_time()
            if zone is None or name is None or field is None or when is None:
                continue
            found.setdefault((zone, name, when), {})[field] = field_value(record)
    return newest_events([Event(time=when, site=site, zone=zone, code=name,
                                message=m if isinstance(m := fields.get("message"), str) else None, fields=fields)
                          for (zone, name, when), fields in found.items()], limit)
