"""Fit the greenhouse model to a site's history and replay it (`farmctl twin calibrate` / `twin replay`).

History CSV (our own format; one row per sample, UTF-8, comma-separated, a header row):

| column | unit | required |
|---|---|---|
| `time` | ISO 8601, UTC (`2024-01-05T03:00:00Z`; a time without offset is taken as UTC) | yes, increasing |
| `outside_temperature` | °C | yes |
| `outside_humidity` | %RH | yes |
| `solar_radiation` | W/m², global, outside | yes |
| `wind_speed` | m/s | yes |
| `inside_temperature` | °C | yes |
| `inside_humidity` | %RH | yes |
| `inside_co2` | ppm | no |
| `vent_pct` | % open, all vents together; or `roof_vent_pct` and/or `side_vent_pct` | one of them |
| `heating` | 0..1 share of the heater capacity; or `pipe_temperature` (°C, 0 or below the air = off) | one of them |
| `screen_pct` | % closed (drawn) thermal screen | yes |
| `shade_pct` | % closed shade or blackout screen | no |
| `lighting_pct` | % of full lamp power | no |
| `co2_dosing_pct` | % of the CO2 dosing capacity; or `co2_setpoint` (ppm: replay emulates the doser) | no |
| `outside_co2` | ppm | no (415) |

Other columns are ignored. An empty cell is a missing sample: an input (weather, actuator) holds its last
value, a missing inside reading is left out of the fit and the scores. Errors name the file, the line and
the column. Each row's inputs act from its time to the next row's time (zero-order hold).

`agc2022_history(dir)` reads the Autonomous Greenhouse Challenge 2022 lettuce files (MIT, Koidra Tech
Inc. 2023; ../shared/data/README.md) into the same in-memory `History`; they are read in place, never
copied into the repository.

Calibration: least squares (scipy) over a few GreenhouseParams, simulating the training rows with the
recorded weather and actuators and re-initialising the climate states from the measurements at the start
of every window (default 24 h) and after a gap. Replay simulates the held-back rows in one free run from
the measured state at their start.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from farmcore.errors import BadInput
from farmcore.twin.greenhouse import (
    PARAMS,
    Greenhouse,
    GreenhouseParams,
    GreenhouseState,
    absolute_humidity_to_rh,
    co2_kg_m3_to_ppm,
    dump_params,
    params_for,
)

NAN = float("nan")
WEATHER_COLUMNS = ("outside_temperature", "outside_humidity", "solar_radiation", "wind_speed")
MEASURED_COLUMNS = ("inside_temperature", "inside_humidity", "inside_co2")
INPUT_COLUMNS = ("roof_vent_pct", "side_vent_pct", "heating", "pipe_temperature", "screen_pct", "shade_pct",
                 "lighting_pct", "co2_dosing_pct", "co2_setpoint", "outside_co2", "longwave_net")
CSV_COLUMNS = ("time", *WEATHER_COLUMNS, *MEASURED_COLUMNS, *INPUT_COLUMNS)
RANGES: dict[str, tuple[float, float]] = {
    "outside_temperature": (-60.0, 70.0), "inside_temperature": (-60.0, 80.0),
    "outside_humidity": (0.0, 100.5), "inside_humidity": (0.0, 100.5), "solar_radiation": (-5.0, 1500.0),
    "wind_speed": (0.0, 80.0), "inside_co2": (0.0, 20000.0), "outside_co2": (0.0, 20000.0),
    "heating": (0.0, 1.0), "longwave_net": (-300.0, 100.0), "pipe_temperature": (-60.0, 150.0),
    "co2_setpoint": (0.0, 20000.0),
    **{c: (0.0, 100.0) for c in ("vent_pct", "roof_vent_pct", "side_vent_pct", "screen_pct", "shade_pct",
                                 "lighting_pct", "co2_dosing_pct")},
}
GAP_S = 3600.0  # a longer step between rows restarts the simulation from the measurements
CO2_BAND_PPM = 50.0  # proportional band of the doser emulated from a CO2 set-point


@dataclass
class History:
    """Time-aligned weather, actuators and inside readings. Columns hold floats, NaN = missing."""

    times: list[datetime]
    columns: dict[str, list[float]]
    source: str = "history"
    base: str = "single-pe-1000"  # parameter set to start a calibration from

    def __post_init__(self) -> None:
        for name, values in self.columns.items():
            if len(values) != len(self.times):
                raise ValueError(f"column {name}: {len(values)} values for {len(self.times)} times")

    def __len__(self) -> int:
        return len(self.times)

    def rows(self, start: int, stop: int) -> History:
        return History(self.times[start:stop], {k: v[start:stop] for k, v in self.columns.items()},
                       self.source, self.base)

    def split(self, fraction: float) -> tuple[History, History]:
        """(first `fraction` of the rows, the rest)."""
        if not 0.0 < fraction < 1.0:
            raise BadInput(f"split fraction {fraction}: expected a number between 0 and 1")
        cut = round(len(self) * fraction)
        return self.rows(0, cut), self.rows(cut, len(self))


# --- reading and writing ----------------------------------------------------------------------------------

def _parse_time(text: str, where: str) -> datetime:
    value = text.strip()
    try:
        t = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
    except ValueError:
        raise BadInput(f"{where}: {text!r} is not an ISO 8601 time such as 2024-01-05T03:00:00Z") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def load_history(path: str | Path) -> History:
    """Read a history CSV (format in the module docstring). Raises BadInput naming file, line and column."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror or exc}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise BadInput(f"{path}: empty file; expected a header row starting with time") from None
        except csv.Error as exc:
            raise BadInput(f"{path}: line 1: {exc}") from None
        index = {name: i for i, name in enumerate(header)}
        _check_header(path, index)
        times: list[datetime] = []
        wanted = [c for c in ("vent_pct", *WEATHER_COLUMNS, *MEASURED_COLUMNS, *INPUT_COLUMNS) if c in index]
        raw: dict[str, list[float]] = {c: [] for c in wanted}
        try:
            for row in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) < len(header):
                    raise BadInput(f"{path}: line {line}: {len(row)} cells, the header has {len(header)}")
                t = _parse_time(row[index["time"]], f"{path}: line {line}, column time")
                if times and t <= times[-1]:
                    raise BadInput(f"{path}: line {line}, column time: {row[index['time']].strip()} is not "
                                   f"after the previous row ({times[-1].isoformat()})")
                times.append(t)
                for name in wanted:
                    raw[name].append(_cell(row[index[name]], path, line, name))
        except csv.Error as exc:
            raise BadInput(f"{path}: line {reader.line_num}: {exc}") from None
    if len(times) < 2:
        raise BadInput(f"{path}: needs at least 2 data rows, found {len(times)}")
    vent = raw.pop("vent_pct", None)
    if vent is not None:
        raw.setdefault("roof_vent_pct", list(vent))
        raw.setdefault("side_vent_pct", list(vent))
    for name in ("roof_vent_pct", "side_vent_pct"):
        raw.setdefault(name, [0.0] * len(times))
    return History(times, raw, source=str(path))


