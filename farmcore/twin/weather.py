"""Outdoor weather for the digital twin and the what-if tool: recorded (CSV) or synthetic (Gyeongbuk).

Every source answers `sample(t)` for a UTC time with one `WeatherSample`; the greenhouse and tank models
read only that. Sources:

* `CsvWeather`: a recorded series, interpolated linearly in time. Before the first row and after the
  last one it holds the first / last values (clamped, not extrapolated).
* `SyntheticWeather`: seeded, reproducible weather of a Gyeongbuk inland site (Daegu/Andong climate).
* `load_weather(spec, lat, lon)`: `"synthetic"`, `"synthetic:SEED"` or a CSV path (a site file's
  `[weather] source`).

Our weather CSV format (UTF-8, comma separated, one header line, one row per time, rows in time order)::

    time,air_temperature,relative_humidity,solar_radiation,wind_speed,wind_direction,rain
    2026-03-01T00:00:00+09:00,1.5,71.0,0.0,1.2,315.0,0.0
    2026-03-01T01:00:00+09:00,1.1,74.5,0.0,0.9,300.0,0.4

  ==================  ==================================================================================
  time                ISO 8601 (`2026-03-01T00:00:00+09:00`, `...Z`); a time without an offset is read in
                      the `tz` given to `CsvWeather` (UTC by default)
  air_temperature     °C
  relative_humidity   % (0-100; up to 105 accepted from sensors and clipped to 100)
  solar_radiation     W/m², global horizontal (small negative night offsets are clipped to 0)
  wind_speed          m/s
  wind_direction      degrees, the direction the wind blows from (0/360 = north, 90 = east)
  rain                mm/h (0 when dry)
  co2                 optional 8th column, ppm (415 when absent)
  ==================  ==================================================================================

  Any row spacing is allowed (1 min ... 1 h); an empty cell is a missing value, filled by linear
  interpolation in time between its neighbours (nearest value at the ends; wind direction along the
  shorter arc). `column_map` renames another file's columns to these names (for example a KMA ASOS
  export: `{"일시": "time", "기온(°C)": "air_temperature", ...}`); the result must then be this format.
  Other columns are ignored. `write_csv` writes this format.

The AGC-2022 lettuce `weather.csv` (Autonomous Greenhouse Challenge 2022, Bleiswijk NL; MIT, Koidra Tech
Inc. 2023; see the shared data README) is recognised by its header (`Date,Tout ,Rhout,Iglob,Windsp,...`;
names are stripped of spaces) and read as is:

* `Date` is `m/d/yyyy H:MM` local time, truncated to the minute; it is rounded to the nearest 5 minutes
  (a regular grid) and read in `tz`, by default Europe/Amsterdam (CET in the file's February-March
  2022). The zone is not stated upstream; read as CET, the radiation-weighted mean time of day falls
  about 12 minutes after solar noon at Bleiswijk, read as UTC it would fall more than an hour late.
* `Tout` °C, `Rhout` %, `Iglob` W/m², `Windsp` m/s.
* `Winddir` is a bit-coded 8-sector compass (values 1, 2, 4, ..., 128), undocumented upstream. We read
  bit k as sector k clockwise from north: 1 N, 2 NE, 4 E, 8 SE, 16 S, 32 SW, 64 W, 128 NW. Assumption,
  supported by the data: the windiest, moistest codes are 32 and 64 (SW/W, the Atlantic westerlies; storm
  Eunice on 2022-02-18 blows from 32 then 64, as the real storm veered SW -> W) and the driest are 4 and 8
  (E/SE, continental air). Values that are not a power of two (two rows, averages) are treated as
  missing.
* `Rain` is a 0/1 rain detector: 1 is read as a nominal 1 mm/h (`AGC_RAIN_MM_H`), not a measured amount.
* Missing cells (2022-03-03, 2022-03-18) are filled by linear interpolation in time.

A bad file raises one `ConfigError` line naming the file, the column and the row (rows are lines of
the file; the header is row 1), e.g. `weather.csv: air_temperature (row 12): 'abc' is not a number`.
"""

from __future__ import annotations

import bisect
import calendar
import csv
import hashlib
import itertools
import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from farmcore.errors import ConfigError
from farmcore.sun import cos_zenith, haurwitz, sun_terms, sunrise_hour_angle_deg, year_start

__all__ = [
    "AGC_RAIN_MM_H",
    "CsvWeather",
    "SyntheticWeather",
    "WeatherSample",
    "WeatherSource",
    "load_weather",
    "write_csv",
]

CO2_DEFAULT_PPM = 415.0


@dataclass(frozen=True)
class WeatherSample:
    """Outdoor weather at one instant (what the greenhouse and tank models read)."""

    time: datetime  # UTC, tz-aware
    air_temperature: float  # °C
    relative_humidity: float  # %
    solar_radiation: float  # W/m², global horizontal
    wind_speed: float  # m/s
    wind_direction: float  # degrees, where the wind blows from
    rain: float  # mm/h, 0 when dry
    co2: float = CO2_DEFAULT_PPM  # ppm


