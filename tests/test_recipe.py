"""Recipes: schema, cross-field validation, timeline (stage + time of day + sun), shipped crops, CLI."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

import farmcore
from farmcore.errors import ConfigError
from farmcore.recipe.cli import recipe as recipe_group
from farmcore.recipe.load import load_recipe, parse_recipe
from farmcore.recipe.timeline import parse_start, setpoints_at, stage_at
from farmcore.sun import sun_times

ROOT = Path(__file__).resolve().parents[1]
CROPS = sorted((ROOT / "recipes" / "crops").glob("*.toml"))
SITE = Path(farmcore.__file__).parent / "twin" / "sites" / "gyeongbuk-demo.toml"
SEOUL = ZoneInfo("Asia/Seoul")
LAT, LON = 36.35, 128.70
PLANTED = date(2026, 1, 1)

BASE = """
[recipe]
id = "test-crop"
version = 2
parent = 1
kind = "greenhouse"
crop = "tomato"

[envelope]
air_temperature = { min = 10, max = 30 }
co2 = { min = 400, max = 1000 }
ec = { min = 1, max = 4 }
relative_humidity = { min = 70, max = 90 }

[strategy.irrigation]
radiation_sum_j_cm2 = 150
start = "sunrise+01:00"

[[stages]]
name = "young"
from_day = 0

[[stages.periods]]
name = "pre-dawn"
start = "sunrise-01:00"
ramp_min = 60
air_temperature = 20
ec = 2.0

[[stages.periods]]
name = "day"
start = "sunrise+01:00"
co2 = 800

[[stages.periods]]
name = "night"
start = "sunset"
air_temperature = 15
co2 = 400

[[stages]]
name = "grown"
from_day = 10

[[stages.periods]]
name = "morning"
start = "06:00"
ramp_min = 120
air_temperature = 24
ec = 3.0

