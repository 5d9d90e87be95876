"""`farmctl history ...` / `aquactl history ...`: export a zone's history as CSV, show the historian's state.

    history export --site S --zone Z --from T [--to T] [--names a,b] [--every 1m] [--agg mean] --csv [--out FILE]
    history stats [--json]

`--historian URL` defaults to $FARMCTL_HISTORIAN, else sqlite:///$FARMCTL_STATE_DIR/history.db. Times are ISO
8601 (`2026-01-15`, `2026-01-15T06:00`, `2026-01-15T06:00:00Z`, `...+09:00`), `now`, or relative to now
(`-7d`, `-6h`, `-30m`); a time without an offset is local time in `--tz` (default Asia/Seoul). The CSV has a
header: `time_utc` (ISO 8601, Z), `time_local` (ISO 8601 with the offset of `--tz`), then one column per
series, named `kind:name[.field] [unit]`. Without `--every` the rows are the raw sample times (a cell is
empty where a series has no sample at that time); with `--every` there is one row per window of every
length, aligned to UTC multiples, for the whole range, empty where no data was kept (gaps show).
Errors are one line (`BadInput`, exit 2); the house runner (`cliapp.run_cli`) prints them.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from farmcore.errors import BadInput
from farmcore.historian.base import AGGREGATES, KINDS, Historian
from farmcore.historian.config import default_url, open_historian, redact

DEFAULT_TZ = "Asia/Seoul"
_EVERY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)\s*$")
_UNITS_S = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_RELATIVE = re.compile(r"^\s*-\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)\s*$")
_CHUNK = timedelta(days=1)


def parse_every(text: str) -> timedelta:
    """`10s`, `1m`, `15min`, `1h`, `1d`, `500ms` -> timedelta (at least 1 ms)."""
    m = _EVERY.match(text)
    if not m:
        raise BadInput(f"--every {text!r}: expected a length like 10s, 1m, 1h or 1d")
    every = timedelta(seconds=float(m.group(1)) * _UNITS_S[m.group(2)])
    if every < timedelta(milliseconds=1):
        raise BadInput(f"--every {text!r}: at least 1 ms")
    return every


def parse_time(text: str, tz: ZoneInfo, now: datetime | None = None, *, option: str = "--from") -> datetime:
    """ISO 8601 date or time (local in `tz` when it has no offset), `now`, or `-7d` / `-6h` / `-30m`."""
    now = now or datetime.now(UTC)
    raw = text.strip()
    if raw.lower() == "now":
        return now
    if m := _RELATIVE.match(raw):
        return now - timedelta(seconds=float(m.group(1)) * _UNITS_S[m.group(2)])
    try:
        if len(raw) == 10:
            d = date.fromisoformat(raw)
            return datetime(d.year, d.month, d.day, tzinfo=tz).astimezone(UTC)
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise BadInput(f"{option} {text!r}: expected ISO 8601 (2026-01-15, 2026-01-15T06:00, ...Z, ...+09:00), "
                       "now, or -7d / -6h / -30m") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return when.astimezone(UTC)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInput(f"--tz {name!r}: not a known time zone (e.g. Asia/Seoul, UTC)") from None


@dataclass(frozen=True)
class Column:
    kind: str
    name: str
    field: str
    unit: str | None = None

    @property
    def header(self) -> str:
        label = f"{self.kind}:{self.name}"
        if self.field != "value":
            label += f".{self.field}"
        return f"{label} [{self.unit}]" if self.unit else label


def _catalog(h: Historian, site: str, zone: str) -> list[Column]:
    """The zone's numeric series, from the historian's catalog."""
    return [Column(s.kind, s.name, s.field, s.unit) for s in h.catalog(site=site, zone=zone) if s.numeric]


def select_columns(available: list[Column], wanted: str | None, site: str, zone: str) -> list[Column]:
    """`--names a,sensor:b,heater.target`: each item `[kind:]name[.field]`; all numeric series when None."""
    if not wanted:
        if not available:
            raise BadInput(f"no numeric history for site {site!r} zone {zone!r}")
        return available
    chosen: list[Column] = []
    for item in (part.strip() for part in wanted.split(",")):
        if not item:
            continue
        kind, _, rest = item.rpartition(":")
        if kind and kind not in KINDS:
            raise BadInput(f"--names {item!r}: kind {kind!r} is not one of {', '.join(KINDS)}")
        name, _, field = rest.partition(".")
        hits = [c for c in available if c.name == name and (not kind or c.kind == kind)
                and (not field or c.field == field)]
        if not hits:
            raise BadInput(f"--names {item!r}: no numeric series of that name in site {site!r} zone {zone!r}")
        chosen.extend(c for c in hits if c not in chosen)
    return chosen


def _fmt_utc(t: datetime) -> str:
    ms = t.microsecond // 1000
    base = t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{ms:03d}Z" if ms else f"{base}Z"


def _fmt_local(t: datetime, tz: ZoneInfo) -> str:
    local = t.astimezone(tz)
    return local.isoformat(timespec="milliseconds" if local.microsecond // 1000 else "seconds")


def _fmt_value(v: float | None) -> str:
    return "" if v is None or v != v else format(v, ".12g")


def export_rows(h: Historian, *, site: str, zone: str, columns: list[Column], start: datetime, end: datetime,
                every: timedelta | None, agg: str) -> Iterator[tuple[datetime, list[float | None]]]:
    """(time, one value per column) in time order, a day of data at a time."""
    groups: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for i, c in enumerate(columns):
        groups.setdefault((c.kind, c.field), []).append((i, c.name))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    chunk = _CHUNK if every is None else every * max(1, _CHUNK // every)
    t = start
    while t < end:
        t2 = min(end, epoch + ((t - epoch) // chunk + 1) * chunk)  # chunk edges on multiples of every
        rows: dict[datetime, list[float | None]] = {}
        if every is not None:  # every window of the range gets a row, so gaps show
            w = epoch + ((t - epoch) // every) * every
            while w < t2:
                rows[w] = [None] * len(columns)
                w += every
        for (kind, field), members in groups.items():
            result = h.query(site=site, zone=zone, names=[n for _, n in members], start=t, end=t2, every=every,
                             agg=agg, field=field, kind=kind)  # type: ignore[arg-type]
            for i, name in members:
                for s in result.get(name, []):
                    rows.setdefault(s.time, [None] * len(columns))[i] = s.value
        for when in sorted(rows):
            yield when, rows[when]
        t = t2


def _only_site(h: Historian) -> str:
    sites = h.sites()
    if len(sites) != 1:
        known = f"stored sites: {', '.join(sites)}" if sites else "no site stored yet"
        raise BadInput(f"--site is needed ({known})")
    return sites[0]


@contextmanager
def _output(out: str | None) -> Iterator[IO[str]]:
    """stdout, or a file written beside its final name and renamed into place when complete."""
    if out is None or out == "-":
        yield sys.stdout
        return
    target = Path(out)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
    except OSError as exc:
        raise BadInput(f"--out {out}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            yield f
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def _historian(url: str | None) -> Iterator[Historian]:
    h = open_historian(url or default_url(), read_only=True)
    try:
        yield h
    finally:
        h.close()


historian_option = click.option(
    "--historian", "url", metavar="URL", default=None,
    help="sqlite:///PATH.db or influxdb://HOST:8086?org=..&bucket=..&token_env=NAME "
         "(default: $FARMCTL_HISTORIAN, else history.db in the state directory)")


@click.group("history")
def history() -> None:
    """The historian: CSV export (certification) and its state."""


@history.command("export")
@historian_option
@click.option("--site", envvar="FARMCTL_SITE", help="site id (default: $FARMCTL_SITE, or the only site stored)")
@click.option("--zone", required=True, help="zone id")
@click.option("--from", "start_text", required=True, metavar="TIME", help="start (included): ISO 8601, now, -7d")
@click.option("--to", "end_text", default="now", show_default=True, metavar="TIME", help="end (excluded)")
@click.option("--names", default=None, metavar="LIST", help="series: a,b,sensor:c,heater.target (default: all)")
@click.option("--every", "every_text", default=None, metavar="LEN", help="one row per window: 10s, 1m, 1h, 1d")
@click.option("--agg", type=click.Choice(AGGREGATES), default="mean", show_default=True,
              help="aggregate of a window (with --every)")
@click.option("--tz", "tz_name", default=DEFAULT_TZ, show_default=True, help="local time zone for time_local")
@click.option("--csv", "as_csv", is_flag=True, default=True, help="CSV with a header (the only format)")
@click.option("--out", default=None, metavar="FILE", help="write to FILE instead of stdout")
def export(url: str | None, site: str, zone: str, start_text: str, end_text: str, names: str | None,
           every_text: str | None, agg: str, tz_name: str, as_csv: bool, out: str | None) -> None:
    """Export a zone's history as CSV: UTC and local time, then one column per series."""
    tz = _zone(tz_name)
    now = datetime.now(UTC)
    start = parse_time(start_text, tz, now, option="--from")
    end = parse_time(end_text, tz, now, option="--to")
    if end <= start:
        raise BadInput(f"--to {end_text!r} is not after --from {start_text!r}")
    every = parse_every(every_text) if every_text else None
    with _historian(url) as h:
        site = site or _only_site(h)
        columns = select_columns(_catalog(h, site, zone), names, site, zone)
        rows = export_rows(h, site=site, zone=zone, columns=columns, start=start, end=end, every=every, agg=agg)
        with _output(out) as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["time_utc", "time_local", *(c.header for c in columns)])
            for when, values in rows:
                writer.writerow([_fmt_utc(when), _fmt_local(when, tz), *(_fmt_value(v) for v in values)])


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Path):
        return str(value)
    return value


@history.command("stats")
@historian_option
@click.option("--json", "as_json", is_flag=True, help="print one JSON document on stdout")
def stats(url: str | None, as_json: bool) -> None:
    """Points, series, sizes, oldest and newest data, queue and commit counters."""
    with _historian(url) as h:
        doc = {k: _plain(v) for k, v in h.stats().items()}
    doc.setdefault("historian", redact(url or default_url()))
    if as_json:
        click.echo(json.dumps(doc, ensure_ascii=False))
        return
    width = max(len(k) for k in doc)
    for key, value in doc.items():
        if key.endswith("_bytes") and isinstance(value, int):
            value = f"{value} ({value / 1048576:.1f} MiB)"
        click.echo(f"{key.ljust(width)}  {'-' if value is None else value}")


def main(argv: list[str] | None = None) -> None:
    """`python -m farmcore.historian.cli`: the group on its own, with the house error policy."""
    from farmcore.cliapp import run_cli

    run_cli(history, argv)


if __name__ == "__main__":
    main()
