"""Fidelity and speed of the greenhouse twin on the AGC-2022 lettuce data.

Prints one JSON line:
- calibrates the greenhouse model (farmcore.twin.calibration.calibrate, least squares on inside temperature
  and humidity, 72 h windows restarted from the measurements) on the first 60 % of the rows of the
  Autonomous Greenhouse Challenge 2022 Reference compartment (Bleiswijk, 5 min, 1 Feb - 15 Mar 2022; MIT,
  Koidra Tech Inc. 2023), starting from the glasshouse set `venlo-glass-96`;
- replays the remaining 40 % with the recorded weather and actuators in one free run from the measured
  state at its start: rmse_temp_c (target <= 1.5), rmse_rh_pct, rmse_co2_ppm (CO2 dosing emulated from the
  recorded set-point), biases;
- train_rmse_temp_c: the fit's own score (72 h windows); train_free_rmse_temp_c: the training rows in one
  free run;
- rmse_temp_c_24h: the same rows as day-ahead runs restarted from the measurements every 24 h;
- baseline_persistence_24h_rmse_temp_c: "tomorrow is like today" (T(t) = T(t - 24 h)) on the same rows;
- sim_seconds_per_wall_second: one zone (`single-pe-1000`, the demo house) stepped 10 s at a time through
  Greenhouse.step with a WeatherSample (target >= 10 000);
- the fitted parameters.

The data are read in place from `<repo>/../shared/data/agc2022-lettuce` or from `$FARM_SHARED_DATA` (the
shared data folder or the lettuce folder itself); they are never copied into the repository.
"""

from __future__ import annotations

import json
import math
import sys
import time
from datetime import UTC, datetime

from farmcore.errors import FarmError
from farmcore.twin.calibration import agc2022_dir, agc2022_history, calibrate, replay
from farmcore.twin.greenhouse import PARAMS, Greenhouse
from farmcore.twin.weather import WeatherSample

TRAIN_FRACTION = 0.6
FIT = ("cover_u", "heat_capacity", "leakage", "solar_gain", "pipe",  # the default set
       "screen_vent", "screen_u", "lamp_heat", "discharge",  # screens, LEDs and vent discharge of this compartment
       "boundary", "boundary_temp")  # exchange with the heated neighbouring compartments, corridor and soil
FIT_WINDOW_H = 72.0  # multi-day free runs while fitting, closer to the replay's one long free run than 24 h
SPEED_SIM_S = 7 * 24 * 3600.0
SPEED_STEP_S = 10.0


def speed() -> float:
    house = Greenhouse(PARAMS["single-pe-1000"])
    house.inputs.side_vent, house.inputs.heating, house.inputs.thermal_screen = 0.3, 0.4, 0.5
    weather = WeatherSample(time=datetime(2026, 1, 15, tzinfo=UTC), air_temperature=2.0, relative_humidity=70.0,
                            solar_radiation=250.0, wind_speed=2.5, wind_direction=300.0, rain=0.0)
    steps = int(SPEED_SIM_S / SPEED_STEP_S)
    started = time.perf_counter()
    for _ in range(steps):
        house.step(SPEED_STEP_S, weather)
    return SPEED_SIM_S / (time.perf_counter() - started)


def persistence_rmse(history, first: int) -> float:
    temps = history.columns["inside_temperature"]
    errors = [(temps[i] - temps[i - 288]) ** 2 for i in range(max(first, 288), len(temps))
              if not (math.isnan(temps[i]) or math.isnan(temps[i - 288]))]
    return math.sqrt(sum(errors) / len(errors))


def main() -> int:
    folder = agc2022_dir()
    try:
        history = agc2022_history(folder)
    except FarmError as exc:
        print(json.dumps({"error": str(exc), "data": str(folder)}))
        return 1
    train, test = history.split(TRAIN_FRACTION)
    base = PARAMS[history.base]
    params, report = calibrate(train, base, FIT, window_s=FIT_WINDOW_H * 3600.0)
    free = replay(test, params)
    train_free = replay(train, params)
    daily = replay(test, params, window_s=24 * 3600.0)
    doc = {
        "data": "AGC-2022 lettuce, Reference compartment",
        "train_rows": len(train), "test_rows": len(test), "test_hours": free["hours"],
        "rmse_temp_c": free["rmse_temp_c"], "rmse_rh_pct": free["rmse_rh_pct"],
        "rmse_co2_ppm": free["rmse_co2_ppm"], "bias_temp_c": free["bias_temp_c"],
        "bias_rh_pct": free["bias_rh_pct"],
        "rmse_temp_c_24h": daily["rmse_temp_c"], "rmse_rh_pct_24h": daily["rmse_rh_pct"],
        "baseline_persistence_24h_rmse_temp_c": round(persistence_rmse(history, len(train)), 4),
        "train_rmse_temp_c": report["after"]["rmse_temp_c"], "train_rmse_rh_pct": report["after"]["rmse_rh_pct"],
        "train_free_rmse_temp_c": train_free["rmse_temp_c"], "fit_window_h": FIT_WINDOW_H,
        "uncalibrated_rmse_temp_c": replay(test, base)["rmse_temp_c"],
        "sim_seconds_per_wall_second": round(speed()),
        "base": base.name, "fitted": report["fitted"], "fitted_fields": report["fields"],
        "calibration_seconds": report["seconds"], "nfev": report["nfev"],
        "targets": {"rmse_temp_c": 1.5, "sim_seconds_per_wall_second": 10_000},
    }
    print(json.dumps(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