[[stages.periods]]
name = "night"
start = "22:00"
air_temperature = 16
"""


def at(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SEOUL)


def points(text: str, when: datetime, planted: date = PLANTED):
    return setpoints_at(parse_recipe(text, "t.toml"), planted, when, LAT, LON, "Asia/Seoul")


# ------------------------------------------------------------------------------------------- shipped


def test_shipped_crops_all_present():
    assert {p.stem for p in CROPS} >= {"tomato", "strawberry", "paprika", "cucumber", "lettuce"}


@pytest.mark.parametrize("path", CROPS, ids=lambda p: p.stem)
def test_shipped_recipe_is_valid_and_yields_setpoints(path: Path):
    r = load_recipe(path)
    assert r.recipe.kind == "greenhouse" and r.recipe.sources
    text = path.read_text("utf-8")
    assert "GAPS" in text and "[unverified]" in text  # gaps are said plainly
    for day in (0, r.stages[-1].from_day + 5):
        for hour in (3, 12, 21):
            sp = setpoints_at(r, PLANTED, at(2026, 1, 1, hour) + timedelta(days=day), LAT, LON, SEOUL)
            assert "air_temperature" in sp and "ec" in sp
            for q, s in sp.items():
                bound = r.envelope[q]
                assert bound.min <= s.value <= bound.max


def test_cli_check_all_shipped():
    res = CliRunner().invoke(recipe_group, ["check", *map(str, CROPS)])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert len(lines) == len(CROPS) and all(line.startswith("ok ") for line in lines)
    assert any(line.endswith("tomato-gb@1") for line in lines)


def test_strawberry_irrigation_switches_by_stage():
    r = load_recipe(ROOT / "recipes" / "crops" / "strawberry.toml")
    first = r.strategy_for(0)["irrigation"]
    harvest = r.strategy_for(len(r.stages) - 1)["irrigation"]
    assert first["radiation_sum_j_cm2"] == 200 and harvest["radiation_sum_j_cm2"] == 150
    assert harvest["target_drain_pct"] == 20  # inherited from [strategy]


# ------------------------------------------------------------------------------------------- timeline


def test_parse_start():
    assert parse_start("06:30").minutes == 390 and parse_start("06:30").anchor == "clock"
    assert parse_start("sunrise+01:30").minutes == 90
    assert parse_start("sunset-00:30").minutes == -30 and parse_start("sunset-00:30").anchor == "sunset"
    assert parse_start("sunrise").minutes == 0
    for bad in ("24:00", "6h", "sunrise+1h", "sunset-13:00", "noon", "12:60", ""):
        with pytest.raises(ValueError):
            parse_start(bad)


def test_before_sunrise_is_previous_evening_night():
    sp = points(BASE, at(2026, 1, 5, 3))
    t = sp["air_temperature"]
    sunset_before = sun_times(LAT, LON, date(2026, 1, 4), SEOUL)[1]
    assert t.value == 15 and not t.ramping and t.since == sunset_before and t.period_name == "night"
    assert sp["co2"].value == 400
    assert sp["ec"].value == 2.0  # a quantity set once per stage holds all day


def test_during_pre_dawn_ramp():
    sunrise = sun_times(LAT, LON, date(2026, 1, 5), SEOUL)[0]
    when = sunrise - timedelta(minutes=45)  # 15 of the 60 ramp minutes done
    t = points(BASE, when)["air_temperature"]
    assert t.ramping and t.ramp_from == 15
    assert t.value == pytest.approx(15 + 5 * 15 / 60, abs=1e-3)
    done = points(BASE, sunrise)["air_temperature"]
    assert done.value == 20 and not done.ramping


def test_after_sunset_and_day():
    sunset = sun_times(LAT, LON, date(2026, 1, 5), SEOUL)[1]
    noon = points(BASE, at(2026, 1, 5, 12))
    assert noon["air_temperature"].value == 20 and noon["co2"].value == 800
    assert noon["co2"].source_period == "stages[0].periods[1]"
    evening = points(BASE, sunset + timedelta(minutes=5))
    assert evening["air_temperature"].value == 15 and evening["co2"].value == 400
    assert evening["air_temperature"].since == sunset


def test_across_midnight_clock_periods():
    # stage "grown": 22:00 night wraps past midnight until the 06:00 morning period
    sp = points(BASE, at(2026, 1, 20, 1, 30))
    t = sp["air_temperature"]
    assert t.value == 16 and t.since == at(2026, 1, 19, 22) and t.stage == "grown"
    ramp = points(BASE, at(2026, 1, 20, 7))["air_temperature"]
    assert ramp.ramping and ramp.value == pytest.approx(16 + 8 * 60 / 120)


def test_stage_boundary_by_days():
    r = parse_recipe(BASE, "t.toml")
    assert stage_at(r, PLANTED, at(2026, 1, 10, 12), SEOUL)[1].name == "young"  # day 9
    assert stage_at(r, PLANTED, at(2026, 1, 11, 12), SEOUL)[1].name == "grown"  # day 10
    assert points(BASE, at(2026, 1, 10, 12))["air_temperature"].stage == "young"
    noon = points(BASE, at(2026, 1, 11, 12))
    assert noon["air_temperature"].stage == "grown" and noon["air_temperature"].value == 24
    assert noon["ec"].value == 3.0
    # the night that started the evening before still belongs to the old stage
    early = points(BASE, at(2026, 1, 11, 3))["air_temperature"]
    assert early.stage == "young" and early.value == 15
    # co2 is not set by the new stage: the last value holds
    assert noon["co2"].value == 400


def test_sunrise_relative_start_moves_with_the_season():
    winter = points(BASE, at(2026, 1, 5, 12), planted=date(2026, 1, 1))["air_temperature"].since
    summer = points(BASE, at(2026, 6, 21, 12), planted=date(2026, 6, 1))["air_temperature"].since
    assert winter.date() == date(2026, 1, 5) and summer.date() == date(2026, 6, 21)
    assert winter.time() > summer.time()
    assert winter == sun_times(LAT, LON, date(2026, 1, 5), SEOUL)[0] - timedelta(hours=1)


def test_before_planting_and_naive_time_are_errors():
    with pytest.raises(ValueError, match="before the planting"):
        points(BASE, at(2025, 12, 31, 12))
    with pytest.raises(ValueError, match="aware"):
        points(BASE, datetime(2026, 1, 5, 12))


def test_planting_day_early_morning_uses_first_stage():
    sp = points(BASE, at(2026, 1, 1, 2))
    assert sp["air_temperature"].value == 15 and sp["air_temperature"].stage == "young"


# ------------------------------------------------------------------------------------------- errors

BAD = [
    # (replace, with, field, message fragment)
    ("air_temperature = 24", "air_temperature = 35",
     "stages[1].periods[0].air_temperature", "35 is outside the envelope 10..30"),
    ("from_day = 10", "from_day = 0", "stages[1].from_day", "must be after the previous stage's day 0"),
    ("from_day = 0", "from_day = 3", "stages[0].from_day", "first stage starts on day 0"),
    ("air_temperature = 16", "air_temprature = 16", "stages[1].periods[1].air_temprature", "unknown field"),
    ('start = "22:00"', 'start = "25:00"', "stages[1].periods[1].start", "expected HH:MM"),
    ('start = "sunset"', 'start = "sunset+1h"', "stages[0].periods[2].start", "sunset±HH:MM"),
    ("parent = 1", "parent = 1\nverison = 3", "recipe.verison", "unknown field"),
    ("parent = 1", "parent = 2", "recipe.parent", "lower than version 2"),
    ("co2 = { min = 400", "co2x = { min = 400", "envelope.co2x", "unknown quantity"),
    ("co2 = { min = 400, max = 1000 }", "co2 = { min = 1000, max = 400 }", "envelope.co2", "above max"),
    ("co2 = { min = 400, max = 1000 }\n", "", "stages[0].periods[1].co2", "no envelope for co2"),
    ("ec = 2.0", "ec = 2.0\nvpd = 0.8", "stages[0].periods[0].vpd", "no envelope for vpd"),
    ("ec = 2.0", "ec = 2.0\nsalinity = 30", "stages[0].periods[0].salinity", "not a greenhouse quantity"),
    ('start = "sunrise+01:00"\n\n[[', 'start = "dawn"\n\n[[', "strategy.irrigation.start", "expected HH:MM"),
    ('crop = "tomato"', 'species = "flounder"', "recipe.crop", "names its crop"),
    ('name = "grown"', 'name = "young"', "stages[1].name", "used by another stage"),
    ("version = 2", 'version = "2.0.0"', "recipe.version", "integer"),
]


@pytest.mark.parametrize(("old", "new", "field", "fragment"), BAD, ids=[b[2] for b in BAD])
def test_bad_recipe_one_line_naming_file_and_field(old: str, new: str, field: str, fragment: str):
    assert old in BASE
    with pytest.raises(ConfigError) as info:
        parse_recipe(BASE.replace(old, new, 1), "recipes/crops/bad.toml")
    err = info.value
    assert err.file == "recipes/crops/bad.toml" and err.field == field, str(err)
    assert fragment in err.message and "\n" not in str(err)
    assert str(err).startswith(f"recipes/crops/bad.toml: {field}: ")


def test_two_humidity_quantities_rejected():
    text = BASE.replace("ec = 2.0", "ec = 2.0\nrelative_humidity = 85", 1)
    text = text.replace("[envelope]", "[envelope]\nvpd = { min = 0.3, max = 1.2 }")
    text = text.replace("ec = 3.0", "ec = 3.0\nvpd = 0.8")
    with pytest.raises(ConfigError, match=r"stages\[1\]\.periods\[0\]\.vpd: a recipe uses one humidity quantity"):
        parse_recipe(text, "t.toml")


def test_not_toml():
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_recipe("[recipe\n", "t.toml")


# ------------------------------------------------------------------------------------------- CLI


def test_cli_check_bad_file(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text(BASE.replace("air_temperature = 24", "air_temperature = 35"), "utf-8")
    good = tmp_path / "good.toml"
    good.write_text(BASE, "utf-8")
    from farmctl.cli import cli

    res = CliRunner().invoke(cli, ["recipe", "check", str(good), str(bad), str(tmp_path / "missing.toml")],
                             env={"FARMCTL_LANG": "en"})
    assert res.exit_code == 2
    assert res.stdout == f"ok {good} test-crop@2\n"
    errors = res.stderr.splitlines()
    assert len(errors) == 2  # one line per bad file, each with the tool's prefix (a missing file too)
    assert errors[0] == (f"farmctl: error: {bad}: stages[1].periods[0].air_temperature: 35 is outside the envelope "
                         "10..30")
    assert errors[1].startswith(f"farmctl: error: {tmp_path / 'missing.toml'}: cannot read")


def test_cli_show_json_and_table():
    tomato = str(ROOT / "recipes" / "crops" / "tomato.toml")
    args = ["show", tomato, "--at", "2026-01-20T12:00", "--site", str(SITE), "--planted", "2025-12-01"]
    res = CliRunner().invoke(recipe_group, [*args, "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["recipe"] == "tomato-gb" and doc["day"] == 50 and doc["stage"] == "production"
    assert doc["at"] == "2026-01-20T12:00:00+09:00"
    sp = doc["setpoints"]
    assert sp["air_temperature"]["value"] == 21 and sp["air_temperature"]["period_name"] == "day"
    assert sp["co2"] == {**sp["co2"], "value": 1000, "unit": "ppm", "ramping": False}
    text = CliRunner().invoke(recipe_group, args)
    assert text.exit_code == 0, text.output
    assert "stage production" in text.stdout and "air_temperature" in text.stdout and "(day)" in text.stdout
    utc = CliRunner().invoke(recipe_group, ["show", tomato, "--at", "2026-01-20T03:00Z", "--site", str(SITE),
                                            "--planted", "2025-12-01", "--json"])
    assert json.loads(utc.stdout)["at"] == "2026-01-20T12:00:00+09:00"


def test_cli_show_bad_input(capsys):
    """Through farmctl's runner: one line on stderr, exit 2."""
    from farmctl.cli import main

    tomato = str(ROOT / "recipes" / "crops" / "tomato.toml")
    for at, words in (("tomorrow", "--at 'tomorrow'"), ("2025-11-01T12:00", "before the planting date")):
        with pytest.raises(SystemExit) as info:
            main(["recipe", "show", tomato, "--at", at, "--site", str(SITE), "--planted", "2025-12-01"])
        err = capsys.readouterr().err
        assert info.value.code == 2 and words in err and err.count("\n") == 1