def _check_header(path: Path, index: dict[str, int]) -> None:
    required = ("time", *WEATHER_COLUMNS, "inside_temperature", "inside_humidity", "screen_pct")
    for name in required:
        if name not in index:
            raise BadInput(f"{path}: line 1: missing column {name}")
    if not {"vent_pct", "roof_vent_pct", "side_vent_pct"} & index.keys():
        raise BadInput(f"{path}: line 1: missing column vent_pct (or roof_vent_pct / side_vent_pct)")
    if not {"heating", "pipe_temperature"} & index.keys():
        raise BadInput(f"{path}: line 1: missing column heating (or pipe_temperature)")


def _cell(text: str, path: Path, line: int, column: str) -> float:
    text = text.strip()
    if not text:
        return NAN
    try:
        value = float(text)
    except ValueError:
        raise BadInput(f"{path}: line {line}, column {column}: {text!r} is not a number") from None
    if math.isnan(value):
        return NAN
    lo, hi = RANGES[column]
    if not lo <= value <= hi:
        raise BadInput(f"{path}: line {line}, column {column}: {text} is outside {lo:g}..{hi:g}")
    return value


def save_history(history: History, path: str | Path) -> None:
    """Write a History in the CSV format `load_history` reads (empty cells for NaN)."""
    names = [c for c in CSV_COLUMNS[1:] if c in history.columns]
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["time", *names])
        for i, t in enumerate(history.times):
            cells = [t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")]
            for name in names:
                v = history.columns[name][i]
                cells.append("" if math.isnan(v) else repr(round(v, 6)))
            out.writerow(cells)


# --- the AGC-2022 lettuce data ----------------------------------------------------------------------------

AGC_DIR_NAME = "agc2022-lettuce"
AGC_FILES = ("GreenhouseClimate.csv", "GreenhouseControls.csv", "weather.csv")
AGC_LAMP_PAR_PER_PCT = 3.25  # umol m-2 s-1 per % of assim_vip: PARin at night in this data (50 % -> 162)
AGC_UTC_OFFSET = timedelta(hours=1)  # timestamps taken as Dutch winter time (CET), unverified


def shared_data_dir() -> Path:
    """`$FARM_SHARED_DATA`, else `<repo>/../shared/data` (the folder beside the repository)."""
    env = os.environ.get("FARM_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def agc2022_dir(base: str | Path | None = None) -> Path:
    """The AGC-2022 lettuce folder: `base` (or shared_data_dir()) itself if it holds the files, else
    its `agc2022-lettuce` subfolder."""
    root = Path(base) if base is not None else shared_data_dir()
    return root if (root / AGC_FILES[0]).exists() else root / AGC_DIR_NAME


def _agc_time(text: str, where: str) -> datetime:
    try:
        t = datetime.strptime(text.strip(), "%m/%d/%Y %H:%M")
    except ValueError:
        raise BadInput(f"{where}: {text!r} is not a m/d/yyyy H:MM time") from None
    minutes = t.hour * 60 + t.minute
    rounded = 5 * round(minutes / 5)  # the grid is 5 min with timestamps truncated by up to 1 min
    t = t.replace(hour=0, minute=0) + timedelta(minutes=rounded)
    return (t - AGC_UTC_OFFSET).replace(tzinfo=UTC)


def _agc_read(path: Path) -> dict[datetime, dict[str, float]]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror or exc}") from None
    rows: dict[datetime, dict[str, float]] = {}
    with handle:
        reader = csv.reader(handle)
        header = [h.strip() for h in next(reader, [])]
        if not header or header[0] != "Date":
            raise BadInput(f"{path}: line 1: expected the AGC-2022 header starting with Date")
        for row in reader:
            if not row:
                continue
            where = f"{path}: line {reader.line_num}"
            t = _agc_time(row[0], f"{where}, column Date")
            values: dict[str, float] = {}
            for name, cell in zip(header[1:], row[1:], strict=False):
                cell = cell.strip()
                try:
                    values[name] = float(cell) if cell else NAN
                except ValueError:
                    raise BadInput(f"{where}, column {name}: {cell!r} is not a number") from None
            rows[t] = values
    return rows


def agc2022_history(data_dir: str | Path | None = None) -> History:
    """The AGC-2022 Reference compartment as a History (see the module docstring for the mapping).

    Vents: the mean of the lee- and wind-side roof vents (`VentLee`, `VentWind`); heat from `Tpipe` (0 = off);
    thermal screen: the more closed of the energy and blackout curtains (`EnScr`, `BlckScr`), and the
    blackout curtain also shades; lamps: the LED PAR implied by `assim_vip`, capped by the measured
    `PARin` (AssimLight reads 100 % around the clock); CO2 dosing emulated from `CO2_vip`.
    """
    folder = agc2022_dir(data_dir)
    missing = [name for name in AGC_FILES if not (folder / name).exists()]
    if missing:
        raise BadInput(f"{folder}: not the AGC-2022 lettuce folder (no {', '.join(missing)})")
    climate, controls, weather = (_agc_read(folder / name) for name in AGC_FILES)
    times = sorted(climate.keys() & controls.keys() & weather.keys())
    cols: dict[str, list[float]] = {c: [] for c in (*WEATHER_COLUMNS, *MEASURED_COLUMNS, "roof_vent_pct",
                                                    "side_vent_pct", "pipe_temperature", "screen_pct", "shade_pct",
                                                    "lighting_pct", "co2_setpoint", "longwave_net")}
    for t in times:
        c, s, w = climate[t], controls[t], weather[t]
        cols["outside_temperature"].append(w.get("Tout", NAN))
        cols["outside_humidity"].append(w.get("Rhout", NAN))
        cols["solar_radiation"].append(w.get("Iglob", NAN))
        cols["wind_speed"].append(w.get("Windsp", NAN))
        cols["longwave_net"].append(w.get("Pyrgeo", NAN))
        cols["inside_temperature"].append(c.get("Tair", NAN))
        cols["inside_humidity"].append(c.get("Rhair", NAN))
        cols["inside_co2"].append(c.get("CO2air", NAN))
        cols["roof_vent_pct"].append(0.5 * (c.get("VentLee", NAN) + c.get("VentWind", NAN)))
        cols["side_vent_pct"].append(0.0)
        cols["pipe_temperature"].append(c.get("Tpipe", NAN))
        en, blk = c.get("EnScr", NAN), c.get("BlckScr", NAN)
        cols["screen_pct"].append(NAN if math.isnan(en) or math.isnan(blk) else max(en, blk))
        cols["shade_pct"].append(blk)
        assim, par_in = s.get("assim_vip", NAN), c.get("PARin", NAN)
        lamp_par = NAN if math.isnan(assim) else AGC_LAMP_PAR_PER_PCT * assim
        if not math.isnan(lamp_par) and not math.isnan(par_in):
            lamp_par = min(lamp_par, par_in)
        cols["lighting_pct"].append(NAN if math.isnan(lamp_par) else min(100.0, lamp_par / AGC_LAMP_PAR_PER_PCT))
        cols["co2_setpoint"].append(s.get("CO2_vip", NAN))
    return History(times, cols, source=f"agc2022:{folder}", base="venlo-glass-96")


def open_history(spec: str) -> History:
    """A history CSV path, or `agc2022:DIR` (`agc2022:` alone: the shared data folder)."""
    if spec.startswith("agc2022:"):
        rest = spec.removeprefix("agc2022:")
        return agc2022_history(rest or None)
    return load_history(spec)


# --- simulation over a history ----------------------------------------------------------------------------

@dataclass
class _Drive:
    """Per-row inputs, forward-filled, ready for the inner loop."""

    dt: list[float]
    weather: list[tuple[float, float, float, float, float, float]]
    actuators: list[tuple[float, float, float, float, float, float | None, float, float | None]]
    measured: list[tuple[float, float, float]]


def _filled(values: Sequence[float] | None, default: float | None, name: str, source: str) -> list[float]:
    if values is None:
        if default is None:
            raise BadInput(f"{source}: column {name} is missing")
        return []
    out: list[float] = []
    last = next((v for v in values if not math.isnan(v)), default)
    if last is None or (isinstance(last, float) and math.isnan(last)):
        raise BadInput(f"{source}: column {name} has no values")
    for v in values:
        if not math.isnan(v):
            last = v
        out.append(last)
    return out


def _prepare(history: History) -> _Drive:
    cols, src, n = history.columns, history.source, len(history)

    def col(name: str, default: float | None) -> list[float]:
        values = _filled(cols.get(name), default, name, src)
        return values if values else [default if default is not None else NAN] * n

    t_out, rh_out = col("outside_temperature", None), col("outside_humidity", None)
    sun, wind = col("solar_radiation", None), col("wind_speed", None)
    co2_out = col("outside_co2", 415.0)
    longwave = col("longwave_net", 0.0)
    roof, side = col("roof_vent_pct", 0.0), col("side_vent_pct", 0.0)
    screen, shade, light = col("screen_pct", 0.0), col("shade_pct", 0.0), col("lighting_pct", 0.0)
    heating = col("heating", 0.0)
    pipe = col("pipe_temperature", NAN) if "pipe_temperature" in cols else None
    setpoint = col("co2_setpoint", NAN) if "co2_setpoint" in cols and "co2_dosing_pct" not in cols else None
    dt = [(history.times[i + 1] - history.times[i]).total_seconds() for i in range(n - 1)] + [0.0]
    measured = list(zip(cols["inside_temperature"], cols["inside_humidity"],
                        cols.get("inside_co2", [NAN] * n), strict=True))
    actuators = [(roof[i] / 100, side[i] / 100, screen[i] / 100, shade[i] / 100, light[i] / 100,
                  None if pipe is None else pipe[i], heating[i], None if setpoint is None else setpoint[i])
                 for i in range(n)]
    return _Drive(dt=dt, weather=list(zip(t_out, rh_out, sun, wind, co2_out, longwave, strict=True)),
                  actuators=actuators, measured=measured)


def _apply(model: Greenhouse, act: tuple, dosing: float) -> None:
    roof, side, screen, shade, light, pipe, heating, _sp = act
    u = model.inputs
    u.roof_vent, u.side_vent, u.thermal_screen, u.shade_screen, u.lighting = roof, side, screen, shade, light
    u.pipe_temperature, u.heating, u.co2_dosing = pipe, heating, dosing


def simulate(history: History, params: GreenhouseParams, *, window_s: float | None = None,
             drive: _Drive | None = None, max_substep_s: float | None = None) -> dict[str, list[float]]:
    """Predicted inside temperature (°C), humidity (%RH) and CO2 (ppm) for every row.

    Row 0 (and the first row of every window of `window_s` seconds, and the row after a gap longer than
    GAP_S) starts from the measurements; those rows are NaN in the result. Without a dosing column and with
    a set-point, the doser is emulated proportionally (CO2_BAND_PPM).
    """
    d = drive or _prepare(history)
    n = len(history)
    out_t, out_rh, out_c = [NAN] * n, [NAN] * n, [NAN] * n
    dose_col = history.columns.get("co2_dosing_pct")
    model = Greenhouse(params)
    if max_substep_s is not None:
        model.max_substep_s = max_substep_s
    window_start = -math.inf
    elapsed = 0.0
    state_ok = False
    for i in range(n - 1):
        if not state_ok or elapsed - window_start >= (window_s or math.inf) or d.dt[i - 1 if i else 0] > GAP_S:
            m_t, m_rh, m_c = d.measured[i]
            if not (math.isnan(m_t) or math.isnan(m_rh)):
                co2 = m_c if not math.isnan(m_c) else (co2_kg_m3_to_ppm(model.state.co2, m_t) if state_ok else 415.0)
                old = model.state  # unmeasured states are carried on
                model.state = GreenhouseState.at(m_t, m_rh, co2, dry_weight=old.dry_weight,
                                                 mass_temperature=old.mass_temperature if state_ok else m_t,
                                                 pipe_water_temperature=old.pipe_water_temperature,
                                                 substrate_water=params.field_capacity)
                window_start = elapsed
                state_ok = True
        dt = d.dt[i]
        elapsed += dt
        if not state_ok:
            continue
        act = d.actuators[i]
        if dose_col is not None:
            dose = dose_col[i] / 100 if not math.isnan(dose_col[i]) else model.inputs.co2_dosing
        elif act[7] is not None:
            ppm = co2_kg_m3_to_ppm(model.state.co2, model.state.air_temperature)
            dose = min(1.0, max(0.0, (act[7] - ppm) / CO2_BAND_PPM))
        else:
            dose = 0.0
        _apply(model, act, dose)
        if dt > GAP_S:
            state_ok = False
            continue
        model.advance(dt, *d.weather[i])
        model.state.substrate_water = params.field_capacity  # irrigation is not part of a history
        s = model.state
        out_t[i + 1] = s.air_temperature
        out_rh[i + 1] = min(100.0, absolute_humidity_to_rh(s.humidity, s.air_temperature))
        out_c[i + 1] = co2_kg_m3_to_ppm(s.co2, s.air_temperature)
    return {"inside_temperature": out_t, "inside_humidity": out_rh, "inside_co2": out_c}


def _rmse(pred: Sequence[float], meas: Sequence[float]) -> float | None:
    errs = [(p - m) ** 2 for p, m in zip(pred, meas, strict=True) if not (math.isnan(p) or math.isnan(m))]
    return math.sqrt(sum(errs) / len(errs)) if errs else None


def _bias(pred: Sequence[float], meas: Sequence[float]) -> float | None:
    errs = [p - m for p, m in zip(pred, meas, strict=True) if not (math.isnan(p) or math.isnan(m))]
    return sum(errs) / len(errs) if errs else None


def scores(history: History, predicted: dict[str, list[float]]) -> dict[str, Any]:
    """RMSE and bias of the predictions against the measurements (None where nothing was measured)."""
    cols = history.columns
    t = predicted["inside_temperature"]
    rmse_t = _rmse(t, cols["inside_temperature"])
    out: dict[str, Any] = {
        "rmse_temp_c": rmse_t,
        "rmse_rh_pct": _rmse(predicted["inside_humidity"], cols["inside_humidity"]),
        "rmse_co2_ppm": _rmse(predicted["inside_co2"], cols["inside_co2"]) if "inside_co2" in cols else None,
        "bias_temp_c": _bias(t, cols["inside_temperature"]),
        "bias_rh_pct": _bias(predicted["inside_humidity"], cols["inside_humidity"]),
        "rows": sum(1 for v in t if not math.isnan(v)),
        "hours": round((history.times[-1] - history.times[0]).total_seconds() / 3600.0, 2) if len(history) else 0,
    }
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


def replay(history: History, params: GreenhouseParams, *, window_s: float | None = None) -> dict[str, Any]:
    """Simulate the history with its recorded weather and actuators (a free run from the first measured
    state unless window_s) and score it: rmse_temp_c, rmse_rh_pct, rmse_co2_ppm, biases, rows, hours."""
    if len(history) < 2:
        raise BadInput(f"{history.source}: nothing to replay (fewer than 2 rows)")
    return scores(history, simulate(history, params, window_s=window_s))


# --- calibration ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FitSpec:
    """How one fitted quantity maps onto GreenhouseParams fields (scaled together) and its bounds."""

    fields: tuple[str, ...]
    lower: float  # bounds on the first field's value
    upper: float


FIT_SPECS: dict[str, FitSpec] = {
    "cover_u": FitSpec(("u_cover", "u_cover_wind"), 0.5, 20.0),  # U(w) scaled as a whole
    "heat_capacity": FitSpec(("heat_capacity",), 3e3, 1.5e5),
    "leakage": FitSpec(("leakage",), 1e-6, 3e-3),
    "solar_gain": FitSpec(("solar_gain",), 0.01, 1.0),
    "pipe": FitSpec(("pipe_coefficient",), 0.1, 40.0),
    "pipe_capacity": FitSpec(("pipe_capacity",), 1e3, 2e5),
    "screen_vent": FitSpec(("screen_vent_factor",), 1e-3, 1.0),
    "screen_u": FitSpec(("screen_u_reduction",), 0.0, 0.9),
    "lamp_heat": FitSpec(("lamp_heat_fraction",), 0.0, 2.0),
    "transpiration": FitSpec(("transpiration_coef",), 1e-5, 0.05),
    "discharge": FitSpec(("discharge_coef",), 0.05, 3.0),
    "mass_capacity": FitSpec(("mass_capacity",), 1e4, 5e5),
    "mass_coupling": FitSpec(("mass_coupling",), 0.1, 50.0),
    "mass_solar": FitSpec(("mass_solar_share",), 0.0, 0.8),
    "sky": FitSpec(("sky_loss_share",), 0.0, 1.5),
    "latent": FitSpec(("latent_heat_share",), 0.0, 1.0),
    "boundary": FitSpec(("boundary_coupling",), 0.0, 20.0),
    "boundary_temp": FitSpec(("boundary_temperature",), 5.0, 25.0),
}
FIT_ALIASES = {"pipe_coefficient": "pipe", "cover": "cover_u", "c_cap_q": "heat_capacity", "c_rad_q": "solar_gain"}
DEFAULT_FIT = ("cover_u", "heat_capacity", "leakage", "solar_gain", "pipe")
RESIDUAL_SCALE = {"inside_temperature": 1.0, "inside_humidity": 5.0}  # 1 °C weighs as 5 %RH


def apply_fit(base: GreenhouseParams, names: Sequence[str], values: Sequence[float]) -> GreenhouseParams:
    """`base` with the named fitted quantities set (for cover_u, u_cover; u_cover_wind keeps its ratio)."""
    changes: dict[str, float] = {}
    for name, value in zip(names, values, strict=True):
        spec = FIT_SPECS[name]
        first = getattr(base, spec.fields[0])
        factor = value / first if first else 0.0
        changes[spec.fields[0]] = value
        for other in spec.fields[1:]:
            changes[other] = getattr(base, other) * factor
    return replace(base, **changes)


def _fit_names(fit: Iterable[str]) -> list[str]:
    names: list[str] = []
    for raw in fit:
        name = FIT_ALIASES.get(raw, raw)
        if name not in FIT_SPECS:
            raise BadInput(f"cannot fit {raw!r}; choose from {', '.join(FIT_SPECS)}")
        if name not in names:
            names.append(name)
    if not names:
        raise BadInput("nothing to fit")
    return names


def calibrate(history: History, base: GreenhouseParams, fit: Iterable[str] = DEFAULT_FIT, *,
              window_s: float | None = 24 * 3600.0, humidity: bool = True,
              max_nfev: int = 200) -> tuple[GreenhouseParams, dict[str, Any]]:
    """Least-squares fit of `fit` (names in FIT_SPECS) on inside temperature (and humidity).

    Returns the fitted parameters and a report: fitted values, start values, train scores before and
    after, evaluations, solver status and wall time.
    """
    try:
        from scipy.optimize import least_squares
    except ImportError:  # pragma: no cover - scipy is a dependency of the project
        raise BadInput("calibration needs scipy (pip install scipy)") from None
    names = _fit_names(fit)
    if len(history) < 3:
        raise BadInput(f"{history.source}: too few rows to calibrate ({len(history)})")
    drive = _prepare(history)
    meas_t = history.columns["inside_temperature"]
    meas_rh = history.columns["inside_humidity"]
    if sum(1 for v in meas_t if not math.isnan(v)) < 3:
        raise BadInput(f"{history.source}: column inside_temperature has too few values to calibrate")
    refs, lo, hi, x0 = [], [], [], []
    for name in names:
        spec = FIT_SPECS[name]
        start = getattr(base, spec.fields[0])
        ref = start if start > 0 else 0.5 * (spec.lower + spec.upper)
        refs.append(ref)
        lo.append(spec.lower / ref)
        hi.append(spec.upper / ref)
        x0.append(min(max(start / ref, spec.lower / ref * 1.0001), spec.upper / ref * 0.9999))

    def params_at(x: Sequence[float]) -> GreenhouseParams:
        return apply_fit(base, names, [float(xi) * r for xi, r in zip(x, refs, strict=True)])

    def residuals(x: Sequence[float]) -> list[float]:
        pred = simulate(history, params_at(x), window_s=window_s, drive=drive)
        res: list[float] = []
        for p, m in zip(pred["inside_temperature"], meas_t, strict=True):
            res.append(0.0 if math.isnan(p) or math.isnan(m) else (p - m) / RESIDUAL_SCALE["inside_temperature"])
        if humidity:
            for p, m in zip(pred["inside_humidity"], meas_rh, strict=True):
                res.append(0.0 if math.isnan(p) or math.isnan(m) else (p - m) / RESIDUAL_SCALE["inside_humidity"])
        return res

    started = time.perf_counter()
    before = scores(history, simulate(history, base, window_s=window_s, drive=drive))
    result = least_squares(residuals, x0, bounds=(lo, hi), diff_step=1e-3, x_scale="jac", max_nfev=max_nfev,
                           xtol=1e-8, ftol=1e-8)
    fitted = params_at(list(result.x))
    after = scores(history, simulate(history, fitted, window_s=window_s, drive=drive))
    report = {
        "fitted": {name: _sig(getattr(fitted, FIT_SPECS[name].fields[0])) for name in names},
        "start": {name: _sig(getattr(base, FIT_SPECS[name].fields[0])) for name in names},
        "fields": {f: _sig(getattr(fitted, f)) for name in names for f in FIT_SPECS[name].fields},
        "base": base.name,
        "train_rows": len(history),
        "window_h": None if window_s is None else window_s / 3600.0,
        "before": before,
        "after": after,
        "nfev": int(result.nfev),
        "success": bool(result.success),
        "message": str(result.message),
        "seconds": round(time.perf_counter() - started, 2),
    }
    return replace(fitted, name=f"{base.name}+calibrated"), report


def _sig(x: float, digits: int = 5) -> float:
    return float(f"{x:.{digits}g}")


# --- command line ---------------------------------------------------------------------------------------

history_option = click.option("--history", "history_spec", required=True, metavar="CSV|agc2022:DIR",
                              help="history CSV (see `farmcore.twin.calibration`), or agc2022:DIR for the "
                                   "AGC-2022 lettuce folder")
json_option = click.option("--json", "as_json", is_flag=True, help="print one JSON document on stdout")


def _emit(as_json: bool, document: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(document, ensure_ascii=False) if as_json else text)


def _score_line(label: str, s: dict[str, Any]) -> str:
    def fmt(v: Any, unit: str) -> str:
        return "-" if v is None else f"{v:.2f} {unit}"
    return (f"{label}: RMSE temperature {fmt(s['rmse_temp_c'], 'degC')}, humidity {fmt(s['rmse_rh_pct'], '%RH')}, "
            f"CO2 {fmt(s['rmse_co2_ppm'], 'ppm')} over {s['rows']} rows ({s['hours']} h)")


@click.command("calibrate")
@history_option
@click.option("--base", default=None, metavar="ID|TOML",
              help=f"parameter set to start from ({', '.join(PARAMS)}); default: by history")
@click.option("--fit", default=",".join(DEFAULT_FIT), show_default=True,
              help=f"comma-separated quantities to fit, from: {', '.join(FIT_SPECS)}")
@click.option("--train-fraction", type=float, default=0.6, show_default=True,
              help="fit on this leading share of the rows; the rest is scored (replay)")
@click.option("--window-hours", type=float, default=24.0, show_default=True,
              help="restart the simulation from the measurements this often while fitting (0: never)")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="write the fitted parameters as TOML")
