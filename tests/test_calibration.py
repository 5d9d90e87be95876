"""History CSV, calibration and replay of the greenhouse twin (farmcore.twin.calibration)."""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from farmcore.errors import BadInput
from farmcore.twin.calibration import (
    History,
    agc2022_dir,
    agc2022_history,
    apply_fit,
    calibrate,
    calibrate_command,
    load_history,
    replay,
    replay_command,
    save_history,
    simulate,
)
from farmcore.twin.greenhouse import PARAMS, load_params

BASE = PARAMS["double-pe-curtain-1000"]
TRUTH = apply_fit(BASE, ["cover_u", "heat_capacity", "leakage", "solar_gain", "pipe"],
                  [3.85 * 1.25, 38_000.0, 1.6e-4, 0.26, 5.0])
START = datetime(2026, 1, 10, tzinfo=UTC)


def synthetic(params=TRUTH, days: float = 2.0, step_min: int = 10, seed: int = 7) -> History:
    """A history whose inside readings the model itself produced from varied weather and actuators."""
    rng = random.Random(seed)
    n = int(days * 24 * 60 / step_min) + 1
    times = [START + timedelta(minutes=step_min * i) for i in range(n)]
    cols: dict[str, list[float]] = {k: [] for k in (
        "outside_temperature", "outside_humidity", "solar_radiation", "wind_speed", "roof_vent_pct",
        "side_vent_pct", "pipe_temperature", "screen_pct", "co2_dosing_pct")}
    wind = 2.0
    for t in times:
        hour = t.hour + t.minute / 60
        sun = max(0.0, 650 * math.sin(math.pi * (hour - 7) / 10)) if 7 < hour < 17 else 0.0
        sun *= 0.6 + 0.4 * rng.random()
        wind = min(9.0, max(0.2, wind + rng.gauss(0, 0.4)))
        t_out = 2 + 6 * math.sin(math.pi * (hour - 9) / 12)
        day = 8 <= hour < 17
        cols["outside_temperature"].append(t_out)
        cols["outside_humidity"].append(70 + 15 * math.cos(math.pi * hour / 12))
        cols["solar_radiation"].append(sun)
        cols["wind_speed"].append(wind)
        vent = 0.0 if not day or hour < 10 or hour > 15 else rng.choice((0.0, 10.0, 25.0, 40.0))
        cols["roof_vent_pct"].append(vent)
        cols["side_vent_pct"].append(vent / 2)
        cols["pipe_temperature"].append(rng.choice((0.0, 0.0, 35.0, 45.0, 55.0)) if not day else 0.0)
        cols["screen_pct"].append(0.0 if day else 100.0)
        cols["co2_dosing_pct"].append(60.0 if day and vent == 0 else 0.0)
    for name in ("inside_temperature", "inside_humidity", "inside_co2"):
        cols[name] = [float("nan")] * n
    cols["inside_temperature"][0], cols["inside_humidity"][0], cols["inside_co2"][0] = 12.0, 80.0, 430.0
    history = History(times, cols, source="synthetic")
    pred = simulate(history, params)
    for name in ("inside_temperature", "inside_humidity", "inside_co2"):
        cols[name][1:] = pred[name][1:]
    return history


CSV_HEADER = ("time,outside_temperature,outside_humidity,solar_radiation,wind_speed,inside_temperature,"
              "inside_humidity,inside_co2,vent_pct,heating,screen_pct\n")


def write(tmp_path, rows: list[str], header: str = CSV_HEADER):
    path = tmp_path / "h.csv"
    path.write_text(header + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


# --- the history CSV ---------------------------------------------------------------------------------------

def test_csv_round_trip(tmp_path):
    history = synthetic(days=0.5)
    path = tmp_path / "history.csv"
    save_history(history, path)
    back = load_history(path)
    assert back.times == history.times
    assert set(back.columns) == set(history.columns)
    for name, values in history.columns.items():
        for a, b in zip(values, back.columns[name], strict=True):
            assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-6)
    assert replay(back, TRUTH)["rmse_temp_c"] == pytest.approx(0.0, abs=1e-4)


