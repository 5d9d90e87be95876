"""The sun at a site: position, clear-sky radiation, sunrise and sunset (pure arithmetic, no I/O).

Its own room because three readers need it and none owns it: the recipe timeline (periods that start at
`sunrise-01:00`), the daemon (the sun times it hands to the recipe and the strategies) and the twin's weather
(radiation and the daily temperature curve). Forecasts will be a fourth.

Solar position: NOAA Global Monitoring Laboratory, "General Solar Position Calculations"
(https://gml.noaa.gov/grad/solcalc/solareqns.PDF), whose declination and equation-of-time series are those of
Spencer, J.W. (1971), "Fourier series representation of the position of the sun", Search 2(5). Accuracy about
0.1° in elevation and 1-2 minutes in sunrise/sunset.
"""

from __future__ import annotations

import calendar
import math
from datetime import UTC, date, datetime, time, tzinfo
from zoneinfo import ZoneInfo

__all__ = [
    "clear_sky_radiation",
    "cos_zenith",
    "haurwitz",
    "solar_elevation_deg",
    "sun_terms",
    "sun_times",
    "sunrise_hour_angle_deg",
    "year_start",
]

_TWO_PI = 2.0 * math.pi
_COS_SUNRISE_ZENITH = math.cos(math.radians(90.833))  # NOAA: 34' refraction + 16' solar radius


def sun_terms(gamma: float) -> tuple[float, float]:
    """(declination in radians, equation of time in minutes) at fractional year `gamma` (radians)."""
    c1, s1 = math.cos(gamma), math.sin(gamma)
    c2, s2 = c1 * c1 - s1 * s1, 2.0 * s1 * c1
    c3, s3 = c1 * c2 - s1 * s2, s1 * c2 + c1 * s2
    eqtime = 229.18 * (0.000075 + 0.001868 * c1 - 0.032077 * s1 - 0.014615 * c2 - 0.040849 * s2)
    decl = (0.006918 - 0.399912 * c1 + 0.070257 * s1 - 0.006758 * c2 + 0.000907 * s2
            - 0.002697 * c3 + 0.00148 * s3)
    return decl, eqtime


def year_start(year: int) -> tuple[float, float]:
    """(epoch of 1 January 00:00 UTC, days in the year)."""
    return datetime(year, 1, 1, tzinfo=UTC).timestamp(), 366.0 if calendar.isleap(year) else 365.0


def cos_zenith(x: float, year0: float, ylen: float, sinlat: float, coslat: float, lon: float) -> float:
    """Cosine of the solar zenith angle at epoch `x` (UTC seconds) in the year starting at `year0`.

    The year and the latitude's sine and cosine are passed in, so a caller sampling every minute (the twin's
    weather) computes them once."""
    since = x - year0  # = (doy - 1) days + hour
    # NOAA: gamma = 2 pi / ylen * (doy - 1 + (hour - 12) / 24)
    decl, eqtime = sun_terms(_TWO_PI / ylen * (since / 86400.0 - 0.5))
    tst = (since % 86400.0) / 60.0 + eqtime + 4.0 * lon  # true solar time, minutes
    ha = math.radians(tst / 4.0 - 180.0)
    return sinlat * math.sin(decl) + coslat * math.cos(decl) * math.cos(ha)


def haurwitz(cosz: float) -> float:
    """Clear-sky global horizontal irradiance, W/m² (Haurwitz 1945, as in Reno et al. 2012, SAND2012-2389)."""
    if cosz <= 0.0:
        return 0.0
    return 1098.0 * cosz * math.exp(-0.057 / cosz)


def _cos_zenith_at(lat: float, lon: float, t: datetime) -> float:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"sun time {t.isoformat()} has no time zone; pass a UTC-aware datetime")
    x = t.timestamp()
    year0, ylen = year_start(datetime.fromtimestamp(x, UTC).year)
    rlat = math.radians(lat)
    return cos_zenith(x, year0, ylen, math.sin(rlat), math.cos(rlat), lon)


def solar_elevation_deg(lat: float, lon: float, t: datetime) -> float:
    """Geometric solar elevation (degrees above the horizon, no refraction) at `t` (tz-aware).

    `lat` degrees north, `lon` degrees east."""
    return math.degrees(math.asin(max(-1.0, min(1.0, _cos_zenith_at(lat, lon, t)))))


def clear_sky_radiation(lat: float, lon: float, t: datetime) -> float:
    """Clear-sky global horizontal irradiance (W/m², Haurwitz model) at `t`; 0 when the sun is down."""
    return haurwitz(_cos_zenith_at(lat, lon, t))


def sunrise_hour_angle_deg(lat: float, decl: float) -> float:
    """Hour angle of sunrise (degrees); raises ValueError for polar day or night."""
    rlat = math.radians(lat)
    c = _COS_SUNRISE_ZENITH / (math.cos(rlat) * math.cos(decl)) - math.tan(rlat) * math.tan(decl)
    if not -1.0 <= c <= 1.0:
        raise ValueError(f"no sunrise or sunset at latitude {lat} on this date (polar day or night)")
    return math.degrees(math.acos(c))


def sun_times(lat: float, lon: float, day: date, tz: str | tzinfo) -> tuple[datetime, datetime]:
    """(sunrise, sunset) on the local calendar date `day`, as aware datetimes in `tz`.

    NOAA method: upper limb on the horizon with standard refraction (zenith 90.833°); the declination and
    equation of time are evaluated at the event itself (one refinement step). Raises ValueError when the
    sun does not rise or set that day."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    midnight = datetime.combine(day, time(0), tzinfo=UTC)
    year0, ylen = year_start(day.year)
    # solar noon (minutes after UTC midnight of `day`) = 720 - 4 lon - eqtime
    noon = datetime.combine(day, time(12), tzinfo=zone).timestamp()
    events = []
    for sign in (-1.0, 1.0):
        x = noon
        for _ in range(2):
            decl, eqtime = sun_terms(_TWO_PI / ylen * ((x - year0) / 86400.0 - 0.5))
            minutes = 720.0 - 4.0 * lon - eqtime + sign * 4.0 * sunrise_hour_angle_deg(lat, decl)
            x = midnight.timestamp() + minutes * 60.0
            # keep the event on the local date (far from the zone's meridian the UTC date differs)
            x += 86400.0 * (day - datetime.fromtimestamp(x, zone).date()).days
        events.append(datetime.fromtimestamp(round(x), zone))
    return events[0], events[1]
