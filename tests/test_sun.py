"""The sun at a site: elevation, sunrise and sunset against published values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from farmcore.sun import solar_elevation_deg, sun_times

DAEGU = (35.87, 128.60)


def _max_elevation(lat: float, lon: float, day: date) -> float:
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    return max(solar_elevation_deg(lat, lon, start + timedelta(minutes=m)) for m in range(1440))


def test_noon_elevation_at_36n_on_the_solstices():
    # 90 - 36 ± 23.44 (obliquity): 77.44° in June, 30.56° in December
    assert _max_elevation(36.0, 128.6, date(2026, 6, 21)) == pytest.approx(77.44, abs=0.1)
    assert _max_elevation(36.0, 128.6, date(2026, 12, 21)) == pytest.approx(30.56, abs=0.1)


def test_sunrise_and_sunset_in_daegu_on_the_june_solstice():
    # Reference: Korea Astronomy and Space Science Institute (KASI) via Daegu MBC news, 21 June 2002:
    # Daegu sunrise 05:09:29, sunset 19:45:08 KST (the solstice times drift by well under a minute
    # between years). Our NOAA formula gives 05:08:57 / 19:44:47 for 2026.
    sunrise, sunset = sun_times(*DAEGU, date(2026, 6, 21), "Asia/Seoul")
    assert sunrise.utcoffset() == timedelta(hours=9)
    kasi_rise = datetime(2026, 6, 21, 5, 9, 29, tzinfo=sunrise.tzinfo)
    kasi_set = datetime(2026, 6, 21, 19, 45, 8, tzinfo=sunrise.tzinfo)
    assert abs((sunrise - kasi_rise).total_seconds()) < 180
    assert abs((sunset - kasi_set).total_seconds()) < 180


def test_sun_times_in_winter_and_at_the_poles():
    sunrise, sunset = sun_times(*DAEGU, date(2026, 12, 21), "Asia/Seoul")
    assert (sunrise.hour, sunset.hour) == (7, 17)  # about 07:31 and 17:15
    assert 9.5 < (sunset - sunrise).total_seconds() / 3600 < 10.0
    with pytest.raises(ValueError, match="polar"):
        sun_times(80.0, 0.0, date(2026, 6, 21), "UTC")


def test_sun_needs_an_aware_time():
    with pytest.raises(ValueError, match="time zone"):
        solar_elevation_deg(36.0, 128.6, datetime(2026, 6, 21, 12))
