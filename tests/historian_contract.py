"""The historian contract: one parametrised suite that every back-end passes (farmcore.historian.base).

Bind it in a test module by importing the tests and providing a `historian_factory` fixture:

    from historian_contract import *  # noqa: F403  (tests/ is on sys.path under pytest)

    @pytest.fixture
    def historian_factory(tmp_path):
        ...
        def make(*, reopen: bool = False) -> Historian:
            ...
        yield make
        ...close whatever make() returned...

`make()` returns a fresh historian. `make(reopen=True)` returns a new instance on the storage of the
previous one (the test has closed that one first), or calls `pytest.skip()` when the back-end cannot.
The factory closes what it made at teardown; `close()` must tolerate being called twice. Every test writes
under its own site name (the `site` fixture), so back-ends on a shared server need no fresh bucket.

What the suite fixes, beyond the docstrings of base.py:
- `flush()` returns True once everything written before it can be queried.
- Times are kept to the millisecond at least; a query gives samples in time order whatever the write order;
  the range is half-open [start, end).
- `every`: windows are aligned to multiples of `every` since the Unix epoch (UTC), each stamped with its
  start, even the first one when `start` falls inside it (only data in [start, end) counts); every window
  that overlaps [start, end) is returned, None where it holds no data; a series with no data in
  [start, end) gives []. Aggregates: mean, min, max, and last (the value with the latest time).
- Every requested name is a key of the result ([] when unknown).
- Tags and quality never split a series: a recipe-version tag that changes, or a quality that goes from good
  to stale, leaves one series per (site, zone, kind, name, field).
- One name may exist under several kinds (a sensor `air_temperature` and its setpoint): `kind=` picks one;
  with `kind=None` the first kind in KINDS order (sensor, setpoint, actuator, event) answers: in `query()`
  the first with data in [start, end), in `latest()` the first that has the name at all.
- `latest()` gives, per name, the fields of its newest point with that point's time and quality; ints stay
  ints and bools stay bools there; text fields (events) come back as text.
- `sites()`, `catalog()`, `events()` and the protocol's whole surface: tests/historian_contract_listings.py.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from historian_contract_listings import (  # sites, catalog, events: every binding runs them too
    test_events_come_back_whole_by_zone_code_and_window,
    test_events_limit_keeps_the_newest_newest_last,
    test_sites_and_catalog_list_what_was_written,
    test_the_back_end_offers_every_method_of_the_protocol,
)

from farmcore.historian.base import Historian, Point, Sample

Factory = Callable[..., Historian]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FLUSH_S = 30.0

__all__ = [
    "base_time",
    "site",
    "test_close_and_reopen_keeps_everything",
    "test_downsampling_matches_a_direct_computation",
    "test_downsampling_of_each_aggregate_by_hand",
    "test_empty_and_unknown",
    "test_events_come_back_whole_by_zone_code_and_window",
    "test_events_keep_their_text",
    "test_events_limit_keeps_the_newest_newest_last",
    "test_fields_of_one_point_are_separate_series",
    "test_flush_with_nothing_written",
    "test_latest_gives_the_newest_point_of_each_name",
    "test_one_name_under_two_kinds",
    "test_range_is_half_open",
    "test_several_names_at_once",
    "test_sites_and_catalog_list_what_was_written",
    "test_tags_and_quality_do_not_split_a_series",
    "test_ten_thousand_points_round_trip",
    "test_the_back_end_offers_every_method_of_the_protocol",
    "test_time_is_the_sample_time_in_order",
    "test_windows_are_aligned_to_the_epoch",
    "test_write_flush_query_raw",
]


@pytest.fixture
def site() -> str:
    return f"contract-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def base_time() -> datetime:
    """Midnight UTC three days ago: recent enough for any retention, whole days for alignment checks."""
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(days=3)


def sensor(site: str, name: str, when: datetime, value: float, *, zone: str = "z1", quality: str | None = "good",
           tags: dict[str, str] | None = None) -> Point:
    return Point("sensor", site, zone, name, when, {"value": value}, quality=quality, tags=tags or {"unit": "degC"})


def written(h: Historian, points: Sequence[Point]) -> None:
    h.write(points)
    assert h.flush(FLUSH_S), "flush timed out"


def pairs(samples: list[Sample]) -> list[tuple[datetime, float | None]]:
    return [(s.time, s.value) for s in samples]


def expected_windows(data: Sequence[tuple[datetime, float]], start: datetime, end: datetime, every: timedelta,
                     agg: str) -> list[tuple[datetime, float | None]]:
    """The contract's downsampling, computed directly."""
    inside = [(t, v) for t, v in data if start <= t < end]
    if not inside:
        return []
    first = EPOCH + ((start - EPOCH) // every) * every
    out = []
    w = first
    while w < end:
        values = sorted((t, v) for t, v in inside if w <= t < w + every)
        if not values:
            out.append((w, None))
        elif agg == "mean":
            out.append((w, sum(v for _, v in values) / len(values)))
        elif agg == "min":
            out.append((w, min(v for _, v in values)))
        elif agg == "max":
            out.append((w, max(v for _, v in values)))
        else:
            out.append((w, values[-1][1]))
        w += every
    return out


def assert_samples(got: list[Sample], want: list[tuple[datetime, float | None]]) -> None:
    assert [s.time for s in got] == [t for t, _ in want]
    for s, (t, v) in zip(got, want, strict=True):
        if v is None:
            assert s.value is None, f"window {t}: expected no data, got {s.value}"
        else:
            assert s.value == pytest.approx(v, rel=1e-9, abs=1e-9), f"window {t}"


# --------------------------------------------------------------------------- raw round trip


def test_flush_with_nothing_written(historian_factory: Factory) -> None:
    h = historian_factory()
    assert h.flush(5.0) is True
    assert isinstance(h.stats(), dict)


def test_write_flush_query_raw(historian_factory: Factory, site: str, base_time: datetime) -> None:
    h = historian_factory()
    data = [(base_time + timedelta(seconds=10 * i, milliseconds=i), 20.0 + i / 8) for i in range(30)]
    written(h, [sensor(site, "air_temperature", t, v) for t, v in data])
    got = h.query(site=site, zone="z1", names=["air_temperature"], start=base_time,
                  end=base_time + timedelta(hours=1))
    assert pairs(got["air_temperature"]) == data
    assert all(s.time.utcoffset() == timedelta(0) for s in got["air_temperature"])


def test_time_is_the_sample_time_in_order(historian_factory: Factory, site: str, base_time: datetime) -> None:
    h = historian_factory()
    data = [(base_time + timedelta(seconds=7 * i), float(i)) for i in range(200)]
    shuffled = data[:]
    random.Random(7).shuffle(shuffled)
    for i in range(0, len(shuffled), 40):  # several writes, each out of order
        h.write([sensor(site, "ec", t, v) for t, v in shuffled[i:i + 40]])
    assert h.flush(FLUSH_S)
    got = h.query(site=site, zone="z1", names=["ec"], start=base_time, end=base_time + timedelta(days=1))
    assert pairs(got["ec"]) == data


def test_range_is_half_open(historian_factory: Factory, site: str, base_time: datetime) -> None:
    h = historian_factory()
    start, end = base_time + timedelta(minutes=10), base_time + timedelta(minutes=20)
    times = [start - timedelta(milliseconds=1), start, start + timedelta(minutes=5), end - timedelta(milliseconds=1),
             end, end + timedelta(minutes=1)]
    written(h, [sensor(site, "ph", t, float(i)) for i, t in enumerate(times)])
    got = h.query(site=site, zone="z1", names=["ph"], start=start, end=end)
    assert pairs(got["ph"]) == [(times[1], 1.0), (times[2], 2.0), (times[3], 3.0)]
    windows = h.query(site=site, zone="z1", names=["ph"], start=start, end=end, every=timedelta(minutes=5),
                      agg="max")
    assert pairs(windows["ph"]) == [(start, 1.0), (start + timedelta(minutes=5), 3.0)]


def test_several_names_at_once(historian_factory: Factory, site: str, base_time: datetime) -> None:
    h = historian_factory()
    points = []
    for i in range(20):
        t = base_time + timedelta(minutes=i)
        points += [sensor(site, "air_temperature", t, 20 + i), sensor(site, "relative_humidity", t, 60 - i),
                   sensor(site, "co2", t, 400 + i), sensor(site, "co2", t, 999, zone="z2")]
    written(h, points)
    end = base_time + timedelta(hours=1)
    got = h.query(site=site, zone="z1", names=["air_temperature", "relative_humidity", "co2"], start=base_time,
                  end=end)
    assert set(got) == {"air_temperature", "relative_humidity", "co2"}
    assert [s.value for s in got["relative_humidity"]] == [60 - i for i in range(20)]
    assert [s.value for s in got["co2"]] == [400 + i for i in range(20)]  # zone z2 stays out
    by_hour = h.query(site=site, zone="z1", names=["air_temperature", "co2"], start=base_time, end=end,
                      every=timedelta(hours=1), agg="mean")
    assert pairs(by_hour["air_temperature"]) == [(base_time, pytest.approx(29.5))]
    assert pairs(by_hour["co2"]) == [(base_time, pytest.approx(409.5))]


def test_empty_and_unknown(historian_factory: Factory, site: str, base_time: datetime) -> None:
    h = historian_factory()
    written(h, [sensor(site, "ph", base_time + timedelta(hours=2), 6.5)])
    got = h.query(site=site, zone="z1", names=["ph", "no_such_thing"], start=base_time,
                  end=base_time + timedelta(hours=1), every=timedelta(minutes=10))
    assert got == {"ph": [], "no_such_thing": []}  # no data in the range: no windows at all
    assert h.query(site=site, zone="z1", names=["ph"], start=base_time, end=base_time)["ph"] == []
    assert h.query(site=site, zone="nowhere", names=["ph"], start=base_time,
                   end=base_time + timedelta(days=1)) == {"ph": []}
    assert h.latest(site=site, zone="nowhere") == {}
    assert h.latest(site=site, zone="z1", names=["no_such_thing"]) == {}


# --------------------------------------------------------------------------- downsampling


def test_downsampling_of_each_aggregate_by_hand(historian_factory: Factory, site: str, base_time: datetime) -> None:
    h = historian_factory()
    m = lambda minutes, seconds=0: base_time + timedelta(minutes=minutes, seconds=seconds)  # noqa: E731
    written(h, [sensor(site, "water_temperature", t, v) for t, v in [
        (m(0, 10), 4.0), (m(0, 50), 2.0), (m(0, 30), 9.0),  # window 0: written out of order
        (m(1, 0), 1.0), (m(1, 59), 3.0),                    # window 1
        (m(3, 0), 7.0),                                     # window 3; window 2 is empty
    ]])
    q = lambda agg: pairs(h.query(site=site, zone="z1", names=["water_temperature"], start=m(0),  # noqa: E731
                                  end=m(4), every=timedelta(minutes=1), agg=agg)["water_temperature"])
    assert q("mean") == [(m(0), pytest.approx(5.0)), (m(1), pytest.approx(2.0)), (m(2), None), (m(3), 7.0)]
    assert q("min") == [(m(0), 2.0), (m(1), 1.0), (m(2), None), (m(3), 7.0)]
    assert q("max") == [(m(0), 9.0), (m(1), 3.0), (m(2), None), (m(3), 7.0)]
    assert q("last") == [(m(0), 2.0), (m(1), 3.0), (m(2), None), (m(3), 7.0)]


@pytest.mark.parametrize("every", [timedelta(minutes=1), timedelta(minutes=5), timedelta(hours=1),
                                   timedelta(seconds=90), timedelta(minutes=7), timedelta(hours=2),
                                   timedelta(seconds=630), timedelta(seconds=5184), timedelta(minutes=270)],
                         ids=["1m", "5m", "1h", "90s", "7m", "2h", "10.5m", "86.4m", "4.5h"])
def test_downsampling_matches_a_direct_computation(historian_factory: Factory, site: str, base_time: datetime,
                                                   every: timedelta) -> None:
    h = historian_factory()
    rng = random.Random(1)
    data = [(base_time + timedelta(seconds=37 * i, milliseconds=rng.randrange(1000)), round(rng.uniform(-5, 35), 3))
            for i in range(int(5 * 3600 / 37))]
    data = [(t, v) for t, v in data if not (base_time + timedelta(hours=2) <= t < base_time + timedelta(hours=3))]
    written(h, [sensor(site, "air_temperature", t, v) for t, v in data])
    start = base_time + timedelta(seconds=123, milliseconds=456)  # ragged edges: inside windows, not on them
    end = base_time + timedelta(hours=4, minutes=59, seconds=1)
    for agg in ("mean", "min", "max", "last"):
        got = h.query(site=site, zone="z1", names=["air_temperature"], start=start, end=end, every=every, agg=agg)
        assert_samples(got["air_temperature"], expected_windows(data, start, end, every, agg))


def test_windows_are_aligned_to_the_epoch(historian_factory: Factory, site: str, base_time: datetime) -> None:
    h = historian_factory()
    every = timedelta(minutes=7)  # a day is not a whole number of 7-minute windows
    minute = timedelta(minutes=1)
    written(h, [sensor(site, "co2", base_time + i * minute, 400.0 + i) for i in range(60)])
    start = base_time if (base_time - EPOCH) % every else base_time + minute  # `start` inside a window
    got = h.query(site=site, zone="z1", names=["co2"], start=start, end=base_time + timedelta(hours=1),
                  every=every, agg="min")["co2"]
    first = EPOCH + ((start - EPOCH) // every) * every
    assert first < start  # the first window starts before `start` and is stamped with its own start
    assert got[0].time == first
    assert all((s.time - EPOCH) % every == timedelta(0) for s in got)
    assert got[0].value == 400.0 + (start - base_time) // minute  # only data from `start` on counts
    assert got[1].time == first + every and got[1].value == 400.0 + (first + every - base_time) // minute


# --------------------------------------------------------------------------- latest, kinds, tags, events


def test_latest_gives_the_newest_point_of_each_name(historian_factory: Factory, site: str,
                                                     base_time: datetime) -> None:
    h = historian_factory()
    t = [base_time + timedelta(minutes=i) for i in range(3)]
    written(h, [
        sensor(site, "air_temperature", t[2], 21.5, quality="stale"),
        sensor(site, "air_temperature", t[0], 20.0),
        sensor(site, "air_temperature", t[1], 21.0),
        Point("actuator", site, "z1", "heater", t[0], {"target": 1, "feedback": 0}),
        Point("actuator", site, "z1", "heater", t[1], {"target": 0, "feedback": 1}),
        Point("actuator", site, "z1", "roof_vent", t[0], {"target": 35.5, "moving": True}),
        Point("setpoint", site, "z1", "co2", t[1], {"value": 800}, tags={"source": "recipe"}),
    ])
    every = h.latest(site=site, zone="z1")
    assert set(every) == {"air_temperature", "heater", "roof_vent", "co2"}
    air = every["air_temperature"]
    assert (air.time, dict(air.fields), air.quality) == (t[2], {"value": 21.5}, "stale")
    heater = every["heater"]
    assert heater.time == t[1] and dict(heater.fields) == {"target": 0, "feedback": 1}
    assert isinstance(heater.fields["target"], int) and not isinstance(heater.fields["target"], bool)
    assert every["roof_vent"].fields["moving"] is True
    assert every["co2"].fields["value"] == 800 and every["co2"].quality is None
    some = h.latest(site=site, zone="z1", names=["heater", "co2", "absent"])
    assert set(some) == {"heater", "co2"}


def test_one_name_under_two_kinds(historian_factory: Factory, site: str, base_time: datetime) -> None:
    h = historian_factory()
    t0, t1 = base_time, base_time + timedelta(minutes=1)
    written(h, [
        sensor(site, "air_temperature", t0, 18.0),
        Point("setpoint", site, "z1", "air_temperature", t0, {"value": 22.0}, tags={"source": "recipe"}),
        Point("setpoint", site, "z1", "air_temperature", t1, {"value": 23.0}, tags={"source": "override"}),
    ])
    end = base_time + timedelta(hours=1)
    ask = lambda kind: [s.value for s in h.query(site=site, zone="z1", names=["air_temperature"],  # noqa: E731
                                                  start=t0, end=end, kind=kind)["air_temperature"]]
    assert ask("setpoint") == [22.0, 23.0]
    assert ask("sensor") == [18.0]
    assert ask(None) == [18.0]  # kind=None: the sensor answers
    assert ask("actuator") == []
    later = h.query(site=site, zone="z1", names=["air_temperature"], start=t1, end=end)
    assert [s.value for s in later["air_temperature"]] == [23.0]  # no sensor data there: the setpoint answers
    assert h.latest(site=site, zone="z1")["air_temperature"].fields == {"value": 18.0}


def test_tags_and_quality_do_not_split_a_series(historian_factory: Factory, site: str, base_time: datetime) -> None:
    h = historian_factory()
    points = []
    for i in range(12):
        t = base_time + timedelta(minutes=i)
        tags = {"unit": "mg/L", "recipe": "flounder@1" if i < 6 else "flounder@2", "tenant": "t-7"}
        points.append(sensor(site, "dissolved_oxygen", t, 7.0 + i / 10,
                             quality="good" if i % 4 else "stale", tags=tags))
    points.append(Point("setpoint", site, "z1", "dissolved_oxygen", base_time, {"value": 6.5},
                        tags={"source": "recipe", "recipe": "flounder@1"}))
    points.append(Point("setpoint", site, "z1", "dissolved_oxygen", base_time + timedelta(minutes=1),
                        {"value": 6.0}, tags={"source": "override", "recipe": "flounder@1"}))
    written(h, points)
    end = base_time + timedelta(hours=1)
    raw = h.query(site=site, zone="z1", names=["dissolved_oxygen"], start=base_time, end=end, kind="sensor")
    assert [s.value for s in raw["dissolved_oxygen"]] == pytest.approx([7.0 + i / 10 for i in range(12)])
    mean = h.query(site=site, zone="z1", names=["dissolved_oxygen"], start=base_time, end=end,
                   every=timedelta(minutes=30), kind="sensor")
    assert pairs(mean["dissolved_oxygen"]) == [(base_time, pytest.approx(7.55)),
                                               (base_time + timedelta(minutes=30), None)]
    setpoints = h.query(site=site, zone="z1", names=["dissolved_oxygen"], start=base_time, end=end,
                        kind="setpoint")
    assert [s.value for s in setpoints["dissolved_oxygen"]] == [6.5, 6.0]
    last = h.latest(site=site, zone="z1", names=["dissolved_oxygen"])["dissolved_oxygen"]
    assert last.time == base_time + timedelta(minutes=11) and last.quality == "good"
    assert last.fields["value"] == pytest.approx(8.1)


def test_fields_of_one_point_are_separate_series(historian_factory: Factory, site: str,
                                                 base_time: datetime) -> None:
    h = historian_factory()
    written(h, [Point("actuator", site, "z1", "side_vent", base_time + timedelta(seconds=30 * i),
                      {"target": float(10 * i), "feedback": float(10 * i - 5)}) for i in range(1, 5)])
    end = base_time + timedelta(minutes=3)
    target = h.query(site=site, zone="z1", names=["side_vent"], start=base_time, end=end, field="target")
    feedback = h.query(site=site, zone="z1", names=["side_vent"], start=base_time, end=end, field="feedback",
                       kind="actuator", every=timedelta(minutes=1), agg="last")
    assert [s.value for s in target["side_vent"]] == [10.0, 20.0, 30.0, 40.0]
    m = timedelta(minutes=1)
    assert pairs(feedback["side_vent"]) == [(base_time, 5.0), (base_time + m, 25.0), (base_time + 2 * m, 35.0)]
    assert h.query(site=site, zone="z1", names=["side_vent"], start=base_time, end=end)["side_vent"] == []


def test_events_keep_their_text(historian_factory: Factory, site: str, base_time: datetime) -> None:
    h = historian_factory()
    message = '용존산소 낮음: 3.1 mg/L < 4.0, "tank 2"'
    written(h, [
        Point("event", site, "z1", "alarm", base_time, {"code": "do_low", "message": message, "active": True}),
        Point("event", site, "z1", "command", base_time + timedelta(seconds=5),
              {"kind": "override", "issued_by": "kim", "ok": False, "error": "out_of_envelope"}),
    ])
    latest = h.latest(site=site, zone="z1")
    assert dict(latest["alarm"].fields) == {"code": "do_low", "message": message, "active": True}
    assert latest["alarm"].time == base_time
    assert latest["command"].fields["error"] == "out_of_envelope" and latest["command"].fields["ok"] is False


# --------------------------------------------------------------------------- volume and persistence


def test_ten_thousand_points_round_trip(historian_factory: Factory, site: str, base_time: datetime) -> None:
    h = historian_factory()
    data = [(base_time + timedelta(seconds=i), math.sin(i / 100) * 10 + 20) for i in range(10_000)]
    for i in range(0, len(data), 1000):
        h.write([sensor(site, "air_temperature", t, v) for t, v in data[i:i + 1000]])
    assert h.flush(FLUSH_S)
    got = h.query(site=site, zone="z1", names=["air_temperature"], start=base_time, end=base_time + timedelta(days=1))
    assert pairs(got["air_temperature"]) == data


def test_close_and_reopen_keeps_everything(historian_factory: Factory, site: str, base_time: datetime) -> None:
    h = historian_factory()
    data = [(base_time + timedelta(seconds=30 * i), float(i)) for i in range(100)]
    h.write([sensor(site, "ec", t, v) for t, v in data])
    h.write([Point("event", site, "z1", "recipe_changed", base_time, {"message": "lettuce@3"})])
    h.close()  # close() alone must store everything written
    h2 = historian_factory(reopen=True)
    end = base_time + timedelta(days=1)
    assert pairs(h2.query(site=site, zone="z1", names=["ec"], start=base_time, end=end)["ec"]) == data
    assert h2.latest(site=site, zone="z1")["recipe_changed"].fields == {"message": "lettuce@3"}
    hourly = h2.query(site=site, zone="z1", names=["ec"], start=base_time, end=end, every=timedelta(hours=1),
                      agg="max")["ec"]
    assert hourly[0] == Sample(base_time, 99.0)
