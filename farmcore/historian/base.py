"""What every historian back-end offers, and the point it stores.

A point is stamped with the time it was sampled (UTC), never the time it was sent, and carries the site
and zone it belongs to. `write` must never block the control loop: back-ends queue and write in batches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from farmcore.errors import BadInput

Kind = Literal["sensor", "setpoint", "actuator", "event"]
KINDS: tuple[str, ...] = ("sensor", "setpoint", "actuator", "event")
Aggregate = Literal["mean", "min", "max", "last"]
AGGREGATES: tuple[str, ...] = ("mean", "min", "max", "last")
# Series that hold states, not measurements: an actuator's target (on/off as 1/0, a position) and its feedback
# (a KS X 3267 status code: 0 READY, 201 ON, 301 OPENING). A mean of states is a state that never was (0.5 "on",
# 100.5 as a status), so a window of one takes its last state when the mean is asked; min, max and last as asked.
STATE_KINDS = frozenset({"actuator"})
STATE_FIELDS = frozenset({"feedback", "status"})
FieldValue = float | int | str | bool


@dataclass(frozen=True)
class Point:
    """One sample. `fields` holds the value(s), e.g. {"value": 23.4} or {"target": 1, "feedback": 1};
    events keep their text in fields too ({"message": "...", "code": "..."})."""

    kind: Kind
    site: str
    zone: str
    name: str
    time: datetime  # UTC, tz-aware: when it was sampled
    fields: Mapping[str, FieldValue]
    quality: str | None = None  # sensors: good, stale, comm_error, need_calibration, ...
    tags: Mapping[str, str] = field(default_factory=dict)  # tenant, recipe (id@version), source, unit, ...

    def __post_init__(self) -> None:
        if self.time.tzinfo is None or self.time.utcoffset() != timedelta(0):
            raise ValueError(f"point {self.name}: time must be UTC and tz-aware, got {self.time!r}")
        if self.kind not in KINDS:
            raise ValueError(f"point {self.name}: kind {self.kind!r} not one of {', '.join(KINDS)}")
        if not self.fields:
            raise ValueError(f"point {self.name}: no fields")


def query_names(names: Sequence[str] | str, agg: str, kind: str | None) -> list[str]:
    """Check a query's arguments the same way on every back-end; the names, once each, in order."""
    if agg not in AGGREGATES:
        raise BadInput(f"agg {agg!r}: one of {', '.join(AGGREGATES)}")
    if kind is not None and kind not in KINDS:
        raise BadInput(f"kind {kind!r}: one of {', '.join(KINDS)}")
    return list(dict.fromkeys([names] if isinstance(names, str) else names))


def window_agg(kind: str | None, field: str, agg: str) -> Aggregate:
    """The aggregate a window of the series (`kind`, `field`) gets when `agg` is asked: `last` for the mean of a
    state series (STATE_KINDS, STATE_FIELDS), else `agg`. Every back-end answers a query through this."""
    if agg == "mean" and (kind in STATE_KINDS or field in STATE_FIELDS):
        return "last"
    return agg  # type: ignore[return-value]


@dataclass(frozen=True)
class Sample:
    time: datetime  # UTC; for a downsampled series, the start of the window
    value: float | None


@dataclass(frozen=True)
class Latest:
    time: datetime
    fields: Mapping[str, FieldValue]
    quality: str | None


@dataclass(frozen=True)
class SeriesInfo:
    """One stored series of a zone, for choosing columns (`farmctl history export`) without knowing names."""

    kind: Kind
    name: str
    field: str
    numeric: bool  # numbers and bools; False for text (event messages)
    unit: str | None = None  # the `unit` tag of its newest point


@dataclass(frozen=True)
class Event:
    """One event point as it was written: the daemon's `Point("event", site, zone, code, t, {"message": ...,
    "code": ...})`, a command's audit record (code `command_audit`), a spool alarm (zone `_historian`)."""

    time: datetime  # UTC
    site: str
    zone: str
    code: str  # the point's name
    message: str | None  # fields["message"] when it is text
    fields: Mapping[str, FieldValue]  # every field of the point, the message included


def event_args(start: datetime, end: datetime, codes: Sequence[str] | str | None, limit: int) -> list[str] | None:
    """Check an events query's arguments the same way on every back-end; the codes, once each, or None."""
    for label, when in (("start", start), ("end", end)):
        if when.tzinfo is None or when.utcoffset() is None:
            raise BadInput(f"events {label} {when.isoformat()}: no time zone; give UTC (…Z or +00:00) or an offset")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise BadInput(f"events limit {limit!r}: a whole number of at least 1")
    if codes is None:
        return None
    return list(dict.fromkeys([codes] if isinstance(codes, str) else codes))


def newest_events(events: Sequence[Event], limit: int) -> list[Event]:
    """The newest `limit` events, newest last (ties in time by zone and code, so every back-end agrees)."""
    return sorted(events, key=lambda e: (e.time, e.zone, e.code))[-limit:]


@dataclass(frozen=True)
class SpoolAlarm:
    """A back-end's outbox filling up (or emptying again): the daemon raises it as a site alarm."""

    code: str  # spool_nearly_full | spool_full
    state: str  # raised | cleared
    bytes: int
    max_bytes: int
    depth: int
    dropped: int  # points dropped by the bound so far (all time)
    message: str


class Historian(Protocol):
    """The interface the daemons, the portal and the command line use; back-ends implement it."""

    # set by the daemon to hear of spool alarms; called from the back-end's own thread (a back-end without an
    # outbox never calls it)
    on_alarm: Callable[[SpoolAlarm], None] | None

    def write(self, points: Sequence[Point]) -> None:
        """Queue points; returns at once (durable before return for spooled back-ends)."""

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything written so far is stored (or acknowledged); False on timeout."""

    def commit(self, timeout: float | None = None) -> bool:
        """Wait until everything written so far would survive a crash of this process (kill -9), not
        necessarily a power cut nor the server's acknowledgement; False on timeout. The daemon calls it once
        per tick, before it publishes anything of the tick."""

    def query(self, *, site: str, zone: str, names: Sequence[str], start: datetime, end: datetime,
              every: timedelta | None = None, agg: Aggregate = "mean", field: str = "value",
              kind: Kind | None = None) -> dict[str, list[Sample]]:
        """Series by name over [start, end); with `every`, one sample per window aggregated by `agg` (by
        `window_agg`: the mean of an actuator's states is its last state)."""

    def latest(self, *, site: str, zone: str, names: Sequence[str] | None = None) -> dict[str, Latest]:
        """The newest point of each name (all names of the zone when None)."""

    def sites(self) -> list[str]:
        """The site ids that have data, sorted (a one-site box's command line may leave `--site` out)."""

    def catalog(self, *, site: str, zone: str) -> list[SeriesInfo]:
        """Every series of a zone, ordered by name, kind and field; numeric or text, and its unit."""

    def events(self, *, site: str, zone: str | None = None, start: datetime, end: datetime,
               codes: Sequence[str] | None = None, limit: int = 1000) -> list[Event]:
        """Event points of the site (of one zone when given; every zone, `_site` and `_historian` included,
        when None) over [start, end), only those named in `codes` when given: the newest `limit` of them,
        newest last. The fields of one point (its zone, code and time) come back as one event."""

    def stats(self) -> dict[str, object]:
        """Counts, sizes, spool depth, oldest/newest times: for `farmctl history stats`."""

    def close(self) -> None:
        """Flush and release files, threads and connections."""
