"""The historian contract, continued: the listings (`sites`, `catalog`) and `events`, and that a back-end
offers every method of the protocol. `historian_contract` imports these, so every binding runs them.

What these fix, beyond the docstrings of base.py:
- `sites()`: each site with data once, sorted.
- `catalog()`: `SeriesInfo` per (kind, name, field) of the zone, ordered by name, kind, field; numbers and
  bools are numeric, text is not; `unit` is the `unit` tag.
- `events()`: `Event` records as the daemon writes them (`Point("event", site, zone, code, t, {"message":
  ..., "code": ...})`, a command audit named `command_audit` with many fields): the fields of one point
  together, ints as ints, bools as bools; [start, end) half-open; by zone (or every zone), by code; the
  newest `limit`, newest last; bad arguments are one-line `BadInput`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from farmcore.errors import BadInput
from farmcore.historian.base import Event, Historian, Point, SeriesInfo

Factory = Callable[..., Historian]
FLUSH_S = 30.0
MESSAGE = '용존산소 낮음: 3.1 mg/L < 4.0, "tank 2"'


def _written(h: Historian, points: list[Point]) -> None:
    h.write(points)
    assert h.flush(FLUSH_S), "flush timed out"


def _event(site: str, zone: str, code: str, when: datetime, message: str) -> Point:
    """An event the way the daemon writes it."""
    return Point("event", site, zone, code, when, {"message": message, "code": code})


def _audit(site: str, zone: str, when: datetime, ok: bool) -> Point:
    """A command's audit record the way the daemon writes it (link/audit.py: flat, no None)."""
    return Point("event", site, zone, "command_audit", when, {
        "code": "command_applied" if ok else "command_rejected", "ok": ok, "id": "c-17", "who": "kim",
        "kind": "setpoint", "target": "air_temperature", "value": 22.5, "duration_s": 600,
        "message": f"command c-17 setpoint air_temperature 22.5 by kim: {'applied' if ok else 'rejected'}"})