# ------------------------------------------------------------------ strategy tables: exactly what is read (issue 14)


@pytest.mark.parametrize(("old", "new", "field", "words"), [
    # a misspelt key would leave the strategy on its default without a word
    ("[strategy.irrigation]", "[strategy.ventilation]\np_bnad_k = 40\n[strategy.irrigation]",
     "strategy.ventilation.p_bnad_k", "unknown field (check the spelling); allowed: offset_k, p_band_k"),
    # heating is on/off: its band is band_k (p_band_k was accepted and never read)
    ("[strategy.irrigation]", "[strategy.heating]\np_band_k = 2\n[strategy.irrigation]",
     "strategy.heating.p_band_k", "allowed: band_k"),
    ("radiation_sum_j_cm2 = 150", "radiation_sum_j_cm2 = 150\nradiaton_sum = 100",
     "strategy.irrigation.radiaton_sum", "allowed: radiation_sum_j_cm2, max_off_min, min_off_min, dose_s"),
    ("radiation_sum_j_cm2 = 150", 'radiation_sum_j_cm2 = "150"', "strategy.irrigation.radiation_sum_j_cm2",
     "valid number; got '150'"),
    ("radiation_sum_j_cm2 = 150", "radiation_sum_j_cm2 = inf", "strategy.irrigation.radiation_sum_j_cm2",
     "finite number"),
    ("radiation_sum_j_cm2 = 150", "radiation_sum_j_cm2 = 150\ndose_s = 0", "strategy.irrigation.dose_s",
     "greater than 0"),
    ("radiation_sum_j_cm2 = 150", "radiation_sum_j_cm2 = 150\nmin_off_min = 90\nmax_off_min = 60",
     "strategy.irrigation", "min_off_min (90) must not be above max_off_min (60)"),
    ("[strategy.irrigation]", "[strategy.ventilation]\nwindward_close_ms = 14\nclose_all_ms = 12\n"
     "[strategy.irrigation]", "strategy.ventilation", "windward_close_ms (14 m/s) must not be above close_all_ms"),
    ("air_temperature = 24", 'air_temperature = "24"', "stages[1].periods[0].air_temperature", "valid number"),
])
def test_strategy_tables_take_only_the_keys_the_strategies_read(old, new, field, words):
    with pytest.raises(ConfigError) as info:
        parse_recipe(BASE.replace(old, new, 1), "t.toml")
    assert str(info.value).startswith(f"t.toml: {field}: ") and words in str(info.value)