@runtime_checkable
class WeatherSource(Protocol):
    def sample(self, t: datetime) -> WeatherSample:
        """The weather at `t` (a tz-aware time; the sample's time is `t` in UTC)."""
        ...


def _epoch(t: datetime) -> float:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"weather time {t.isoformat()} has no time zone; pass a UTC-aware datetime")
    return t.timestamp()


def _as_utc(t: datetime) -> datetime:
    return t if t.tzinfo is UTC else t.astimezone(UTC)


def _lerp_deg(a: float, b: float, f: float) -> float:
    """Interpolate two compass directions along the shorter arc."""
    d = (b - a + 180.0) % 360.0 - 180.0
    return (a + d * f) % 360.0


_TWO_PI = 2.0 * math.pi


# ---------------------------------------------------------------------------------------------- CSV

COLUMNS = ("time", "air_temperature", "relative_humidity", "solar_radiation", "wind_speed",
           "wind_direction", "rain")
OPTIONAL_COLUMNS = ("co2",)
_VALUE_COLUMNS = (*COLUMNS[1:], *OPTIONAL_COLUMNS)

# Plausible range of each quantity: a value outside is an error in the file (units mixed up, a sensor
# code); the limits are generous.
_RANGES: dict[str, tuple[float, float, str]] = {
    "air_temperature": (-60.0, 60.0, "°C"),
    "relative_humidity": (0.0, 105.0, "%"),
    "solar_radiation": (-50.0, 1500.0, "W/m²"),
    "wind_speed": (0.0, 80.0, "m/s"),
    "wind_direction": (0.0, 360.0, "degrees"),
    "rain": (0.0, 500.0, "mm/h"),
    "co2": (100.0, 5000.0, "ppm"),
}

AGC_TZ = "Europe/Amsterdam"
AGC_RAIN_MM_H = 1.0  # nominal rate for the AGC rain detector's "1" (not a measured amount)
# AGC-2022 weather.csv column -> our quantity (header names stripped of their trailing spaces)
_AGC_COLUMNS = {"Tout": "air_temperature", "Rhout": "relative_humidity", "Iglob": "solar_radiation",
                "Windsp": "wind_speed", "Winddir": "wind_direction", "Rain": "rain"}
_AGC_GRID_MIN = 5


def _agc_direction(code: float) -> float | None:
    """Bit-coded 8-sector direction (1 N, 2 NE, 4 E, ... 128 NW; see the module docstring) -> degrees."""
    if code <= 0:
        return None
    k = round(math.log2(code))
    if 0 <= k <= 7 and abs(code - 2**k) <= 1e-3 * 2**k:
        return 45.0 * k
    return None  # an average of several codes: missing, interpolated


def _fill_missing(times: list[float], values: list[float | None], circular: bool) -> list[float] | None:
    """Linear interpolation in time over the gaps; nearest value at the ends. None if all are missing."""
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if not known:
        return None
    if len(known) == len(values):
        return [v for _, v in known]
    (first, v_first), (last, v_last) = known[0], known[-1]
    out = [v_first] * (first + 1) + [0.0] * (len(values) - first - 1)
    for i in range(last, len(values)):
        out[i] = v_last
    for (a, va), (b, vb) in itertools.pairwise(known):
        out[a] = va
        span = times[b] - times[a]
        for i in range(a + 1, b):
            f = (times[i] - times[a]) / span
            out[i] = _lerp_deg(va, vb, f) if circular else va + (vb - va) * f
    return out