def test_the_back_end_offers_every_method_of_the_protocol(historian_factory: Factory) -> None:
    """Callers use the protocol as it is declared, with no probing: every method, called as declared."""
    h = historian_factory()
    declared = {name for name, member in vars(Historian).items() if inspect.isfunction(member)
                and not name.startswith("_")}
    assert {"sites", "catalog", "events"} <= declared
    for name in sorted(declared):
        protocol = inspect.signature(vars(Historian)[name])
        params = [p for p in protocol.parameters.values() if p.name != "self"]
        args = [object() for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
        kwargs = {p.name: object() for p in params if p.kind is p.KEYWORD_ONLY}
        inspect.signature(getattr(h, name)).bind(*args, **kwargs)  # TypeError if the back-end differs


def test_sites_and_catalog_list_what_was_written(historian_factory: Factory, site: str,
                                                 base_time: datetime) -> None:
    h = historian_factory()
    other = f"{site}-b"
    t = [base_time + timedelta(minutes=i) for i in range(3)]
    _written(h, [
        Point("sensor", site, "z1", "air_temperature", t[0], {"value": 21.0}, quality="good", tags={"unit": "degC"}),
        Point("sensor", site, "z1", "air_temperature", t[1], {"value": 21.5}, quality="stale", tags={"unit": "degC"}),
        Point("sensor", site, "z1", "co2", t[0], {"value": 812.0}, quality="good", tags={"unit": "ppm"}),
        Point("setpoint", site, "z1", "air_temperature", t[0], {"value": 22.0}, tags={"source": "recipe"}),
        Point("actuator", site, "z1", "heater", t[1], {"target": 1, "feedback": 0}),
        Point("actuator", site, "z1", "roof_vent", t[1], {"moving": True}),
        _event(site, "z1", "alarm_raised", t[2], MESSAGE),
        Point("sensor", site, "z2", "water_temperature", t[0], {"value": 15.5}),
        Point("sensor", other, "z1", "ph", t[0], {"value": 6.5}),
    ])
    sites = h.sites()
    assert sites == sorted(set(sites)) and all(isinstance(s, str) for s in sites)
    assert {site, other} <= set(sites) and f"{site}-never-written" not in sites
    assert h.catalog(site=site, zone="z1") == [
        SeriesInfo("sensor", "air_temperature", "value", numeric=True, unit="degC"),
        SeriesInfo("setpoint", "air_temperature", "value", numeric=True, unit=None),
        SeriesInfo("event", "alarm_raised", "code", numeric=False, unit=None),
        SeriesInfo("event", "alarm_raised", "message", numeric=False, unit=None),
        SeriesInfo("sensor", "co2", "value", numeric=True, unit="ppm"),
        SeriesInfo("actuator", "heater", "feedback", numeric=True, unit=None),
        SeriesInfo("actuator", "heater", "target", numeric=True, unit=None),
        SeriesInfo("actuator", "roof_vent", "moving", numeric=True, unit=None),
    ]
    assert h.catalog(site=site, zone="z2") == [SeriesInfo("sensor", "water_temperature", "value", True)]
    assert h.catalog(site=site, zone="nowhere") == []


def test_events_come_back_whole_by_zone_code_and_window(historian_factory: Factory, site: str,
                                                        base_time: datetime) -> None:
    h = historian_factory()
    s = lambda seconds, ms=0: base_time + timedelta(seconds=seconds, milliseconds=ms)  # noqa: E731
    _written(h, [
        _audit(site, "z1", s(30), ok=False),  # written out of order
        _event(site, "_site", "daemon_started", s(0), "daemon started: zones z1, z2"),
        _event(site, "z1", "alarm_raised", s(10, 250), MESSAGE),
        _event(site, "z2", "alarm_raised", s(20), "z2 hot"),
        _event(site, "z1", "alarm_cleared", s(60), "at the end: outside [start, end)"),
        _event(site, "z1", "alarm_raised", s(-1), "before the start"),
        _event(f"{site}-b", "z1", "alarm_raised", s(10), "another site"),
        Point("sensor", site, "z1", "air_temperature", s(10), {"value": 21.0}),  # not an event
    ])
    start, end = s(0), s(60)
    every = h.events(site=site, start=start, end=end)
    assert [(e.time, e.zone, e.code) for e in every] == [
        (s(0), "_site", "daemon_started"), (s(10, 250), "z1", "alarm_raised"), (s(20), "z2", "alarm_raised"),
        (s(30), "z1", "command_audit")]
    assert all(isinstance(e, Event) and e.site == site for e in every)
    assert every[1] == Event(time=s(10, 250), site=site, zone="z1", code="alarm_raised", message=MESSAGE,
                             fields={"message": MESSAGE, "code": "alarm_raised"})
    audit = every[3]
    assert dict(audit.fields) == dict(_audit(site, "z1", s(30), ok=False).fields)
    assert audit.message == audit.fields["message"]
    assert audit.fields["ok"] is False and type(audit.fields["duration_s"]) is int
    assert type(audit.fields["value"]) is float
    z1 = h.events(site=site, zone="z1", start=start, end=end)
    assert [e.code for e in z1] == ["alarm_raised", "command_audit"]
    only = h.events(site=site, start=start, end=end, codes=["command_audit", "daemon_started", "no_such_code"])
    assert [e.code for e in only] == ["daemon_started", "command_audit"]
    assert h.events(site=site, zone="nowhere", start=start, end=end) == []
    assert h.events(site=site, start=start, end=start) == []
    assert h.events(site=site, start=start, end=end, codes=[]) == []


def test_events_limit_keeps_the_newest_newest_last(historian_factory: Factory, site: str,
                                                   base_time: datetime) -> None:
    h = historian_factory()
    when = [base_time + timedelta(minutes=i) for i in range(30)]
    _written(h, [_event(site, "z1", "irrigation_started", t, f"irrigation {i}") for i, t in enumerate(when)]
             + [_audit(site, "z1", t + timedelta(seconds=30), ok=True) for t in when[::10]])
    end = base_time + timedelta(hours=1)
    newest = h.events(site=site, zone="z1", start=base_time, end=end, limit=5)
    assert [(e.time, e.message) for e in newest] == [(t, f"irrigation {i}") for i, t in enumerate(when)][-5:]
    audits = h.events(site=site, start=base_time, end=end, codes=["command_audit"], limit=2)
    assert [e.time for e in audits] == [when[10] + timedelta(seconds=30), when[20] + timedelta(seconds=30)]
    assert all(e.fields["ok"] is True and len(e.fields) == 9 for e in audits)  # every field of the point
    assert len(h.events(site=site, start=base_time, end=end)) == 33
    for bad in ({"limit": 0}, {"limit": -3}, {"start": datetime(2026, 1, 1)}):
        with pytest.raises(BadInput):
            h.events(**{"site": site, "start": base_time, "end": end, **bad})  # type: ignore[arg-type]