def test_csv_minimal_form_vent_pct_heating_and_gaps(tmp_path):
    path = write(tmp_path, [
        "2026-01-10T00:00:00Z,1.0,80,0,2.0,12.0,80,430,0,0.5,100",
        "2026-01-10T00:10:00+00:00,1.0,80,0,2.0,12.1,,,,0.5,100",  # missing readings and a vent sample
        "2026-01-10T09:20:00+09:00,1.0,80,,2.0,,80,430,50,0.5,0",  # offset converted to UTC
        "2026-01-10T00:30:00,1.0,80,0,2.0,12.2,80,430,50,0.5,0",  # no offset: UTC
    ])
    h = load_history(path)
    assert [t.minute for t in h.times] == [0, 10, 20, 30] and all(t.tzinfo == UTC for t in h.times)
    assert h.columns["roof_vent_pct"][2] == h.columns["side_vent_pct"][2] == 50.0
    assert math.isnan(h.columns["inside_co2"][1]) and math.isnan(h.columns["solar_radiation"][2])
    result = replay(h, PARAMS["single-pe-1000"])
    assert result["rows"] == 3 and result["rmse_temp_c"] is not None


@pytest.mark.parametrize("rows,header,message", [
    (["2026-01-10T00:00:00Z,1,80,0,2,12,80,430,0,0.5,100"] * 2, None,
     r"h.csv: line 3, column time: .* is not after the previous row"),
    (["2026-01-10T00:00:00Z,1,80,0,2,12,80,430,0,0.5,100", "2026-01-10T00:10:00Z,1,80,0,2,abc,80,430,0,0.5,100"],
     None, r"h.csv: line 3, column inside_temperature: 'abc' is not a number"),
    (["2026-01-10T00:00:00Z,1,80,0,2,12,80,430,0,0.5,100", "2026-01-10T00:10:00Z,1,80,0,2,12,80,430,0,1.5,100"],
     None, r"h.csv: line 3, column heating: 1.5 is outside 0..1"),
    (["yesterday,1,80,0,2,12,80,430,0,0.5,100", "2026-01-10T00:10:00Z,1,80,0,2,12,80,430,0,0.5,100"],
     None, r"h.csv: line 2, column time: 'yesterday' is not an ISO 8601 time"),
    (["2026-01-10T00:00:00Z,1,80,0,2,12,80,430,0,0.5"], None, r"h.csv: line 2: 10 cells, the header has 11"),
    (["2026-01-10T00:00:00Z,1,80,0,2,12,80,430,0,0.5,100"], None, r"h.csv: needs at least 2 data rows"),
    ([], CSV_HEADER.replace("inside_humidity,", ""), r"h.csv: line 1: missing column inside_humidity"),
    ([], CSV_HEADER.replace("vent_pct,", ""), r"h.csv: line 1: missing column vent_pct"),
    ([], CSV_HEADER.replace("heating,", ""), r"h.csv: line 1: missing column heating \(or pipe_temperature\)"),
    ([], "", r"h.csv: empty file"),
])
def test_csv_errors_name_file_line_and_column(tmp_path, rows, header, message):
    path = write(tmp_path, rows, CSV_HEADER if header is None else header)
    with pytest.raises(BadInput, match=message):
        load_history(path)


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(BadInput, match=r"nope.csv: cannot read"):
        load_history(tmp_path / "nope.csv")


# --- calibration -------------------------------------------------------------------------------------------

def test_calibration_recovers_known_parameters():
    history = synthetic(days=2.0)
    start = replace(BASE, pipe_coefficient=3.0)  # away from the truth in every fitted quantity
    fitted, report = calibrate(history, start)
    assert report["success"]
    for field in ("u_cover", "heat_capacity", "leakage", "solar_gain", "pipe_coefficient"):
        assert getattr(fitted, field) == pytest.approx(getattr(TRUTH, field), rel=0.03), field
    assert report["after"]["rmse_temp_c"] < 0.02
    assert report["before"]["rmse_temp_c"] > 10 * report["after"]["rmse_temp_c"]
    assert set(report["fitted"]) == {"cover_u", "heat_capacity", "leakage", "solar_gain", "pipe"}