def _read_rows(path: Path, file: str) -> list[list[str]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(file, "", "weather file not found") from None
    except OSError as exc:
        raise ConfigError(file, "", f"cannot read the weather file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp949")  # KMA downloads are often saved in the Korean Windows code page
        except UnicodeDecodeError:
            raise ConfigError(file, "", "not a text file (expected UTF-8 CSV)") from None
    return list(csv.reader(text.splitlines()))


class CsvWeather:
    """A recorded weather series: our CSV format or the AGC-2022 `weather.csv` (see the module docstring).

    `sample(t)` interpolates linearly in time (wind direction along the shorter arc) and holds the first /
    last row outside the recorded period. `tz`: the zone of times written without an offset; by default
    UTC for our format and Europe/Amsterdam for the AGC file."""

    def __init__(self, path: str | Path, *, column_map: Mapping[str, str] | None = None,
                 tz: str | tzinfo | None = None) -> None:
        self.path = Path(path)
        file = str(path)
        self._file = file
        rows = _read_rows(self.path, file)
        while rows and not any(c.strip() for c in rows[0]):
            rows.pop(0)
        if not rows:
            raise ConfigError(file, "", "empty weather file (expected a header line and rows)")
        header = [h.strip() for h in rows[0]]
        if column_map:
            renames = {k.strip(): v for k, v in column_map.items()}
            header = [renames.get(h, h) for h in header]
        agc = not column_map and "Date" in header and all(c in header for c in _AGC_COLUMNS)
        if not agc:
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise ConfigError(file, "header",
                                  f"missing column(s) {', '.join(missing)}; expected "
                                  f"{','.join(COLUMNS)} (or the AGC-2022 weather.csv header)")
        dupes = sorted({h for h in header if h and header.count(h) > 1})
        if dupes:
            raise ConfigError(file, "header", f"duplicate column(s) {', '.join(dupes)}")
        self.format = "agc2022" if agc else "farmctl"
        try:
            zone = _resolve_tz(tz) if tz is not None else (_agc_zone() if agc else UTC)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(file, "tz", f"unknown time zone {tz!r}") from None

        if agc:
            time_col = header.index("Date")
            cols = {q: header.index(name) for name, q in _AGC_COLUMNS.items()}
        else:
            time_col = header.index("time")
            cols = {q: header.index(q) for q in _VALUE_COLUMNS if q in header}
        names = {q: rows[0][i].strip() for q, i in cols.items()}  # as written in the file
        time_name = rows[0][time_col].strip()

        times: list[float] = []
        raw: dict[str, list[float | None]] = {q: [] for q in cols}
        width = len(header)
        for n, row in enumerate(rows[1:], start=2):
            if not any(c.strip() for c in row):
                continue
            if len(row) < width:
                raise ConfigError(file, f"row {n}", f"{len(row)} cells, the header has {width}")
            text = row[time_col].strip()
            x = _agc_time(text, zone) if agc else _iso_time(text, zone)
            if x is None:
                want = "a m/d/yyyy H:MM time" if agc else "an ISO 8601 time (2026-03-01T00:00:00+09:00)"
                raise ConfigError(file, f"{time_name} (row {n})", f"{text!r} is not {want}")
            if times and x <= times[-1]:
                raise ConfigError(file, f"{time_name} (row {n})",
                                  f"{text!r} is not after the previous row (rows must be in time order)")
            times.append(x)
            for q, i in cols.items():
                raw[q].append(self._value(row[i], q, names[q], n, agc))
        if not times:
            raise ConfigError(file, "", "no data rows")

        self._t = times
        self._cols: dict[str, list[float]] = {}
        for q, values in raw.items():
            filled = _fill_missing(times, values, circular=q == "wind_direction")
            if filled is None:
                raise ConfigError(file, names[q], "no values in the whole file")
            self._cols[q] = filled
        self._co2 = self._cols.get("co2")
        self._last = 0

    def _value(self, cell: str, q: str, name: str, n: int, agc: bool) -> float | None:
        text = cell.strip()
        if not text or text.lower() in {"na", "nan", "null", "-"}:
            return None
        try:
            v = float(text)
        except ValueError:
            raise ConfigError(self._file, f"{name} (row {n})", f"{text!r} is not a number") from None
        if math.isnan(v):
            return None
        if agc and q == "wind_direction":
            if not 0.0 <= v <= 255.0:
                raise ConfigError(self._file, f"{name} (row {n})",
                                  f"{text} is not a bit-coded direction (1, 2, 4, ... 128)")
            return _agc_direction(v)
        if agc and q == "rain":
            if not 0.0 <= v <= 1.0:
                raise ConfigError(self._file, f"{name} (row {n})", f"{text} is not a 0/1 rain status")
            return v * AGC_RAIN_MM_H
        lo, hi, unit = _RANGES[q]
        if not lo <= v <= hi:
            raise ConfigError(self._file, f"{name} (row {n})",
                              f"{text} is outside the plausible range {lo:g} to {hi:g} {unit}")
        if q == "relative_humidity":
            return min(v, 100.0)
        if q == "solar_radiation":
            return max(v, 0.0)
        if q == "wind_direction":
            return v % 360.0
        return v

    @property
    def start(self) -> datetime:
        """Time of the first row (UTC)."""
        return datetime.fromtimestamp(self._t[0], UTC)

    @property
    def end(self) -> datetime:
        """Time of the last row (UTC)."""
        return datetime.fromtimestamp(self._t[-1], UTC)

    def __len__(self) -> int:
        return len(self._t)

    def sample(self, t: datetime) -> WeatherSample:
        x = _epoch(t)
        ts = self._t
        i = self._last  # the twin samples forward in time: try the last interval first
        if not (i + 1 < len(ts) and ts[i] <= x < ts[i + 1]):
            i = bisect.bisect_right(ts, x) - 1
            self._last = max(i, 0)
        c = self._cols
        if i < 0 or i + 1 >= len(ts):
            j = 0 if i < 0 else len(ts) - 1
            vals = [c[q][j] for q in COLUMNS[1:]]
            co2 = self._co2[j] if self._co2 else CO2_DEFAULT_PPM
        else:
            f = (x - ts[i]) / (ts[i + 1] - ts[i])
            vals = [c[q][i] + (c[q][i + 1] - c[q][i]) * f for q in COLUMNS[1:]]
            d = c["wind_direction"]
            vals[4] = _lerp_deg(d[i], d[i + 1], f)
            co2 = self._co2[i] + (self._co2[i + 1] - self._co2[i]) * f if self._co2 else CO2_DEFAULT_PPM
        return WeatherSample(_as_utc(t), *vals, co2=co2)


def _resolve_tz(tz: str | tzinfo) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _agc_zone() -> tzinfo:
    try:
        return ZoneInfo(AGC_TZ)
    except ZoneInfoNotFoundError:  # no tz database (install `tzdata`): the file's period is all CET
        return timezone(timedelta(hours=1), "CET")


def _iso_time(text: str, zone: tzinfo) -> float | None:
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=zone)
    return t.timestamp()


