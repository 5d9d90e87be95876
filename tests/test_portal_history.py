"""Portal history against a real SQLite historian: spans cut to ≤ 2,000 points, nothing read before the window's
start (the tenancy clip), setpoint and envelope bands, the CSV export, a historian that cannot be read, charts."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from farmcore.historian.base import Point
from farmcore.historian.sqlite import SqliteHistorian
from farmcore.recipe.schema import QUANTITIES
from farmcore.runtime.viewmodel import DEFAULT_UNIT, RESOLUTION
from portal.service import texts
from portal.service.charts import history_figures, quantity_figure, seoul_times
from portal.service.errors import BadRequest, PortalError
from portal.service.history import (
    MAX_POINTS,
    SPANS,
    Band,
    HistoryUnavailable,
    HistoryView,
    Series,
    downsample,
    open_history,
    pick_every,
    span_window,
    window_count,
    zone_history,
)
from portal.service.history_csv import BOM, CHUNK, csv_export, iter_csv
from portal.service.model import ZoneKey

pytestmark = pytest.mark.timeout(120)

KEY = ZoneKey("farm", "gh1")
DAYS = 35
T0 = datetime(2026, 1, 1, tzinfo=UTC)
END = T0 + timedelta(days=DAYS)
SPIKE = END - timedelta(days=2, hours=3, minutes=2)  # one reading of 100 °C inside the 7-day span
DAY_FROM, NIGHT_FROM = 6 * 60 + 10, 18 * 60 + 10  # setpoint changes at 06:10 and 18:10 UTC (inside 30-min windows)


def temperature(when: datetime) -> float:
    minute = (when - T0) // timedelta(minutes=1)
    return 100.0 if when == SPIKE else 20.0 + 5.0 * math.sin(2 * math.pi * minute / 1440)


def setpoint(when: datetime) -> float:
    minute = when.hour * 60 + when.minute
    return 24.0 if DAY_FROM <= minute < NIGHT_FROM else 18.0


def write(h: SqliteHistorian, points: list[Point]) -> None:
    h.write(points)
    assert h.flush(30.0)


@pytest.fixture(scope="module")
def historian(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteHistorian]:
    """35 days of 1-minute air temperature and humidity, the temperature setpoint logged every 5 min (as the
    daemon does) except during a 1-hour daemon stop on the last day."""
    h = SqliteHistorian(tmp_path_factory.mktemp("history") / "h.db", raw_days=None, minute_days=None)
    stop = (END - timedelta(hours=5), END - timedelta(hours=4))
    for day in range(DAYS):
        points = []
        for minute in range(1440):
            when = T0 + timedelta(days=day, minutes=minute)
            points.append(Point("sensor", KEY.site, KEY.zone, "air_temperature", when,
                                {"value": temperature(when)}, quality="good", tags={"unit": "degC"}))
            points.append(Point("sensor", KEY.site, KEY.zone, "relative_humidity", when, {"value": 70.0},
                                quality="good"))
            if minute % 5 == 0 and not stop[0] <= when < stop[1]:
                points.append(Point("setpoint", KEY.site, KEY.zone, "air_temperature", when,
                                    {"value": setpoint(when)}, tags={"source": "recipe"}))
        write(h, points)
    h.maintain()
    yield h
    h.close()


# --------------------------------------------------------------------------- spans and downsampling


@pytest.mark.parametrize("span", list(SPANS))
def test_every_span_gives_at_most_2000_points_a_series(historian: SqliteHistorian, span: str) -> None:
    start, end = span_window(span, END, season_start=T0)
    view = zone_history(historian, KEY, start, end)
    assert [s.name for s in view.series] == ["air_temperature", "relative_humidity"]
    for s in view.series:
        assert 0 < len(s.values) <= MAX_POINTS
        assert len(s.times) == len(s.values)
        assert list(s.times) == sorted(s.times)
    band = view.setpoints["air_temperature"]
    assert 0 < len(band.times) <= MAX_POINTS
    assert view.series[0].unit == "degC"
    assert view.series[1].unit == "%RH"  # no unit tag on its points: the recipe vocabulary's unit


def test_seven_days_are_read_finer_than_2000_windows_and_lttb_keeps_the_spike(historian: SqliteHistorian) -> None:
    start, end = span_window("7d", END)
    view = zone_history(historian, KEY, start, end)
    assert view.every == timedelta(minutes=5)
    assert window_count(start, end, view.every) > MAX_POINTS  # so LTTB had to cut
    temp = view.series_of("air_temperature")
    assert temp is not None and len(temp.values) == MAX_POINTS
    # The spike's 5-minute window means (100 + 4 readings near 20) / 5 ≈ 36: LTTB keeps that extreme point.
    assert max(v for v in temp.values if v is not None) > 30


def test_downsample_keeps_gaps_as_gaps() -> None:
    x = np.arange(6000, dtype=np.int64) * 60_000
    y = np.sin(np.arange(6000) / 100.0)
    y[3000:3100] = np.nan
    idx = downsample(x, y)
    assert len(idx) <= MAX_POINTS
    kept = y[idx]
    assert np.isnan(kept).sum() == 1  # one break where the 100 missing windows were
    gap = int(np.flatnonzero(np.isnan(kept))[0])
    assert idx[gap - 1] < 3000 and idx[gap + 1] >= 3100


def test_pick_every_and_spans() -> None:
    assert pick_every(END - timedelta(hours=24), END) == timedelta(minutes=1)
    assert pick_every(END - timedelta(days=30), END) == timedelta(minutes=30)
    assert window_count(END - timedelta(days=400), END, pick_every(END - timedelta(days=400), END)) <= MAX_POINTS
    with pytest.raises(BadRequest, match="span"):
        span_window("1y", END)
    with pytest.raises(BadRequest, match="season"):
        span_window("season", END, season_start=None)
    with pytest.raises(BadRequest, match="start"):
        zone_history(None, KEY, datetime(2026, 1, 1), END)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the tenancy clip


def test_nothing_before_start_even_in_a_window_that_straddles_it(tmp_path: Path) -> None:
    """A lease began at `start` (not on a window edge): the previous tenant's 1000 °C a minute before it, in the
    same 30-minute roll-up window, must not show — not as a value, not as a time, not in the CSV."""
    h = SqliteHistorian(tmp_path / "h.db", raw_days=None, minute_days=None)
    start = T0 + timedelta(days=10, minutes=7)
    end = start + timedelta(days=30)
    points = []
    for minute in range(-30, 30 * 1440, 1):
        when = start + timedelta(minutes=minute)
        before = when < start
        points.append(Point("sensor", KEY.site, KEY.zone, "air_temperature", when,
                            {"value": 1000.0 if before else 20.0}, quality="good", tags={"unit": "degC"}))
        if minute % 5 == 0:
            points.append(Point("setpoint", KEY.site, KEY.zone, "air_temperature", when,
                                {"value": 99.0 if before else 18.0}))
    write(h, points)
    h.maintain()
    try:
        view = zone_history(h, KEY, start, end)
        temp = view.series_of("air_temperature")
        assert temp is not None and view.every == timedelta(minutes=30)
        assert temp.times[0] == start and min(temp.times) >= start
        assert max(v for v in temp.values if v is not None) == 20.0
        band = view.setpoints["air_temperature"]
        assert band.times[0] == start
        assert {v for v in band.low + band.high if v is not None} == {18.0}
        text = csv_export(h, KEY, start, end).decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[1][1] == start.strftime("%Y-%m-%d %H:%M:%S")
        assert "1000" not in text and "99" not in text
    finally:
        h.close()


# --------------------------------------------------------------------------- bands


def test_setpoint_band_follows_the_setpoint_and_breaks_while_the_daemon_was_stopped(
        historian: SqliteHistorian) -> None:
    start, end = span_window("24h", END)
    band = zone_history(historian, KEY, start, end).setpoints["air_temperature"]
    assert band.kind == "setpoint" and band.unit == "degC"
    by_time = dict(zip(band.times, zip(band.low, band.high, strict=True), strict=True))
    # 1-minute windows between the 5-minute points hold the setpoint in force.
    for when in (start + timedelta(minutes=m) for m in range(0, 1440, 7)):
        if not END - timedelta(hours=5) <= when < END - timedelta(hours=4):
            assert by_time[when] == (setpoint(when), setpoint(when)), when
    # More than SETPOINT_HOLD (10 min) into the stop, nothing is drawn.
    assert by_time[END - timedelta(hours=4, minutes=30)] == (None, None)

    view = zone_history(historian, KEY, *span_window("30d", END))
    band = view.setpoints["air_temperature"]
    assert view.every == timedelta(minutes=30)
    by_time = dict(zip(band.times, zip(band.low, band.high, strict=True), strict=True))
    change = datetime(2026, 2, 1, 6, 0, tzinfo=UTC)  # the window holding the 06:10 change
    assert by_time[change] == (18.0, 24.0)
    assert by_time[change + timedelta(hours=1)] == (24.0, 24.0)


def test_envelope_band_spans_the_window(historian: SqliteHistorian) -> None:
    start, end = span_window("24h", END)
    view = zone_history(historian, KEY, start, end, envelope={"air_temperature": (16.0, 26.0)})
    env = view.envelopes["air_temperature"]
    assert (env.kind, env.times, env.low, env.high) == ("envelope", (start, end), (16.0, 16.0), (26.0, 26.0))


# --------------------------------------------------------------------------- CSV


def test_csv_has_a_bom_korean_headers_local_and_utc_times(historian: SqliteHistorian) -> None:
    start = datetime(2026, 1, 3, 23, 50, tzinfo=UTC)  # 08:50 in Seoul; crosses a day (a chunk) boundary
    end = start + timedelta(minutes=20)
    data = csv_export(historian, KEY, start, end, "ko")
    assert data.startswith(BOM)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["시각 (한국 시간)", "시각 (UTC)", "온도 (°C)", "습도 (%)", "온도 설정값 (°C)"]
    assert len(rows) == 21
    assert rows[1][:2] == ["2026-01-04 08:50:00", "2026-01-03 23:50:00"]
    assert rows[11][:2] == ["2026-01-04 09:00:00", "2026-01-04 00:00:00"]
    for row in rows[1:]:
        when = datetime.strptime(row[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert float(row[2]) == pytest.approx(temperature(when), abs=1e-3)
        assert float(row[3]) == 70.0
        assert float(row[4]) == setpoint(when)  # held between the 5-minute points, across the day boundary too
    english = csv_export(historian, KEY, start, end, "en").decode("utf-8-sig").splitlines()[0]
    assert english == "Time (Asia/Seoul),Time (UTC),air temperature (°C),humidity (%),air temperature setpoint (°C)"


def test_csv_is_streamed_a_few_days_at_a_time(historian: SqliteHistorian) -> None:
    start, end = T0, T0 + timedelta(days=30)
    pieces = list(iter_csv(historian, KEY, start, end))
    rows = [p.count(b"\r\n") for p in pieces]
    assert rows[0] == 1  # the header first, on its own
    assert len(pieces) >= 1 + 30 // CHUNK.days
    assert max(rows[1:]) <= CHUNK // timedelta(minutes=1)
    assert sum(rows) == 1 + 30 * 1440


# --------------------------------------------------------------------------- a historian that cannot be read


def test_an_unreadable_historian_is_one_portal_error(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"this is not a database" * 100)
    for url in (f"sqlite://{damaged}", f"sqlite://{tmp_path / 'missing.db'}", "influxdb://"):
        with pytest.raises(HistoryUnavailable) as err:
            open_history(url)
        assert err.value.code == "history_unavailable"
        assert "기록" in err.value.text("ko") and "history" in err.value.text("en")

    h = SqliteHistorian(tmp_path / "h.db")
    h.close()  # a historian gone from under the portal
    start, end = span_window("24h", END)
    with pytest.raises(PortalError) as err:
        zone_history(h, KEY, start, end)
    assert err.value.code == "history_unavailable"
    with pytest.raises(HistoryUnavailable):
        csv_export(h, KEY, start, end)


# --------------------------------------------------------------------------- charts


def test_charts_build_for_every_quantity_with_seoul_times_and_labels(historian: SqliteHistorian) -> None:
    start, end = span_window("24h", END)
    view = zone_history(historian, KEY, start, end, envelope={"air_temperature": (16.0, 26.0)})
    figures = history_figures(view, "ko")
    assert list(figures) == ["air_temperature", "relative_humidity"]
    temp = figures["air_temperature"]
    assert [tr.name for tr in temp.data] == ["조정 가능 범위", "조정 가능 범위", "설정값", "설정값", "온도"]
    assert temp.layout.xaxis.title.text == "시각 (한국 시간)"
    assert temp.layout.yaxis.title.text == "온도 (°C)"
    reading = temp.data[-1]
    assert reading.x[0] == np.datetime64("2026-02-04T09:00:00")  # 00:00 UTC shown as 09:00 in Seoul
    assert len(reading.x) == len(view.series[0].times)
    english = quantity_figure(view, "air_temperature", "en")
    assert english.layout.xaxis.title.text == "Time (Asia/Seoul)"
    assert english.layout.yaxis.title.text == "air temperature (°C)"

    # Every quantity the vocabulary names, as a reading, a setpoint-only chart and with an envelope.
    times = (start, start + timedelta(minutes=1), start + timedelta(minutes=2))
    for name in sorted(set(QUANTITIES) | set(RESOLUTION) | set(DEFAULT_UNIT)):
        series = (Series(name, "degC", "sensor", times, (1.0, None, 2.0)),)
        band = Band(name, "degC", "setpoint", times, (1.0, 1.0, 1.0), (1.0, 1.5, 1.5))
        for v in (HistoryView(KEY, start, end, timedelta(minutes=1), series),
                  HistoryView(KEY, start, end, timedelta(minutes=1), (), {name: band}, {name: band})):
            for lang in ("ko", "en"):
                fig = history_figures(v, lang)[name]
                assert fig.layout.title.text == texts.quantity(name, lang)
                fig.to_json()


def test_seoul_times_are_wall_clock() -> None:
    got = seoul_times([datetime(2026, 6, 30, 15, 0, tzinfo=UTC), datetime(2026, 7, 1, 15, 0, tzinfo=UTC)])
    assert list(got) == [np.datetime64("2026-07-01T00:00:00"), np.datetime64("2026-07-02T00:00:00")]
    assert len(seoul_times([])) == 0


def test_charts_read_in_numbers_with_the_legend_above_the_plot(historian: SqliteHistorian) -> None:
    """Plotly's own time labels are English ("Dec 7, 2026"), and a legend under the plot ran into the time
    axis's title on a 390-px phone: ticks are numbers for every span, the legend is a row above the plot."""
    start, end = span_window("24h", END)
    view = zone_history(historian, KEY, start, end, envelope={"air_temperature": (16.0, 26.0)})
    for lang in ("ko", "en"):
        fig = quantity_figure(view, "air_temperature", lang)
        formats = [stop.value for stop in fig.layout.xaxis.tickformatstops] + [fig.layout.xaxis.hoverformat]
        assert formats and all(f and "%b" not in f and "%B" not in f and "%a" not in f for f in formats), formats
        assert fig.layout.legend.orientation == "h"
        assert fig.layout.legend.y >= 1 and fig.layout.legend.yanchor == "bottom"  # above the plot area
        assert [tr.name for tr in fig.data if tr.showlegend is not False] == [
            texts.t("band:envelope", lang), texts.t("band:setpoint", lang)]  # the title names the reading
    series = (Series("aerator_1_current", "A", "sensor", (start,), (4.0,)),)
    current = HistoryView(KEY, start, end, timedelta(minutes=1), series)
    assert quantity_figure(current, "aerator_1_current", "ko").layout.title.text == "폭기기 1 전류"


def test_a_sparse_logger_draws_a_line_and_a_long_silence_still_breaks_it() -> None:
    from portal.service.history import bridge

    t0 = datetime(2026, 12, 7, tzinfo=UTC)
    times = tuple(t0 + timedelta(minutes=m) for m in range(180))
    values = tuple(20.0 if m % 10 == 0 and not 60 <= m < 120 else None for m in range(180))  # an hour silent
    kept_times, kept = bridge(times, values)
    assert kept.count(None) == 1  # the hour's silence, once
    gap = kept.index(None)
    assert kept_times[gap] == t0 + timedelta(minutes=51)  # right after the last reading before it
    assert [v for v in kept if v is not None] == [v for v in values if v is not None]
    assert kept[0] is not None and kept[-1] is not None