def test_calibration_recovers_the_boundary_exchange():
    truth = replace(TRUTH, boundary_coupling=4.0, boundary_temperature=16.0)
    history = synthetic(truth, days=2.0)
    start = replace(truth, boundary_coupling=1.0, boundary_temperature=10.0)
    fitted, report = calibrate(history, start, ("boundary", "boundary_temp", "cover_u"), window_s=72 * 3600.0)
    assert report["success"]
    assert fitted.boundary_coupling == pytest.approx(4.0, rel=0.03)
    assert fitted.boundary_temperature == pytest.approx(16.0, abs=0.3)
    assert fitted.u_cover == pytest.approx(truth.u_cover, rel=0.03)
    assert report["window_h"] == 72.0 and report["after"]["rmse_temp_c"] < 0.02


def test_calibrate_rejects_unknown_fit_names():
    with pytest.raises(BadInput, match="cannot fit 'colour'"):
        calibrate(synthetic(days=0.2), BASE, ["colour"])


# --- command line ------------------------------------------------------------------------------------------

def test_cli_calibrate_then_replay(tmp_path):
    csv_path, out = tmp_path / "site.csv", tmp_path / "fitted.toml"
    save_history(synthetic(days=1.5), csv_path)
    runner = CliRunner()
    result = runner.invoke(calibrate_command, ["--history", str(csv_path), "--base", "double-pe-curtain-1000",
                                               "--fit", "cover_u,solar_gain", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["base"] == "double-pe-curtain-1000" and set(doc["fitted"]) == {"cover_u", "solar_gain"}
    assert doc["held_back"]["rmse_temp_c"] is not None
    params = load_params(out)
    assert params.u_cover == pytest.approx(doc["fields"]["u_cover"], rel=1e-4)
    result = runner.invoke(replay_command, ["--history", str(csv_path), "--params", str(out), "--json"])
    assert result.exit_code == 0, result.output
    replayed = json.loads(result.output)
    assert replayed["rmse_temp_c"] == pytest.approx(doc["held_back"]["rmse_temp_c"], rel=1e-6)
    text = runner.invoke(replay_command, ["--history", str(csv_path), "--params", "double-pe-curtain-1000"])
    assert text.exit_code == 0 and "RMSE temperature" in text.output


def test_cli_errors_are_farm_errors(tmp_path):
    runner = CliRunner()
    result = runner.invoke(replay_command, ["--history", str(tmp_path / "none.csv")])
    assert isinstance(result.exception, BadInput) and "none.csv: cannot read" in str(result.exception)
    result = runner.invoke(replay_command, ["--history", f"agc2022:{tmp_path}"])
    assert isinstance(result.exception, BadInput) and "not the AGC-2022 lettuce folder" in str(result.exception)


# --- the AGC-2022 lettuce data (read in place from ../shared/data) ------------------------------------------

AGC = agc2022_dir()
needs_agc = pytest.mark.skipif(not (AGC / "GreenhouseClimate.csv").exists(),
                               reason=f"AGC-2022 lettuce data not found at {AGC} (set FARM_SHARED_DATA)")


@needs_agc
def test_agc2022_history_maps_the_lettuce_files():
    h = agc2022_history()
    assert len(h) == 12384 and h.base == "venlo-glass-96"
    assert h.times[0] == datetime(2022, 1, 31, 23, 0, tzinfo=UTC)  # 2022-02-01 00:00 CET
    assert all((b - a) == timedelta(minutes=5) for a, b in zip(h.times, h.times[1:], strict=False))
    i = h.times.index(datetime(2022, 2, 3, 0, 0, tzinfo=UTC))  # 01:00 CET: LEDs at 50 %, screens closed
    assert h.columns["lighting_pct"][i] == pytest.approx(50, abs=2)
    assert h.columns["screen_pct"][i] > 95 and h.columns["pipe_temperature"][i] == 0.0
    assert h.columns["roof_vent_pct"][i] == pytest.approx((74.0 + 59.9) / 2)
    day = h.rows(i, i + 288)
    result = replay(day, PARAMS["venlo-glass-96"])
    assert result["rows"] == 287 and result["rmse_temp_c"] < 8