def test_every_key_a_strategy_reads_is_declared():
    text = BASE.replace("[strategy.irrigation]", "[strategy.heating]\nband_k = 1.5\n[strategy.ventilation]\n"
                        "windward_taper_ms = 4\nwindward_close_ms = 8\nclose_all_ms = 12\n"
                        "min_outside_temperature = 5\n[strategy.irrigation]\ndose_s = 90")
    tables = parse_recipe(text, "t.toml").strategy_for(0)
    assert tables["heating"] == {"band_k": 1.5} and tables["irrigation"]["dose_s"] == 90
    assert tables["ventilation"]["close_all_ms"] == 12


def test_recipe_check_names_keys_no_strategy_acts_on(tmp_path: Path):
    from farmctl.cli import cli

    path = tmp_path / "r.toml"
    path.write_text(BASE.replace("radiation_sum_j_cm2 = 150", "radiation_sum_j_cm2 = 150\ndose_ml_per_plant = 100"))
    res = CliRunner().invoke(cli, ["recipe", "check", str(path)], env={"FARMCTL_LANG": "en"})
    assert res.exit_code == 0 and res.stdout == f"ok {path} test-crop@2\n"
    assert res.stderr == (f"warning: {path}: strategy.irrigation.dose_ml_per_plant: kept with the recipe, but no "
                          "strategy acts on it yet\n")