def _agc_time(text: str, zone: tzinfo) -> float | None:
    """`2/1/2022 0:04` (m/d/yyyy H:MM, local) -> epoch, rounded to the nearest 5 minutes."""
    try:
        d, hm = text.split()
        month, day, year = (int(p) for p in d.split("/"))
        hour, minute = (int(p) for p in hm.split(":")[:2])
        local = datetime(year, month, day)
    except ValueError:
        return None
    if not (0 <= hour < 24 and 0 <= minute < 60):
        return None
    minutes = hour * 60 + minute
    minutes = _AGC_GRID_MIN * round(minutes / _AGC_GRID_MIN)
    return (local + timedelta(minutes=minutes)).replace(tzinfo=zone).timestamp()


def write_csv(path: str | Path, samples: Iterable[WeatherSample]) -> None:
    """Write samples in our CSV format (UTC ISO 8601 times, the optional co2 column included)."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow([*COLUMNS, *OPTIONAL_COLUMNS])
        for s in samples:
            out.writerow([_as_utc(s.time).isoformat(), repr(s.air_temperature), repr(s.relative_humidity),
                          repr(s.solar_radiation), repr(s.wind_speed), repr(s.wind_direction), repr(s.rain),
                          repr(s.co2)])


# ---------------------------------------------------------------------------------------- synthetic


@dataclass(frozen=True)
class _Climate:
    """Monthly normals (January first) of a climate, for SyntheticWeather."""

    name: str
    elevation_m: float  # of the reference station
    tmax: tuple[float, ...]  # mean daily maximum, °C
    tmin: tuple[float, ...]  # mean daily minimum, °C
    rain_mm: tuple[float, ...]  # monthly precipitation, mm
    rain_days: tuple[float, ...]  # days with >= 0.1 mm
    cloud: tuple[float, ...]  # mean cloud cover, fraction of the sky
    wind: tuple[float, ...]  # mean wind speed, m/s
    wind_from: tuple[float, ...]  # prevailing direction, degrees
    temp_sd: tuple[float, ...]  # day-to-day (synoptic) temperature anomaly, K
    dew_depression: tuple[float, ...]  # dew point below the daily minimum, K (model parameter)
    rain_hours: tuple[float, ...]  # mean duration of one rain event, h (model parameter)
    haze: float  # clear-sky radiation factor for aerosols (model parameter)


# Daegu (KMA ASOS station 143), the climate of the inland Gyeongbuk basins. Temperature normals: KMA
# climatological normals 1991-2020 as we recall them, cross-checked against a rounded third-party table
# (climieviaggi.it "Daegu": min -4 -2 3 8 14 18 22 23 18 11 4 -2, max 6 8 14 21 25 28 30 31 27 22 15 8);
# APPROXIMATE (±0.5 K): check against KMA data (data.kma.go.kr, 평년값) before calibrating anything with
# them. Precipitation, rain days, cloud cover and wind: approximate Daegu normals (annual ≈ 1 060 mm, over
# half of it June-August in the Changma and typhoon season; winter NW monsoon, summer southerlies).
# Andong/Uiseong are ≈ 2-3 K colder on winter nights: use elevation_m or a CSV for such sites.
# The last rows are model parameters tuned so that the monthly mean RH comes near Daegu's normals
# (≈ 53 % in winter-spring, ≈ 76 % in July-August), rain events last a few hours (longer in summer) and
# daily global radiation comes near Daegu's approximate normals (≈ 8 MJ/m² in December, ≈ 19 in May;
# the Haurwitz clear sky is times `haze` = 0.9 for the Korean aerosol load).
_GYEONGBUK = _Climate(
    name="gyeongbuk",
    elevation_m=50.0,
    tmax=(6.1, 9.1, 14.6, 21.0, 26.0, 28.9, 30.6, 31.1, 27.0, 21.9, 14.7, 8.1),
    tmin=(-3.6, -1.5, 3.2, 8.6, 13.9, 18.9, 22.6, 23.0, 18.3, 11.5, 4.9, -1.5),
    rain_mm=(18.0, 27.0, 45.0, 67.0, 82.0, 139.0, 234.0, 229.0, 145.0, 46.0, 33.0, 17.0),
    rain_days=(4.5, 5.0, 7.0, 7.8, 8.5, 9.8, 14.5, 13.5, 9.0, 5.0, 5.0, 4.5),
    cloud=(0.30, 0.35, 0.45, 0.47, 0.50, 0.62, 0.72, 0.65, 0.55, 0.40, 0.38, 0.30),
    wind=(2.4, 2.6, 2.8, 2.8, 2.6, 2.3, 2.3, 2.3, 2.0, 1.9, 2.0, 2.2),
    wind_from=(315.0, 315.0, 300.0, 270.0, 225.0, 195.0, 180.0, 180.0, 225.0, 290.0, 310.0, 315.0),
    temp_sd=(2.6, 2.4, 2.2, 2.0, 1.7, 1.4, 1.2, 1.2, 1.4, 1.8, 2.2, 2.5),
    dew_depression=(5.0, 4.6, 4.8, 4.8, 4.0, 2.0, 1.0, 1.0, 1.5, 3.0, 4.0, 5.0),
    rain_hours=(3.0, 3.0, 3.5, 3.5, 4.0, 5.0, 6.0, 5.0, 4.5, 3.5, 3.0, 3.0),
    haze=0.9,
)
CLIMATES: dict[str, _Climate] = {"gyeongbuk": _GYEONGBUK}

_LAPSE_K_PER_M = 0.0065
_DAY_S = 86400.0
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# day-to-day persistence: a day's latent weather state is a moving average of the last days' innovations
# (order-independent, unlike a Markov chain): lag-1 autocorrelation ≈ 0.7 for clouds, ≈ 0.85 for the
# temperature anomaly
_CLOUD_W = (1.0, 0.8, 0.5, 0.25)
_TEMP_W = (1.0, 0.9, 0.75, 0.55, 0.35, 0.15)
_WIND_W = (1.0, 0.6)
_N_GAUSS = 4  # per-day innovations: cloud, temperature, wind speed, wind direction
_N_UNIFORM = 12  # per-day uniforms: cloud within the regime, rain amount and events
_REGIME_COVER = (0.125, 0.5, 0.875, 0.95)  # mean cover of the clear / partly / overcast / rain regimes
_GUST_STEP_MIN = 2  # the gust factor is drawn every 2 minutes and interpolated between
_GUST_N = 60 // _GUST_STEP_MIN
_GUST_PHI = 0.5  # step-to-step correlation of the gust factor
_GUST_SD = 0.22  # turbulence intensity (standard deviation of speed / mean speed)
_CACHE_MAX = 4096


def _norm(ws: tuple[float, ...]) -> float:
    return math.sqrt(sum(w * w for w in ws))


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def _seasonal(table: tuple[float, ...], pos: float) -> float:
    """Value of a monthly table at `pos` (months since 1 January, 0-12), linear between mid-months."""
    p = pos - 0.5
    i = math.floor(p)
    f = p - i
    return table[i % 12] * (1.0 - f) + table[(i + 1) % 12] * f


def _seasonal_deg(table: tuple[float, ...], pos: float) -> float:
    p = pos - 0.5
    i = math.floor(p)
    return _lerp_deg(table[i % 12], table[(i + 1) % 12], p - i)


def _regime_probs(climate: _Climate, month: int) -> tuple[float, float, float, float]:
    """P(clear, partly cloudy, overcast, rain) of a day in `month` (0-11), matching its rain days and
    mean cloud cover."""
    p_rain = climate.rain_days[month] / (365.25 / 12.0)
    q = 1.0 - p_rain
    p_partly = 0.35 * q
    # mean = p_rain*c_r + q*(a*c_clear + 0.35*c_partly + c*c_over), a + c = 0.65 (of q)
    rest = (climate.cloud[month] - p_rain * _REGIME_COVER[3]) / q - 0.35 * _REGIME_COVER[1]
    c = (rest - 0.65 * _REGIME_COVER[0]) / (_REGIME_COVER[2] - _REGIME_COVER[0])
    c = min(max(c, 0.0), 0.65)
    return (0.65 - c) * q, p_partly, c * q, p_rain


def _stable_seed(*parts: object) -> int:
    """A seed that is the same in every process, platform and Python version (unlike hash())."""
    text = "/".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def _normal(rng: random.Random) -> float:
    """A standard normal deviate by Box-Muller from `random()` only: Python guarantees the sequence of
    `random()` for a seed across versions, not that of `gauss()`."""
    return math.sqrt(-2.0 * math.log(1.0 - rng.random())) * math.cos(_TWO_PI * rng.random())


def _sat_vp(t: float) -> float:
    """Saturation vapour pressure over water, kPa (Tetens / FAO-56)."""
    return 0.6108 * math.exp(17.27 * t / (t + 237.3))


@dataclass(frozen=True, slots=True)
class _Day:
    """One local-solar day of synthetic weather."""

    sunrise: float  # local mean solar time, h
    t_peak: float  # time of the daily maximum, h
    tmax: float
    tmin: float
    dew: float  # dew point, °C
    cloud: float  # 0-1
    wind: float  # daily mean speed, m/s (before the diurnal cycle)
    wind_from: float  # degrees
    rain: tuple[tuple[float, float, float], ...]  # events (start h, end h, mm/h), local solar hours of the day


class SyntheticWeather:
    """Seeded, reproducible weather of a Gyeongbuk inland site, at any UTC time.

    The same seed and time always give the same sample, whatever else was sampled before; another
    seed gives another weather. Built from:

    * the sun's position (NOAA/Spencer) and a clear-sky model (Haurwitz, times 0.9 for haze), attenuated
      by cloud cover C with Kasten & Czeplak (1980): G = G_clear·(1 − 0.75·C^3.4), and by 40 % more while
      it rains; so it is never above `clear_sky_radiation` and 0 when the sun is down;
    * a day-to-day weather regime (clear, partly cloudy, overcast, rain) from a persistent seeded process,
      with monthly frequencies matching Daegu's rain days and cloud cover (wet Changma in July);
    * daily maximum/minimum from monthly normals plus a persistent anomaly and the cloud effect (cloudy
      days have a smaller range), a diurnal curve from sunrise (minimum) to about 14:30 solar time
      (maximum);
    * relative humidity from a daily dew point (anti-correlated with temperature through the day);
    * seasonal wind (NW winter monsoon, southerlies in summer), stronger in the afternoon, with
      gusts (a factor around 1, standard deviation 0.22, drawn every 2 minutes, interpolated);
    * rain events of a few hours on rain days, with the monthly normal amount on average.

    Values are computed hourly (cached) and interpolated linearly; the sun, and so the radiation, is
    computed at the exact time. `elevation_m` shifts temperatures by -6.5 K/km from the reference station.
    CO₂ is the constant 415 ppm.
    """

    def __init__(self, latitude: float = 36.0, longitude: float = 128.6, *, seed: int = 0,
                 elevation_m: float = 50.0, climate: str = "gyeongbuk") -> None:
        if not -66.0 < latitude < 66.0:
            raise ValueError(f"latitude {latitude} is outside the synthetic weather's range (-66 to 66)")
        if not -180.0 <= longitude <= 180.0:
            raise ValueError(f"longitude {longitude} is outside -180 to 180")
        if climate not in CLIMATES:
            raise ValueError(f"unknown climate {climate!r}; known: {', '.join(sorted(CLIMATES))}")
        self.latitude = latitude
        self.longitude = longitude
        self.seed = seed
        self.elevation_m = elevation_m
        self.climate = CLIMATES[climate]
        rlat = math.radians(latitude)
        self._sinlat, self._coslat = math.sin(rlat), math.cos(rlat)
        self._solar_offset_s = longitude * 240.0  # local mean solar time - UTC
        self._dt_elev = -_LAPSE_K_PER_M * (elevation_m - self.climate.elevation_m)
        # P(regime) per month, as four monthly tables (interpolated by day like the normals)
        self._probs = tuple(zip(*(_regime_probs(self.climate, m) for m in range(12)), strict=True))
        self._innov: dict[int, tuple[float, ...]] = {}
        self._days: dict[int, _Day] = {}
        self._hours: dict[int, tuple] = {}
        self._k = -(2**62)  # the hour of the last sample, and its two hour states
        self._a: tuple = ()
        self._b: tuple = ()

    # ------------------------------------------------------------------ randomness

    def _innovations(self, d: int) -> tuple[float, ...]:
        """Day `d`'s random numbers: _N_GAUSS standard normals then _N_UNIFORM uniforms."""
        got = self._innov.get(d)
        if got is None:
            rng = random.Random(_stable_seed(self.seed, "day", d))
            got = (*(_normal(rng) for _ in range(_N_GAUSS)),
                   *(rng.random() for _ in range(_N_UNIFORM)))
            if len(self._innov) > _CACHE_MAX:
                self._innov.clear()
            self._innov[d] = got
        return got

    def _smoothed(self, d: int, index: int, weights: tuple[float, ...]) -> float:
        """Moving average of innovation `index` over days d, d-1, ...; unit variance."""
        s = sum(w * self._innovations(d - lag)[index] for lag, w in enumerate(weights))
        return s / _norm(weights)

    # ------------------------------------------------------------------ days

    def _day(self, d: int) -> _Day:
        got = self._days.get(d)
        if got is None:
            got = self._make_day(d)
            if len(self._days) > _CACHE_MAX:
                self._days.clear()
            self._days[d] = got
        return got

    def _make_day(self, d: int) -> _Day:
        cl = self.climate
        day = date.fromordinal(d + _EPOCH_ORDINAL)
        ylen = 366.0 if calendar.isleap(day.year) else 365.0
        doy = day.timetuple().tm_yday
        pos = (doy - 0.5) / ylen * 12.0  # months since 1 January
        u = self._innovations(d)[_N_GAUSS:]

        # sun: declination and equation of time at local solar noon
        decl, eqtime = sun_terms(_TWO_PI / ylen * (doy - 1 - self.longitude / 360.0))
        noon = 12.0 - eqtime / 60.0
        sunrise = noon - sunrise_hour_angle_deg(self.latitude, decl) / 15.0

        # regime from the persistent latent state: clear < partly < overcast < rain
        z = _phi(self._smoothed(d, 0, _CLOUD_W))
        probs = [_seasonal(table, pos) for table in self._probs]
        regime, lo = 0, 0.0
        while regime < 3 and z >= lo + probs[regime]:
            lo += probs[regime]
            regime += 1
        v = min(max((z - lo) / probs[regime], 0.0), 1.0) if probs[regime] > 0 else 0.5
        cloud = (0.25 * v, 0.3 + 0.4 * v, 0.75 + 0.25 * v, 0.9 + 0.1 * v)[regime]

        # temperature: normals + persistent anomaly + cloud effect (cloudy: cooler days, warmer nights)
        c_mean = _seasonal(cl.cloud, pos)
        anomaly = _seasonal(cl.temp_sd, pos) * self._smoothed(d, 1, _TEMP_W)
        tmax = _seasonal(cl.tmax, pos) + self._dt_elev + anomaly - 5.0 * (cloud - c_mean)
        tmin = _seasonal(cl.tmin, pos) + self._dt_elev + anomaly + 3.0 * (cloud - c_mean)
        tmax = max(tmax, tmin + 1.0)

        depression = _seasonal(cl.dew_depression, pos)
        depression = 0.4 if regime == 3 else max(0.3, depression * (1.0 + 1.2 * (c_mean - cloud)))

        wind = _seasonal(cl.wind, pos) * math.exp(0.3 * self._smoothed(d, 2, _WIND_W) - 0.045)
        wind_from = (_seasonal_deg(cl.wind_from, pos) + 40.0 * self._smoothed(d, 3, _WIND_W)) % 360.0

        events: list[tuple[float, float, float]] = []
        if regime == 3:
            # daily amount: exponential around the mean amount of a rain day (heavy tail, capped)
            mean_mm = _seasonal(cl.rain_mm, pos) / _seasonal(cl.rain_days, pos)
            total = mean_mm * min(-math.log(1.0 - u[1]), 6.0)
            n = 1 + (u[2] < 0.4) + (u[3] < 0.2)
            mean_h = _seasonal(cl.rain_hours, pos)
            spans = []  # (start h, duration h, relative intensity)
            for i in range(n):
                hours = 1.0 + min(int(-math.log(1.0 - u[7 + i]) * (mean_h - 0.5)), 18)
                spans.append((float(int(u[4 + i] * 24.0)), hours, 0.5 + (u[10], u[11], u[0])[i]))
            weight = sum(h * w for _, h, w in spans)
            events = [(s, s + h, total * w / weight) for s, h, w in spans]  # Σ rate·hours = total
        return _Day(sunrise, noon + 2.5, tmax, tmin, tmin - depression, cloud, wind, wind_from, tuple(events))

    # ------------------------------------------------------------------ hours

    def _hour(self, k: int) -> tuple:
        got = self._hours.get(k)
        if got is None:
            got = self._make_hour(k)
            if len(self._hours) > _CACHE_MAX:
                self._hours.clear()
            self._hours[k] = got
        return got

    def _temperature(self, d: int, h: float) -> float:
        """Air temperature at local solar hour `h` of day `d` (h may exceed 24 for the following night)."""
        day = self._day(d)
        if h < day.sunrise:
            return self._temperature(d - 1, h + 24.0)
        if h < day.t_peak:  # rising: minimum at sunrise, maximum at t_peak (cosine, smooth at both ends)
            f = (h - day.sunrise) / (day.t_peak - day.sunrise)
            return day.tmin + (day.tmax - day.tmin) * 0.5 * (1.0 - math.cos(math.pi * f))
        nxt = self._day(d + 1)
        f = (h - day.t_peak) / (nxt.sunrise + 24.0 - day.t_peak)
        return nxt.tmin + (day.tmax - nxt.tmin) * 0.5 * (1.0 + math.cos(math.pi * f))

    def _make_hour(self, k: int) -> tuple:
        x = k * 3600.0
        xs = x + self._solar_offset_s
        d = math.floor(xs / _DAY_S)
        h = (xs - d * _DAY_S) / 3600.0
        prev, day, nxt = self._day(d - 1), self._day(d), self._day(d + 1)
        # daily quantities are centred on solar noon and blended linearly between neighbouring days
        if h < 12.0:
            a, b, f = prev, day, (h + 12.0) / 24.0
        else:
            a, b, f = day, nxt, (h - 12.0) / 24.0

        def blend(name: str) -> float:
            va = getattr(a, name)
            return va + (getattr(b, name) - va) * f

        rain = 0.0
        for dd, offset in ((prev, -24.0), (day, 0.0)):
            for start, end, rate in dd.rain:
                if start + offset <= h < end + offset:
                    rain += rate
        rng = random.Random(_stable_seed(self.seed, "hour", k))

        temp = self._temperature(d, h)
        dew = blend("dew")
        rh = min(100.0, max(8.0, 100.0 * _sat_vp(dew) / _sat_vp(temp)))
        if rain > 0.0:
            rh = min(100.0, max(rh, 88.0 + 10.0 * min(1.0, rain / 4.0)))

        cloud = blend("cloud")
        cloud = min(1.0, max(0.0, cloud + (0.03 + 0.6 * cloud * (1.0 - cloud)) * _normal(rng)))
        if rain > 0.0:
            cloud = 1.0
        trans = self.climate.haze * (1.0 - 0.75 * cloud**3.4) * (0.6 if rain > 0.0 else 1.0)

        diurnal = 1.0 + 0.35 * math.cos(_TWO_PI * (h - 14.0) / 24.0)
        wind = blend("wind") * diurnal * (1.15 if rain > 0.0 else 1.0)
        wind_from = (_lerp_deg(a.wind_from, b.wind_from, f) + 12.0 * _normal(rng)) % 360.0
        # AR(1) gust factor around 1 with uniform innovations of unit variance (cheaper)
        gusts = []
        g = _normal(rng)
        scale = math.sqrt(12.0 * (1.0 - _GUST_PHI**2))
        rand = rng.random
        for _ in range(_GUST_N):
            gusts.append(min(2.2, max(0.3, 1.0 + _GUST_SD * g)))
            g = _GUST_PHI * g + scale * (rand() - 0.5)

        year0, ylen = year_start(datetime.fromtimestamp(x, UTC).year)
        return (temp, rh, wind, wind_from, rain, trans, gusts, year0, ylen)

    # ------------------------------------------------------------------ sampling

    def sample(self, t: datetime) -> WeatherSample:
        x = _epoch(t)
        k = math.floor(x / 3600.0)
        if k != self._k:
            self._a = self._b if k == self._k + 1 else self._hour(k)
            self._b = self._hour(k + 1)
            self._k = k
        a, b = self._a, self._b
        f = x / 3600.0 - k
        cosz = cos_zenith(x, a[7], a[8], self._sinlat, self._coslat, self.longitude)
        radiation = haurwitz(cosz) * (a[5] + (b[5] - a[5]) * f) if cosz > 0.0 else 0.0
        m = f * _GUST_N
        i = int(m)
        ga = a[6][i]
        gb = a[6][i + 1] if i < _GUST_N - 1 else b[6][0]
        gust = ga + (gb - ga) * (m - i)
        return WeatherSample(
            _as_utc(t),
            a[0] + (b[0] - a[0]) * f,
            a[1] + (b[1] - a[1]) * f,
            radiation,
            (a[2] + (b[2] - a[2]) * f) * gust,
            _lerp_deg(a[3], b[3], f),
            a[4] + (b[4] - a[4]) * f,
        )

    def clear_cache(self) -> None:
        """Drop the cached days and hours (results do not change; only memory and speed)."""
        self._innov.clear()
        self._days.clear()
        self._hours.clear()
        self._k = -(2**62)


# ---------------------------------------------------------------------------------------------- specs


def load_weather(spec: str, site_lat: float, site_lon: float) -> WeatherSource:
    """A weather source from a site file's `[weather] source`: `synthetic` (seed 0), `synthetic:SEED`
    (an integer) or the path of a weather CSV (our format or the AGC-2022 weather.csv)."""
    text = spec.strip()
    if text == "synthetic" or text.startswith("synthetic:"):
        seed_text = text.partition(":")[2].strip() or "0"
        try:
            seed = int(seed_text)
        except ValueError:
            raise ConfigError("weather", "source",
                              f"{spec!r}: the seed after 'synthetic:' must be an integer") from None
        try:
            return SyntheticWeather(site_lat, site_lon, seed=seed)
        except ValueError as exc:
            raise ConfigError("weather", "source", str(exc)) from None
    if not text:
        raise ConfigError("weather", "source", "empty; use 'synthetic', 'synthetic:SEED' or a CSV path")
    return CsvWeather(text)
