"""A zone's history for the portal's charts: the historian's roll-ups, cut to at most ~2,000 points a series.

The caller has already asked `tenancy.decide` and clipped the window with `Access.clip`; everything here reads
only inside [start, end) — a roll-up window that straddles `start` is stamped `start` and holds only data from
`start` on (the historian counts only data inside the range). The portal never asks a daemon for history: it
reads the historian the daemons write (readings as kind `sensor`, setpoints as kind `setpoint`, logged on change
and at least every 5 min by farmcore/runtime/records.py).

Why roll-ups first and LTTB second: the historian answers a window query from its 1-minute and 1-hour roll-ups
(a 30-day chart reads ~1,440 minute rows a window instead of every raw sample), and a browser drawing more than
~2,000 points a trace on a phone gets slow without showing more. The window `every` is the finest whole step
that gives at most ~2,000 windows (10 % over is allowed); LTTB (tsdownsample) then keeps the ≤ 2,000 points
that best keep the curve's shape, peaks included, which a coarser mean would flatten.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
from tsdownsample import LTTBDownsampler

from farmcore.historian.base import Historian, Sample, SeriesInfo
from farmcore.historian.config import open_historian, redact
from farmcore.recipe.schema import QUANTITIES
from portal.service.errors import BadRequest, PortalError
from portal.service.model import ZoneKey

log = logging.getLogger(__name__)

MAX_POINTS = 2_000  # per chart series (issue 17: "at most ~2,000 points a series")
WINDOW_SLACK = 1.1  # a step may give up to 10 % more windows than MAX_POINTS; LTTB trims the rest
# Window steps, all whole minutes or hours so the historian reads its 1-minute / 1-hour roll-ups.
STEPS = tuple(timedelta(minutes=m) for m in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440))
SPANS: dict[str, timedelta | None] = {  # None: from the season's (lease's or planting's) start
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "season": None,
}
# The daemon logs a setpoint on change and at least every 300 s (SETPOINT_LOG_S in farmcore/runtime/records.py):
# an empty window within two such periods of the last value still holds it; beyond, the daemon was not running.
SETPOINT_HOLD = timedelta(seconds=600)
# Windows finer than a sensor's logging (a 10-minute logger on the 1-minute windows of a day) are empty between
# its points; a line is drawn across a silence this short, and broken by a longer one (a daemon or sensor down).
BRIDGE = timedelta(minutes=15)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_LTTB = LTTBDownsampler()

# The time axis and the CSV's time columns (portal/service/texts.py has the portal's other words: band names,
# quantity names through farmcore/i18n.py, units).
LABELS: dict[str, tuple[str, str]] = {
    "time_local": ("시각 (한국 시간)", "Time (Asia/Seoul)"),
    "time_utc": ("시각 (UTC)", "Time (UTC)"),
}


def label(key: str, lang: str) -> str:
    ko, en = LABELS[key]
    return ko if lang == "ko" else en


class HistoryUnavailable(PortalError):
    """The historian could not be opened or read (server down, file missing or damaged): one sentence, and the
    cause goes to the log, so a page never shows a traceback."""

    def __init__(self) -> None:
        super().__init__("history_unavailable", "기록 저장소를 읽을 수 없습니다. 잠시 후 다시 시도하세요.",
                         "The history store cannot be read right now; try again later.")


@dataclass(frozen=True)
class Series:
    """One quantity over the window: times are UTC window starts (the first one clipped to the window's start);
    None where the window holds no data (a chart breaks its line there)."""

    name: str
    unit: str
    kind: Literal["sensor", "setpoint"]
    times: tuple[datetime, ...]
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class Band:
    """A band to shade behind a quantity: the setpoint in force per window (low = high when it did not change
    within the window) or the envelope a tenant may set it within (`envelope`, constant over the window)."""

    name: str
    unit: str
    kind: Literal["setpoint", "envelope"]
    times: tuple[datetime, ...]
    low: tuple[float | None, ...]
    high: tuple[float | None, ...]


@dataclass(frozen=True)
class HistoryView:
    key: ZoneKey
    start: datetime
    end: datetime
    every: timedelta  # the historian window the series were read at
    series: tuple[Series, ...] = ()
    setpoints: Mapping[str, Band] = field(default_factory=dict)
    envelopes: Mapping[str, Band] = field(default_factory=dict)

    @property
    def quantities(self) -> list[str]:
        """The names to draw, one chart each: every series, then setpoints without a series of their own."""
        names = [s.name for s in self.series]
        return names + [n for n in self.setpoints if n not in names]

    def series_of(self, name: str) -> Series | None:
        return next((s for s in self.series if s.name == name), None)


def span_window(span: str, now: datetime, season_start: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, now) of a span; "season" starts at `season_start` (the lease's or the planting's start). The
    caller clips the result with `Access.clip`."""
    _aware("now", now)
    if span not in SPANS:
        raise BadRequest("span", f"{span!r}: {', '.join(SPANS)} 중 하나여야 합니다",
                         f"{span!r}: one of {', '.join(SPANS)}")
    length = SPANS[span]
    if length is not None:
        return now - length, now
    if season_start is None:
        raise BadRequest("span", "시즌 시작일(임대 또는 정식/입식 시작)을 알 수 없습니다",
                         "the season's start (lease or planting) is not known")
    _aware("season_start", season_start)
    return season_start, now


def window_count(start: datetime, end: datetime, every: timedelta) -> int:
    """How many epoch-aligned windows of `every` overlap [start, end): what the historian returns."""
    lo, hi, step = (start - EPOCH) // _MS, (end - EPOCH) // _MS, every // _MS
    return 0 if hi <= lo else (hi - 1) // step - lo // step + 1


def pick_every(start: datetime, end: datetime, max_windows: float = MAX_POINTS) -> timedelta:
    """The finest step in STEPS giving at most `max_windows` windows over [start, end); whole days beyond."""
    for step in STEPS:
        if window_count(start, end, step) <= max_windows:
            return step
    return timedelta(days=math.ceil((end - start) / timedelta(days=1) / max(1.0, max_windows - 1)))


def downsample(times_ms: np.ndarray, values: np.ndarray, n_max: int = MAX_POINTS) -> np.ndarray:
    """Indices of at most `n_max` points chosen by LTTB among the non-NaN values, plus one NaN index between two
    kept points that had a gap between them, so the chart still breaks its line where data is missing."""
    if len(values) <= n_max:
        return np.arange(len(values))
    valid = ~np.isnan(values)
    idx = np.flatnonzero(valid)
    gaps = int(np.count_nonzero(np.diff(idx) > 1))
    n_out = max(n_max - gaps, n_max // 2)  # room for the gap marks, but never fewer than half the points
    keep = idx if len(idx) <= n_out else idx[_LTTB.downsample(times_ms[idx], values[idx], n_out=n_out)]
    nans = np.flatnonzero(~valid)
    if not len(nans) or len(keep) < 2:
        return keep
    nan_upto = np.cumsum(~valid)
    gap_after = np.flatnonzero(nan_upto[keep[1:]] - nan_upto[keep[:-1]] > 0)[: n_max - len(keep)]
    marks = nans[np.searchsorted(nans, keep[gap_after])]
    return np.sort(np.concatenate([keep, marks]))


@contextmanager
def reading(what: object) -> Iterator[None]:
    """Turn any failure of the historian into HistoryUnavailable; the cause goes to the log with `what` (a zone
    or a redacted URL), not to the page."""
    try:
        yield
    except PortalError:
        raise
    except Exception as exc:  # a back-end's driver, file or network error: all mean "cannot read now"
        log.warning("history of %s unreadable: %s: %s", what, type(exc).__name__, exc)
        raise HistoryUnavailable() from exc


def open_history(url: str) -> Historian:
    """The historian a URL names, opened read-only (the portal never writes history); HistoryUnavailable when
    it cannot be opened (no file yet, a damaged file, a bad URL)."""
    with reading(redact(url)):
        return open_historian(url, read_only=True)


def zone_history(historian: Historian, key: ZoneKey, start: datetime, end: datetime, *,
                 names: Sequence[str] | None = None, envelope: Mapping[str, tuple[float, float]] | None = None,
                 units: Mapping[str, str] | None = None) -> HistoryView:
    """The zone's readings, setpoint bands and envelope bands over [start, end) (already clipped by tenancy).

    `names`: the quantities to show (default: every numeric sensor series of the zone). `envelope`: the state
    message's `envelope` (what a tenant may set now), drawn as a constant band. `units`: the state's reading
    units, for series whose points carry no `unit` tag."""
    _aware("start", start)
    _aware("end", end)
    every = pick_every(start, end, MAX_POINTS * WINDOW_SLACK)
    if end <= start:
        return HistoryView(key, start, end, every)
    with reading(key):
        catalog = historian.catalog(site=key.site, zone=key.zone)
        tagged = numeric_series(catalog)
        sensors = [n for k, n in tagged if k == "sensor"] if names is None else list(names)
        wanted = set(sensors)
        setpoint_names = [n for k, n in tagged if k == "setpoint" and (names is None or n in wanted)]
        read = historian.query(site=key.site, zone=key.zone, names=sensors, start=start, end=end, every=every,
                               agg="mean", kind="sensor") if sensors else {}
        band_every = pick_every(start, end)
        bands = setpoint_bands(historian, key, setpoint_names, start, end, band_every) if setpoint_names else {}

    series = []
    for name in sensors:
        samples = read.get(name) or []
        if any(s.value is not None for s in samples):
            times, values = bridge(*_thin(samples, start))
            series.append(Series(name, unit_of(tagged, units, "sensor", name), "sensor", times, values))
    setpoints = {n: Band(n, unit_of(tagged, units, "setpoint", n), "setpoint", *b) for n, b in bands.items()}
    envelopes = {n: Band(n, unit_of(tagged, units, "setpoint", n), "envelope", (start, end), (lo, lo), (hi, hi))
                 for n, (lo, hi) in (envelope or {}).items()}
    return HistoryView(key, start, end, every, tuple(series), setpoints, envelopes)


def numeric_series(catalog: Sequence[SeriesInfo]) -> dict[tuple[str, str], str | None]:
    """(kind, name) -> unit tag of the zone's numeric `value` series, in catalog order."""
    return {(c.kind, c.name): c.unit for c in catalog if c.field == "value" and c.numeric}


def unit_of(tagged: Mapping[tuple[str, str], str | None], units: Mapping[str, str] | None, kind: str,
            name: str) -> str:
    """A series' unit: its points' `unit` tag, else the state's reading unit, else the recipe vocabulary's."""
    spec = QUANTITIES.get(name)
    return tagged.get((kind, name)) or (units or {}).get(name) or (spec.unit if spec else "")


def setpoint_bands(historian: Historian, key: ZoneKey, names: Sequence[str], start: datetime, end: datetime,
                   every: timedelta) -> dict[str, tuple[tuple[datetime, ...], tuple[float | None, ...],
                                                    tuple[float | None, ...]]]:
    """Per setpoint: (times, low, high) by window — min and max in the window, and where a window holds no point,
    the last value before it for up to SETPOINT_HOLD (the setpoint was in force, only not logged again)."""
    q = dict(site=key.site, zone=key.zone, names=names, start=start, end=end, every=every, kind="setpoint")
    lows, highs, lasts = (historian.query(**q, agg=agg) for agg in ("min", "max", "last"))  # type: ignore[arg-type]
    out = {}
    for name in names:
        low, high, last = lows.get(name) or [], highs.get(name) or [], lasts.get(name) or []
        if not last:
            continue
        lo_v, hi_v = [s.value for s in low], [s.value for s in high]
        filled, _ = hold_setpoint([s.value for s in last], every)
        for i, s in enumerate(last):
            if s.value is None:
                lo_v[i] = hi_v[i] = filled[i]
        out[name] = (_clip_times(last, start), tuple(lo_v), tuple(hi_v))
    return out


Carry = tuple[float | None, int]  # the setpoint last logged and how many windows ago
NOTHING_HELD: Carry = (None, 1 << 30)


def hold_setpoint(values: Sequence[float | None], every: timedelta,
                  carry: Carry = NOTHING_HELD) -> tuple[list[float | None], Carry]:
    """A setpoint by window with each empty window given the last value before it, for up to SETPOINT_HOLD;
    `carry` continues from the previous chunk (the CSV reads a day at a time)."""
    hold = max(1, math.ceil(SETPOINT_HOLD / every))
    held, age = carry
    out: list[float | None] = []
    for v in values:
        if v is not None:
            held, age = v, 0
            out.append(v)
        else:
            age += 1
            out.append(held if age <= hold else None)
    return out, (held, age)


def _thin(samples: list[Sample], start: datetime) -> tuple[tuple[datetime, ...], tuple[float | None, ...]]:
    """A window series cut to at most MAX_POINTS by LTTB, the first window clipped to `start`."""
    times = _clip_times(samples, start)
    if len(samples) <= MAX_POINTS:
        return times, tuple(s.value for s in samples)
    ms = np.fromiter(((t - EPOCH) // _MS for t in times), dtype=np.int64, count=len(times))
    ys = np.fromiter((math.nan if s.value is None else s.value for s in samples), dtype=np.float64,
                     count=len(samples))
    idx = downsample(ms, ys)
    return tuple(times[i] for i in idx), tuple(None if math.isnan(ys[i]) else float(ys[i]) for i in idx)


def bridge(times: tuple[datetime, ...], values: tuple[float | None, ...]) -> tuple[tuple[datetime, ...],
                                                                               tuple[float | None, ...]]:
    """Empty windows between two readings at most BRIDGE apart left out (the chart joins them); a longer silence
    keeps one empty window, which breaks the line; empty windows before the first and after the last reading go."""
    keep: list[int] = []
    last: int | None = None  # the newest reading kept
    for i, value in enumerate(values):
        if value is None:
            continue
        if last is not None and i > last + 1 and times[i] - times[last] > BRIDGE:
            keep.append(last + 1)
        keep.append(i)
        last = i
    return tuple(times[k] for k in keep), tuple(values[k] for k in keep)


def _clip_times(samples: Sequence[Sample], start: datetime) -> tuple[datetime, ...]:
    """Window starts, the first one (which may lie before `start`) moved to `start`: nothing shows before it."""
    return tuple(max(s.time, start) for s in samples)


def _aware(name: str, when: datetime) -> None:
    if when.tzinfo is None or when.utcoffset() is None:
        raise BadRequest(name, f"{when.isoformat()}: 시간대가 없습니다 (UTC로 주세요)",
                         f"{when.isoformat()}: no time zone (give UTC)")