@pytest.mark.parametrize("path", sorted((ROOT / "recipes").glob("*/*.toml")), ids=lambda p: p.stem)
def test_every_shipped_recipe_loads(path: Path):
    assert load_recipe(path).recipe.version >= 1


def test_setpoints_from_the_day_cache_are_the_ones_computed_afresh() -> None:
    """The period instances of a day are kept per recipe object: asking again, for another zone, or after the
    recipe file changed (a new object) gives what a fresh computation gives."""
    from farmcore.recipe import timeline

    path = Path(__file__).resolve().parents[1] / "recipes" / "crops" / "tomato.toml"
    recipe = load_recipe(path)
    when = datetime(2026, 1, 16, 7, 45, tzinfo=UTC)
    first = timeline.setpoints_at(recipe, date(2025, 9, 1), when, 36.0, 128.7, "Asia/Seoul")
    again = timeline.setpoints_at(recipe, date(2025, 9, 1), when, 36.0, 128.7, "Asia/Seoul")
    timeline._DAY_CACHE.clear()
    fresh = timeline.setpoints_at(load_recipe(path), date(2025, 9, 1), when, 36.0, 128.7, "Asia/Seoul")
    assert first == again == fresh
    other_site = timeline.setpoints_at(recipe, date(2025, 9, 1), when, 33.5, 126.5, "Asia/Seoul")
    assert other_site.keys() == first.keys()
