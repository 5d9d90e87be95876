"""Benchmark weather: the twin's seeded synthetic Gyeongbuk weather plus winter cold waves, and the seasons run.

SyntheticWeather (farmcore/twin/weather.py) draws daily minima around the Daegu/Andong normals with a
persistent anomaly, so its winters are mild: a real Gyeongbuk winter brings a few outbreaks of the Siberian
high (한파), when the minimum falls below −10 °C for several days under a dry, clear north-westerly. A
controller that saves heat on an average night may still fail on those, so the benchmark adds them.

Korean climate facts used [unverified: from memory of KMA's criteria, not checked against a source here]:
KMA issues a cold-wave advisory (한파주의보) when the morning minimum is expected at or below −12 °C for two
days or more, a warning (한파경보) at −15 °C; outbreaks of the Siberian high come as pulses of a few days
(the "삼한사온" pattern, three cold days and four warm ones) and bring dry continental air with a strong
north-westerly monsoon wind.

`ColdSpellWeather` wraps a SyntheticWeather: per winter (1 December - end of February) 2 or 3 waves, seeded,
each 3-5 days long, one per equal slice of the winter. A wave lowers the temperature by a smooth anomaly
(12 h onset, a flat core, 24 h recovery) deep enough that its coldest hour is between −11 and −15 °C, lowers
the dew point by the same anomaly plus 2 K (dry air), raises the wind by up to 60 % and turns it towards
the north-west (315°), and stops rain. Radiation is the base weather's (clear skies are not forced). Outside
the waves the samples are the base weather's own.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from farmcore.canopy import dew_point_c, saturation_vapour_pressure_pa
from farmcore.twin.weather import SyntheticWeather, WeatherSample

ONSET_H = 12.0  # anomaly grows over this [engineering choice]
RECOVERY_H = 24.0  # and fades over this [engineering choice]
DRY_EXTRA_K = 2.0  # dew point falls this much more than the temperature: dry continental air [engineering choice]
WIND_GAIN = 0.6  # wind up to +60 % in a wave [engineering choice]
WAVE_FROM_DEG = 315.0  # north-westerly winter monsoon [unverified]
COLDEST_C = (-15.0, -11.0)  # coldest hour of a wave, drawn in this range (KMA advisory −12, warning −15) [unverified]


@dataclass(frozen=True)
class Season:
    """A counted period: `days` from `start` (local midnight), after `warmup_days` that are not counted."""

    name: str
    start: date
    days: float  # a fraction of a day for the machinery's test


# December-February (the whole winter), a shoulder fortnight, a summer fortnight. The crop (planted
# 2025-08-20) is in its production stage on all of them.
SEASONS = (
    Season("winter", date(2025, 12, 1), 90),
    Season("shoulder", date(2026, 3, 16), 14),
    Season("summer", date(2026, 7, 27), 14),
)


def scaled(seasons: tuple[Season, ...], scale: float) -> tuple[Season, ...]:
    """Shorter seasons for development and tests: each `days × scale`, at least one day."""
    return tuple(replace(s, days=max(1, round(s.days * scale))) for s in seasons)


@dataclass(frozen=True)
class ColdWave:
    start_s: float  # epoch seconds, onset begins
    end_s: float  # recovery ends
    depth_k: float  # full anomaly


def _shape(w: ColdWave, x: float) -> float:
    """0..1: smooth onset, flat core, smooth recovery."""
    if not w.start_s <= x < w.end_s:
        return 0.0
    onset, rec = ONSET_H * 3600, RECOVERY_H * 3600
    if x < w.start_s + onset:
        f = (x - w.start_s) / onset
    elif x > w.end_s - rec:
        f = (w.end_s - x) / rec
    else:
        return 1.0
    return 0.5 * (1.0 - math.cos(math.pi * f))


class ColdSpellWeather:
    """SyntheticWeather plus seeded cold waves in every winter that `winters` names (see the module docstring)."""

    def __init__(self, base: SyntheticWeather, seed: int, winters: list[int], tz: str = "Asia/Seoul") -> None:
        self.base = base
        self.waves: list[ColdWave] = []
        zone = ZoneInfo(tz)
        for year in winters:  # the winter starting in December of `year`
            rng = random.Random(f"coldwave:{seed}:{year}")
            first = datetime(year, 12, 1, tzinfo=zone)
            span_days = (datetime(year + 1, 3, 1, tzinfo=zone) - first).days
            n = rng.choice((2, 3))
            slot = span_days / n
            for i in range(n):
                days = rng.uniform(3.0, 5.0)
                begin = first + timedelta(days=i * slot + rng.uniform(0.5, max(0.5, slot - days - 0.5)))
                end = begin + timedelta(days=days)
                coldest = rng.uniform(*COLDEST_C)
                self.waves.append(self._wave(begin, end, coldest))

    def _wave(self, begin: datetime, end: datetime, coldest: float) -> ColdWave:
        """The anomaly that brings the base weather's coldest hour inside the wave's core down to `coldest`."""
        start_s, end_s = begin.timestamp(), end.timestamp()
        core0, core1 = start_s + ONSET_H * 3600, end_s - RECOVERY_H * 3600
        base_min = min(self.base.sample(datetime.fromtimestamp(x, UTC)).air_temperature
                       for x in range(int(core0), int(max(core1, core0 + 3600)), 3600))
        return ColdWave(start_s, end_s, max(0.0, base_min - coldest))

    def sample(self, t: datetime) -> WeatherSample:
        w = self.base.sample(t)
        x = t.timestamp()
        gain, depth = max(((_shape(wave, x), wave.depth_k) for wave in self.waves), key=lambda p: p[0] * p[1],
                          default=(0.0, 0.0))
        f = gain * depth
        if gain <= 0.0:
            return w
        temp = w.air_temperature - f
        dew = dew_point_c(w.air_temperature, w.relative_humidity) - f - DRY_EXTRA_K * gain
        rh = min(100.0, 100.0 * saturation_vapour_pressure_pa(min(dew, temp)) / saturation_vapour_pressure_pa(temp))
        d = (WAVE_FROM_DEG - w.wind_direction + 180.0) % 360.0 - 180.0
        return replace(w, air_temperature=temp, relative_humidity=rh, wind_speed=w.wind_speed * (1 + WIND_GAIN * gain),
                       wind_direction=(w.wind_direction + gain * d) % 360.0, rain=0.0)


def benchmark_weather(seed: int, latitude: float, longitude: float, seasons: tuple[Season, ...]) -> ColdSpellWeather:
    """The seeded weather of one benchmark seed: cold waves in each winter a December-February season touches."""
    winters = sorted({(s.start.year if s.start.month == 12 else s.start.year - 1)
                      for s in seasons if s.start.month in (12, 1, 2)})
    return ColdSpellWeather(SyntheticWeather(latitude, longitude, seed=seed), seed, winters)
