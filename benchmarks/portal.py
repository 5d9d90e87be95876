"""The tenant portal: what a page costs the server, measured on real components. Prints one JSON line.

Figures (each group is one function in FIGURES; later groups add the browser's figures to the same line):
- zone_page_ms_30d: server time to build the history part of a zone page for the 30-day span: the zone's
  history read from the SQLite historian (roll-up windows, LTTB, setpoint bands) plus one plotly figure per
  quantity, serialised to JSON as Streamlit sends it to the browser. The historian holds 30 days of one point a
  minute for 6 sensor series (259,200 points) and 3 setpoints logged every 5 min, as the daemon logs them.
  Median of RUNS runs after one warm-up (the page's first open pays SQLite's page cache once).
- history_query_ms_30d: the historian query alone: the 6 sensor series over the same 30 days at the window the
  portal picks for that span (30 min: 1,440 windows from the 1-minute roll-up), median of RUNS.
- zone_page_points_30d: the points the figures of that page hold in all (at most 2,000 a series).
- csv_export_ms_30d, csv_export_mb_30d, csv_peak_mib_30d: the zone's CSV export of the same 30 days (one row a
  minute, 6 readings and 3 setpoints: 43,200 rows), median of 3 runs; its size; and the most memory Python held
  at once while making it (tracemalloc, a separate run: the export is written a day at a time).
- isolation_cases, isolation_leaks, isolation_mismatches: the tenant-isolation matrix on a real stack
  (benchmarks/portal_isolation.py); leaks must be 0.
Issue 17's target: zone_page_ms_30d ≤ 1500 ms, aim ≤ 500 ms.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and this file would shadow the `portal` package.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

from farmcore.historian.base import Point
from farmcore.historian.sqlite import SqliteHistorian
from portal.service.charts import history_figures
from portal.service.history import MAX_POINTS, WINDOW_SLACK, pick_every, zone_history
from portal.service.history_csv import csv_export, iter_csv
from portal.service.model import ZoneKey

RUNS = 7
DAYS = 30
END = datetime(2026, 3, 1, tzinfo=UTC)
START = END - timedelta(days=DAYS)
KEY = ZoneKey("bench", "gh1")
SENSORS = {  # name: (unit, mean, daily swing)
    "air_temperature": ("degC", 20.0, 6.0),
    "relative_humidity": ("%RH", 75.0, 15.0),
    "co2": ("ppm", 600.0, 200.0),
    "soil_moisture": ("%", 35.0, 5.0),
    "solar_radiation": ("W/m2", 250.0, 250.0),
    "ec": ("dS/m", 2.2, 0.3),
}
SETPOINTS = {"air_temperature": (18.0, 24.0), "relative_humidity": (85.0, 80.0), "co2": (500.0, 800.0)}  # night, day
ENVELOPE = {"air_temperature": (16.0, 26.0), "relative_humidity": (70.0, 90.0), "co2": (400.0, 1000.0)}
SETPOINT_EVERY_MIN = 5  # the daemon logs a setpoint at least every 300 s (farmcore/runtime/records.py)


def fill(path: Path) -> None:
    """30 days of 1-minute readings of the six sensors and the setpoints, through write() as the daemon writes."""
    h = SqliteHistorian(path, raw_days=None, minute_days=None, batch_max=50_000)
    for day in range(DAYS):
        points = []
        for minute in range(1440):
            when = START + timedelta(days=day, minutes=minute)
            phase = math.sin(2 * math.pi * (minute - 480) / 1440)
            for name, (unit, mean, swing) in SENSORS.items():
                value = mean + swing * phase + 0.1 * swing * math.sin(minute * 0.37 + day)
                points.append(Point("sensor", KEY.site, KEY.zone, name, when, {"value": value}, quality="good",
                                    tags={"unit": unit}))
            if minute % SETPOINT_EVERY_MIN == 0:
                daytime = 360 <= minute < 1080
                for name, (night, day_value) in SETPOINTS.items():
                    points.append(Point("setpoint", KEY.site, KEY.zone, name, when,
                                        {"value": day_value if daytime else night}, tags={"source": "recipe"}))
        h.write(points)
        h.flush()
    h.maintain()
    h.close()


def _median_ms(fn: Callable[[], object], runs: int = RUNS) -> tuple[float, object]:
    fn()  # warm-up
    times, out = [], None
    for _ in range(runs):
        started = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1), out


def filled(directory: Path) -> Path:
    """The 30-day historian in `directory`, filled by the first figure that asks for it."""
    path = directory / "history.db"
    if not path.exists():
        fill(path)
    return path


def history_figures_30d(directory: Path) -> dict[str, object]:
    """zone_page_ms_30d, history_query_ms_30d, zone_page_points_30d (see the module docstring)."""
    path = filled(directory)
    h = SqliteHistorian(path, read_only=True)
    try:
        every = pick_every(START, END, MAX_POINTS * WINDOW_SLACK)

        def query() -> object:
            return h.query(site=KEY.site, zone=KEY.zone, names=list(SENSORS), start=START, end=END, every=every,
                           kind="sensor")

        def page() -> object:
            view = zone_history(h, KEY, START, END, envelope=ENVELOPE)
            figures = history_figures(view, "ko")
            return view, [fig.to_json() for fig in figures.values()]

        query_ms, _ = _median_ms(query)
        page_ms, (view, _) = _median_ms(page)  # type: ignore[misc]
    finally:
        h.close()
    points = sum(len(s.values) for s in view.series) + sum(len(b.low) for b in view.setpoints.values())
    return {"zone_page_ms_30d": page_ms, "history_query_ms_30d": query_ms, "zone_page_points_30d": points}


def csv_figures_30d(directory: Path) -> dict[str, object]:
    """csv_export_ms_30d, csv_export_mb_30d, csv_peak_mib_30d (see the module docstring)."""
    h = SqliteHistorian(filled(directory), read_only=True)
    try:
        export_ms, data = _median_ms(lambda: csv_export(h, KEY, START, END), runs=3)
        tracemalloc.start()
        for _ in iter_csv(h, KEY, START, END):  # streamed as a server would send it, nothing kept
            pass
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        h.close()
    return {"csv_export_ms_30d": export_ms, "csv_export_mb_30d": round(len(data) / 1e6, 2),  # type: ignore[arg-type]
            "csv_peak_mib_30d": round(peak / 2**20, 1)}


def _isolation(directory: Path) -> dict[str, object]:
    """benchmarks/portal_isolation.py, imported when run: it starts a whole stack (twin, daemons, broker)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # hil_tests, for the matrix and the stack
    from benchmarks.portal_isolation import isolation_figures

    return isolation_figures(directory)


def _browser(directory: Path) -> dict[str, object]:
    """benchmarks/portal_browser.py, imported when run: a whole stack and Debian's chromium."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # hil_tests, for the stack
    from benchmarks.portal_browser import browser_figures

    return browser_figures(directory)


FIGURES: list[Callable[[Path], dict[str, object]]] = [history_figures_30d, csv_figures_30d, _isolation, _browser]


def main() -> None:
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="portal-bench-", dir=os.environ.get("PORTAL_BENCH_DIR")) as tmp:
        for figure in FIGURES:
            out.update(figure(Path(tmp)))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