@json_option
def calibrate_command(history_spec: str, base: str | None, fit: str, train_fraction: float,
                      window_hours: float, out_path: str | None, as_json: bool) -> None:
    """Fit the greenhouse model's parameters to a site's history by least squares."""
    history = open_history(history_spec)
    if not 0.0 < train_fraction <= 1.0:
        raise BadInput(f"--train-fraction {train_fraction}: expected more than 0 and at most 1")
    base_params = params_for(base or history.base)
    train, test = (history, None) if train_fraction >= 1.0 else history.split(train_fraction)
    params, report = calibrate(train, base_params, [f.strip() for f in fit.split(",") if f.strip()],
                               window_s=window_hours * 3600.0 if window_hours > 0 else None)
    held_back = replay(test, params) if test is not None and len(test) > 1 else None
    if out_path:
        comment = (f"greenhouse parameters calibrated on {history.source} (first {train_fraction:g} of the rows)\n"
                   f"fitted: {', '.join(report['fitted'])}; train RMSE {report['after']['rmse_temp_c']} degC")
        text = dump_params(params, comment).replace(f'name = "{params.name}"',
                                                    f'name = "{params.name}"\nbase = "{base_params.name}"'
                                                    if base_params.name in PARAMS else f'name = "{params.name}"')
        try:
            Path(out_path).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise BadInput(f"--out {out_path}: cannot write: {exc.strerror or exc}") from None
    doc = {"history": history.source, "base": base_params.name, "train_fraction": train_fraction,
           **report, "held_back": held_back, "out": out_path}
    lines = [f"{history.source}: fitted {len(report['fitted'])} parameters from {base_params.name} "
             f"({report['nfev']} simulations, {report['seconds']} s)"]
    lines += [f"  {name:<14} {report['start'][name]:<10g} -> {value:g}" for name, value in report["fitted"].items()]
    lines.append(_score_line("train before", report["before"]))
    lines.append(_score_line("train after ", report["after"]))
    if held_back is not None:
        lines.append(_score_line("held back   ", held_back))
    if out_path:
        lines.append(f"written: {out_path}")
    _emit(as_json, doc, "\n".join(lines))


