"""The twin's weather: sun position, synthetic Gyeongbuk weather, weather CSV files (ours and AGC-2022)."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta

import pytest

from farmcore.errors import ConfigError
from farmcore.sun import clear_sky_radiation, solar_elevation_deg, sun_times
from farmcore.twin.calibration import shared_data_dir
from farmcore.twin.weather import (
    AGC_RAIN_MM_H,
    CsvWeather,
    SyntheticWeather,
    WeatherSample,
    WeatherSource,
    load_weather,
    write_csv,
)

DAEGU = (35.87, 128.60)
HEADER = "time,air_temperature,relative_humidity,solar_radiation,wind_speed,wind_direction,rain\n"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --------------------------------------------------------------------------------------- synthetic


def test_synthetic_is_a_weather_source():
    assert isinstance(SyntheticWeather(), WeatherSource)
    assert isinstance(load_weather("synthetic", 36.35, 128.7), SyntheticWeather)
    w = load_weather("synthetic:2026", 36.35, 128.7)
    assert isinstance(w, SyntheticWeather) and w.seed == 2026


def test_synthetic_is_deterministic_and_independent_of_call_order():
    rng = random.Random(5)
    times = [utc(2026, 1, 1) + timedelta(seconds=rng.uniform(0, 2 * 365 * 86400)) for _ in range(150)]
    times += [utc(2026, 7, 15, 3) + timedelta(seconds=10 * i) for i in range(50)]
    first = SyntheticWeather(seed=11)
    forward = [first.sample(t) for t in times]
    second = SyntheticWeather(seed=11)
    backward = [second.sample(t) for t in reversed(times)][::-1]
    assert forward == backward
    assert first.sample(times[3]) == forward[3]  # again, after many other samples
    fresh = SyntheticWeather(seed=11)
    assert fresh.sample(times[100]) == forward[100]  # nothing sampled before
    first.clear_cache()
    assert [first.sample(t) for t in times[:20]] == forward[:20]


def test_another_seed_gives_other_weather():
    times = [utc(2026, 4, 1) + timedelta(hours=7 * i) for i in range(100)]
    a = [SyntheticWeather(seed=1).sample(t) for t in times]
    b = [SyntheticWeather(seed=2).sample(t) for t in times]
    assert sum(x.air_temperature != y.air_temperature for x, y in zip(a, b, strict=True)) > 90


def test_synthetic_radiation_is_zero_at_night_and_below_clear_sky():
    w = SyntheticWeather(36.35, 128.7, seed=3)
    day_seen = night_seen = 0
    for start in (utc(2026, 1, 10), utc(2026, 6, 18), utc(2026, 9, 30)):
        for i in range(3 * 144):
            t = start + timedelta(minutes=10 * i)
            s = w.sample(t)
            assert s.solar_radiation >= 0.0
            if solar_elevation_deg(36.35, 128.7, t) <= 0.0:
                assert s.solar_radiation == 0.0
                night_seen += 1
            else:
                assert s.solar_radiation <= clear_sky_radiation(36.35, 128.7, t)
                day_seen += s.solar_radiation > 0.0
    assert day_seen > 500 and night_seen > 500


@pytest.fixture(scope="module")
def months() -> dict[tuple[int, int], list[WeatherSample]]:
    """Hourly samples of January, July and August 2026 for two seeds."""
    out = {}
    for seed in (0, 1):
        w = SyntheticWeather(seed=seed)
        for month in (1, 7, 8):
            start = utc(2026, month, 1) - timedelta(hours=9)  # KST month
            out[seed, month] = [w.sample(start + timedelta(hours=h)) for h in range(31 * 24)]
    return out


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def test_january_is_much_colder_than_august(months):
    for seed in (0, 1):
        jan = _mean(s.air_temperature for s in months[seed, 1])
        aug = _mean(s.air_temperature for s in months[seed, 8])
        assert aug - jan > 15.0
        assert -4.0 < jan < 7.0 and 22.0 < aug < 31.0  # Daegu normals: ≈ 1 °C and ≈ 27 °C


def test_summer_is_wetter_humid_and_southerly(months):
    for seed in (0, 1):
        jan, jul = months[seed, 1], months[seed, 7]
        assert sum(s.rain for s in jul) > sum(s.rain for s in jan) + 20.0  # mm (hourly samples)
        assert _mean(s.relative_humidity for s in jul) > _mean(s.relative_humidity for s in jan) + 10.0

        def prevailing(samples):
            x = sum(s.wind_speed * math.sin(math.radians(s.wind_direction)) for s in samples)
            y = sum(s.wind_speed * math.cos(math.radians(s.wind_direction)) for s in samples)
            return math.degrees(math.atan2(x, y)) % 360.0

        assert 250.0 < prevailing(jan) < 360.0  # winter monsoon from the north-west
        assert 120.0 < prevailing(jul) < 250.0  # summer southerlies


def test_synthetic_values_are_plausible_all_year():
    w = SyntheticWeather(36.35, 128.7, seed=2026)
    start = utc(2026, 1, 1)
    samples = [w.sample(start + timedelta(minutes=187 * i)) for i in range(365 * 24 * 60 // 187)]
    for s in samples:
        assert s.time.tzinfo is UTC
        assert -22.0 < s.air_temperature < 41.0
        assert 5.0 <= s.relative_humidity <= 100.0
        assert 0.0 <= s.solar_radiation < 1100.0
        assert 0.0 <= s.wind_speed < 30.0
        assert 0.0 <= s.wind_direction < 360.0
        assert 0.0 <= s.rain < 100.0
        assert s.co2 == 415.0
    assert max(s.solar_radiation for s in samples) > 700.0
    assert 0.05 < _mean(s.rain > 0 for s in samples) < 0.25  # fraction of the time it rains
    assert 1.5 < _mean(s.wind_speed for s in samples) < 3.5


def test_synthetic_is_continuous_across_hours():
    w = SyntheticWeather(seed=9)
    for k in range(48):
        t = utc(2026, 3, 1) + timedelta(hours=k)
        before, after = w.sample(t - timedelta(milliseconds=1)), w.sample(t)
        assert after.air_temperature == pytest.approx(before.air_temperature, abs=1e-3)
        assert after.relative_humidity == pytest.approx(before.relative_humidity, abs=1e-2)
        assert after.wind_speed == pytest.approx(before.wind_speed, abs=1e-2)
        assert after.solar_radiation == pytest.approx(before.solar_radiation, abs=0.1)


def test_synthetic_elevation_cools():
    t = utc(2026, 5, 1, 6)
    low, high = SyntheticWeather(seed=1).sample(t), SyntheticWeather(seed=1, elevation_m=1050).sample(t)
    assert low.air_temperature - high.air_temperature == pytest.approx(6.5, abs=1e-9)


def test_synthetic_refuses_naive_times_and_bad_arguments():
    with pytest.raises(ValueError, match="time zone"):
        SyntheticWeather().sample(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="climate"):
        SyntheticWeather(climate="sahara")
    with pytest.raises(ConfigError, match="integer"):
        load_weather("synthetic:abc", 36.0, 128.6)


# --------------------------------------------------------------------------------------------- CSV


def test_our_format_round_trip(tmp_path):
    w = SyntheticWeather(seed=4)
    samples = [w.sample(utc(2026, 8, 1) + timedelta(minutes=30 * i)) for i in range(48)]
    path = tmp_path / "weather.csv"
    write_csv(path, samples)
    back = load_weather(str(path), 36.0, 128.6)
    assert isinstance(back, CsvWeather) and back.format == "farmctl" and len(back) == 48
    assert [back.sample(s.time) for s in samples] == samples
    assert back.start == samples[0].time and back.end == samples[-1].time


def test_interpolation_clamping_and_gaps(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text(HEADER
                    + "2026-03-01T09:00:00+09:00,10,80,0,1,350,0\n"
                    + "2026-03-01T10:00:00+09:00,,70,100,3,10,2\n"  # a missing temperature
                    + "2026-03-01T11:00:00+09:00,20,60,300,5,30,0\n", encoding="utf-8")
    w = CsvWeather(path)
    s = w.sample(utc(2026, 3, 1, 0, 15))  # 09:15 KST, a quarter into the first interval
    assert s.air_temperature == pytest.approx(11.25)  # the gap is filled on the 10 -> 20 line
    assert s.relative_humidity == pytest.approx(77.5)
    assert s.solar_radiation == pytest.approx(25.0)
    assert s.rain == pytest.approx(0.5)
    assert s.wind_direction == pytest.approx(355.0)  # across north, not through south
    assert s.co2 == 415.0
    assert w.sample(utc(2026, 3, 1, 1, 30)).wind_direction == pytest.approx(20.0)
    assert w.sample(utc(2020, 1, 1)).air_temperature == 10.0  # before: first row
    assert w.sample(utc(2030, 1, 1)).air_temperature == 20.0  # after: last row
    assert w.sample(utc(2030, 1, 1)).time == utc(2030, 1, 1)


def test_times_without_offset_column_map_and_co2(tmp_path):
    path = tmp_path / "kma.csv"
    path.write_text("일시,기온(°C),습도(%),일사(W/m2),풍속(m/s),풍향(deg),강수량(mm),co2\n"
                    "2026-01-05 00:00,-3.5,60,0,2.0,315,0,430\n"
                    "2026-01-05 01:00,-4.5,64,0,1.0,300,0,450\n", encoding="utf-8")
    column_map = {"일시": "time", "기온(°C)": "air_temperature", "습도(%)": "relative_humidity",
                  "일사(W/m2)": "solar_radiation", "풍속(m/s)": "wind_speed", "풍향(deg)": "wind_direction",
                  "강수량(mm)": "rain"}
    w = CsvWeather(path, column_map=column_map, tz="Asia/Seoul")
    assert w.start == utc(2026, 1, 4, 15)
    s = w.sample(utc(2026, 1, 4, 15, 30))
    assert s.air_temperature == pytest.approx(-4.0) and s.co2 == pytest.approx(440.0)
    assert CsvWeather(path, column_map=column_map).start == utc(2026, 1, 5)  # naive times: UTC


BAD_FILES = [
    ("", "", "empty"),
    ("time,air_temperature\n", "header", "missing column"),
    (HEADER + "2026-01-01T00:00Z,abc,50,0,1,90,0\n", "air_temperature (row 2)", "'abc' is not a number"),
    (HEADER + "2026-01-01T00:00Z,1,50,0,1,90,0\n2026-01-01T01:00Z,1,150,0,1,90,0\n",
     "relative_humidity (row 3)", "plausible range"),
    (HEADER + "2026-01-01T00:00Z,1,50,0,-2,90,0\n", "wind_speed (row 2)", "plausible range"),
    (HEADER + "yesterday,1,50,0,1,90,0\n", "time (row 2)", "ISO 8601"),
    (HEADER + "2026-01-01T01:00Z,1,50,0,1,90,0\n2026-01-01T00:00Z,1,50,0,1,90,0\n", "time (row 3)",
     "not after the previous row"),
    (HEADER + "2026-01-01T00:00Z,1,50,0\n", "row 2", "cells"),
    (HEADER + "2026-01-01T00:00Z,1,50,0,1,,0\n", "wind_direction", "no values"),
    (HEADER, "", "no data rows"),
    ("Date,Tout ,Rhout,Iglob,Windsp,RadSum,Winddir,Rain\n2/30/2022 0:00,1,50,0,1,0,8,0\n",
     "Date (row 2)", "m/d/yyyy"),
    ("Date,Tout ,Rhout,Iglob,Windsp,RadSum,Winddir,Rain\n2/1/2022 0:00,1,50,0,1,0,300,0\n",
     "Winddir (row 2)", "bit-coded"),
    ("Date,Tout ,Rhout,Iglob,Windsp,RadSum,Winddir,Rain\n2/1/2022 0:00,1,50,0,1,0,8,3\n",
     "Rain (row 2)", "0/1"),
]


@pytest.mark.parametrize(("text", "where", "why"), BAD_FILES)
def test_bad_files_give_one_line_naming_file_column_and_row(tmp_path, text, where, why):
    path = tmp_path / "bad-weather.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        CsvWeather(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {where}")
    assert why in message
    assert info.value.exit_code == 2


def test_missing_file_and_unknown_zone(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_weather(str(tmp_path / "nope.csv"), 36.0, 128.6)
    path = tmp_path / "w.csv"
    path.write_text(HEADER + "2026-01-01T00:00,1,50,0,1,90,0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="tz: unknown time zone"):
        CsvWeather(path, tz="Mars/Olympus")


# ------------------------------------------------------------------------------ AGC-2022 weather.csv
# The shared dataset (MIT, Koidra Tech Inc. 2023) stays outside the repository: $FARM_SHARED_DATA names the
# shared data folder, by default ../shared/data beside the repository (the one variable; calibration reads it).

AGC_WEATHER = shared_data_dir() / "agc2022-lettuce" / "weather.csv"


@pytest.fixture(scope="module")
def agc() -> CsvWeather:
    if not AGC_WEATHER.is_file():
        pytest.skip(f"AGC-2022 weather.csv not found at {AGC_WEATHER} (set FARM_SHARED_DATA to the shared "
                    "data folder)")
    return CsvWeather(AGC_WEATHER)


def test_agc_file_is_read(agc):
    assert agc.format == "agc2022"
    assert len(agc) == 13825
    # 2/1/2022 0:00 .. 3/21/2022 0:00 Dutch winter time (UTC+1)
    assert agc.start == utc(2022, 1, 31, 23) and agc.end == utc(2022, 3, 20, 23)
    first = agc.sample(agc.start)
    assert (first.air_temperature, first.relative_humidity, first.solar_radiation, first.wind_speed) == (
        5.1, 77.1, 1.0, 4.4)
    assert first.wind_direction == 315.0  # code 128: north-west
    # storm Eunice, 2/18/2022 18:20 local: 27.4 m/s, code 64 (west); 18:24 (-> 18:25) rain detected
    storm = agc.sample(utc(2022, 2, 18, 17, 20))
    assert storm.wind_speed == 27.4 and storm.wind_direction == 270.0
    assert agc.sample(utc(2022, 2, 18, 17, 25)).rain == AGC_RAIN_MM_H


def test_agc_gap_is_interpolated(agc):
    # 3/3/2022 9:29-10:54 local is empty; last value at 9:24 (-> 9:25), next at 10:59 (-> 11:00)
    before, after = agc.sample(utc(2022, 3, 3, 8, 25)), agc.sample(utc(2022, 3, 3, 10, 0))
    mid = agc.sample(utc(2022, 3, 3, 9, 12, 30))
    assert mid.air_temperature == pytest.approx((before.air_temperature + after.air_temperature) / 2)
    assert mid.relative_humidity == pytest.approx((before.relative_humidity + after.relative_humidity) / 2)


def test_agc_time_zone_puts_the_radiation_peak_at_solar_noon(agc):
    # Europe/Amsterdam (CET) puts the radiation-weighted mean time within minutes of solar noon
    # (UTC would put it an hour late)
    weighted = total = 0.0
    t = agc.start
    while t <= agc.end:
        g = agc.sample(t).solar_radiation
        weighted += g * ((t.hour * 60 + t.minute) / 60.0)
        total += g
        t += timedelta(minutes=5)
    sunrise, sunset = sun_times(52.0, 4.49, date(2022, 2, 24), "UTC")  # Bleiswijk, mid-period
    noon = sunrise + (sunset - sunrise) / 2
    assert abs(weighted / total - (noon.hour + noon.minute / 60.0)) < 0.4