@click.command("replay")
@history_option
@click.option("--params", "params_ref", default=None, metavar="TOML|ID",
              help="parameters (a TOML from `calibrate --out`, or a shipped id); default: by history")
@click.option("--from-fraction", type=float, default=0.6, show_default=True,
              help="replay the rows from this share on (0: all)")
@json_option
def replay_command(history_spec: str, params_ref: str | None, from_fraction: float, as_json: bool) -> None:
    """Replay a history through the model with its recorded weather and actuators and score it."""
    history = open_history(history_spec)
    params = params_for(params_ref or history.base)
    if not 0.0 <= from_fraction < 1.0:
        raise BadInput(f"--from-fraction {from_fraction}: expected at least 0 and less than 1")
    part = history if from_fraction == 0.0 else history.split(from_fraction)[1]
    result = replay(part, params)
    doc = {"history": history.source, "params": params.name, "from_fraction": from_fraction, **result}
    _emit(as_json, doc, _score_line(f"{history.source} ({params.name})", result))


COMMANDS = (calibrate_command, replay_command)

__all__ = [
    "COMMANDS", "DEFAULT_FIT", "FIT_SPECS", "History", "agc2022_dir", "agc2022_history", "apply_fit",
    "calibrate", "calibrate_command", "load_history", "open_history", "replay", "replay_command",
    "save_history", "scores", "shared_data_dir", "simulate",
]
