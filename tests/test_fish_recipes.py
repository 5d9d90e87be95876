"""Shipped fish / shrimp tank recipes (recipes/fish): load, limits consistent, sourced values reproduced."""

from __future__ import annotations

import itertools
import math
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from aquactl.strategies.feeding import pct_bw
from farmcore.errors import ConfigError
from farmcore.recipe.cli import recipe as recipe_group
from farmcore.recipe.load import load_recipe, parse_recipe
from farmcore.recipe.schema import Recipe
from farmcore.recipe.timeline import parse_start, setpoints_at

ROOT = Path(__file__).resolve().parents[1]
FISH_DIR = ROOT / "recipes" / "fish"
NAMES = ("olive-flounder", "starry-flounder", "korean-rockfish", "rainbow-trout", "whiteleg-shrimp", "japanese-eel")
FISH = [FISH_DIR / f"{n}.toml" for n in NAMES]
SEOUL = ZoneInfo("Asia/Seoul")
LAT, LON = 36.35, 128.70
STOCKED = date(2026, 3, 1)


def load(name: str) -> Recipe:
    return load_recipe(FISH_DIR / f"{name}.toml")


def rate_at_weight(table: list[dict], weight_g: float, temperature: float) -> float:
    """%BW/d at one table temperature, interpolated in log weight (as the schema says), clamped at the ends."""
    rows = sorted((r["weight_g"], r["pct_bw"]) for r in table if r["temperature"] == temperature)
    if weight_g <= rows[0][0]:
        return rows[0][1]
    for (w0, r0), (w1, r1) in itertools.pairwise(rows):
        if weight_g <= w1:
            f = (math.log(weight_g) - math.log(w0)) / (math.log(w1) - math.log(w0))
            return r0 + (r1 - r0) * f
    return rows[-1][1]


def test_all_six_present_and_load():
    assert sorted(p.name for p in FISH_DIR.glob("*.toml")) == sorted(p.name for p in FISH)
    for path in FISH:
        r = load_recipe(path)
        assert r.recipe.kind == "tank" and r.recipe.species and r.recipe.version == 2 and r.recipe.parent == 1
        assert r.recipe.id.endswith(("-gb", "-biofloc")) and r.recipe.name_ko and r.recipe.name_en
        assert r.recipe.sources
        text = path.read_text("utf-8")
        assert "GAPS" in text and "[unverified]" in text  # gaps are said plainly


def test_cli_check_all_ok():
    res = CliRunner().invoke(recipe_group, ["check", *map(str, FISH)])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert len(lines) == len(FISH) and all(line.startswith("ok ") for line in lines)
    assert any(line.endswith("olive-flounder-gb@2") for line in lines)


@pytest.mark.parametrize("path", FISH, ids=lambda p: p.stem)
def test_meals_parse_in_every_stage(path: Path):
    r = load_recipe(path)
    for i in range(len(r.stages)):
        meals = r.strategy_for(i)["feeding"]["meals"]
        assert meals, f"stage {r.stages[i].name} has no meals"
        for m in meals:
            parse_start(m)  # raises on a bad time
        assert len(set(meals)) == len(meals)


@pytest.mark.parametrize("path", FISH, ids=lambda p: p.stem)
def test_oxygen_limits_are_ordered(path: Path):
    r = load_recipe(path)
    for i, stage in enumerate(r.stages):
        strat = r.strategy_for(i)
        ox, feed = strat["oxygen"], strat["feeding"]
        assert ox["minimum_mg_l"] > ox["critical_mg_l"] > 0
        assert feed["min_do_mg_l"] >= ox["minimum_mg_l"]  # feed stops before the alarm level is crossed
        do_max = r.envelope["dissolved_oxygen"].max
        assert r.envelope["dissolved_oxygen"].min > ox["minimum_mg_l"]  # a tenant cannot set the target at the alarm
        for p in stage.periods:
            if p.dissolved_oxygen is not None:
                assert p.dissolved_oxygen > ox["minimum_mg_l"]
                assert p.dissolved_oxygen + ox.get("night_raise_mg_l", 0) <= do_max


@pytest.mark.parametrize("path", FISH, ids=lambda p: p.stem)
def test_setpoints_in_envelope_over_the_cycle(path: Path):
    r = load_recipe(path)
    for day in (0, *(s.from_day for s in r.stages), r.stages[-1].from_day + 10):
        for hour in (2, 12, 22):
            when = datetime(2026, 3, 1, hour, tzinfo=SEOUL) + timedelta(days=day)
            sp = setpoints_at(r, STOCKED, when, LAT, LON, "Asia/Seoul")
            assert {"water_temperature", "dissolved_oxygen", "salinity", "ph"} <= set(sp)
            for q, s in sp.items():
                assert r.envelope[q].min <= s.value <= r.envelope[q].max


def test_setpoint_outside_envelope_is_rejected():
    text = (FISH_DIR / "olive-flounder.toml").read_text("utf-8")
    bad = text.replace("dissolved_oxygen = 6.5", "dissolved_oxygen = 12", 1)
    with pytest.raises(ConfigError) as info:
        parse_recipe(bad, "recipes/fish/bad.toml")
    assert "dissolved_oxygen" in info.value.field


def test_olive_flounder_table_reproduces_agronomy():
    r = load("olive-flounder")
    table = r.strategy_for(0)["feeding"]["table"]
    assert rate_at_weight(table, 317, 22.5) == pytest.approx(0.99)
    assert rate_at_weight(table, 5, 22.5) == pytest.approx((5.17 + 5.52) / 2)
    assert rate_at_weight(table, 50, 22.5) == pytest.approx((2.36 + 2.50) / 2)
    rows = sorted((t["weight_g"], t["pct_bw"]) for t in table if t["temperature"] == 22.5)
    assert [w for w, _ in rows] == [5, 9, 20, 30, 40, 50, 317, 370]
    assert all(a[1] > b[1] for a, b in itertools.pairwise(rows[:-1]))  # smaller fish eat more %BW
    assert rows[-1][1] == rows[-2][1]  # 370 g holds the 317 g rate: no source beyond 317 g at 21-24 °C
    assert 2.43 > rate_at_weight(table, 100, 22.5) > 0.99  # between the 50 g and 317 g rows
    assert rate_at_weight(table, 370, 13) == pytest.approx(0.625)  # [C]
    for w, warm in rows:  # the derived 13 °C column: the warm rate x [C]/[B]
        assert rate_at_weight(table, w, 13) == pytest.approx(warm * 0.625 / 0.99, abs=0.001)


def test_olive_flounder_stages_and_temperature():
    r = load("olive-flounder")
    assert len(r.strategy_for(0)["feeding"]["meals"]) == 3  # fry 3x/day
    assert len(r.strategy_for(len(r.stages) - 1)["feeding"]["meals"]) < 3  # fewer for larger fish
    for stage in r.stages:
        for p in stage.periods:
            assert p.water_temperature is None or 21 <= p.water_temperature <= 24
            assert p.salinity is None or 30 <= p.salinity <= 35
    for i, stage in enumerate(r.stages):  # oak.go.kr 17565: growth optimum 6-7 mg/L, in every stage
        ox = r.strategy_for(i)["oxygen"]
        assert (ox["minimum_mg_l"], ox["critical_mg_l"]) == (5, 3)  # EPA 2000 growth 4.8; 2-3 cut growth
        assert r.strategy_for(i)["feeding"]["min_do_mg_l"] == 5
        assert all(6 <= p.dissolved_oxygen <= 7 for p in stage.periods if p.dissolved_oxygen is not None)
        assert 6 <= min(p.dissolved_oxygen for p in stage.periods) + ox["night_raise_mg_l"] <= 7
    assert r.envelope["dissolved_oxygen"].min >= 6  # a tenant cannot set the target below the optimum
    assert r.strategy_for(0)["feeding"]["max_temperature"] < 28.4  # O2 rhythm lost above 28.4 degC


def test_korean_rockfish_table_and_one_meal():
    r = load("korean-rockfish")
    last = r.strategy_for(len(r.stages) - 1)["feeding"]
    assert len(last["meals"]) == 1  # 93-133 g: 1 meal/day
    rows = {(t["weight_g"], t["temperature"]): t["pct_bw"] for t in last["table"]}
    assert rows[(5, 19.5)] == 4.83 and rows[(16, 24)] == 3.34 and rows[(113, 16)] == 1.2 and rows[(113, 19.5)] == 1.5
    assert len(rows) == 9  # 3 weights x 3 temperature columns
    env = r.envelope["water_temperature"]
    assert (env.min, env.max) == (12, 21)


def test_japanese_eel_feeding_and_fresh_water():
    r = load("japanese-eel")
    for i in range(len(r.stages)):
        feed = r.strategy_for(i)["feeding"]
        assert feed["min_temperature"] == 13
        assert len(feed["meals"]) == 1
        assert all(1.0 <= t["pct_bw"] <= 3.5 for t in feed["table"])  # FAO formulated-feed range
    for stage in r.stages:
        for p in stage.periods:
            assert p.salinity is None or p.salinity == 0
            assert p.water_temperature is None or 23 <= p.water_temperature <= 30


def test_rainbow_trout_limits():
    r = load("rainbow-trout")
    feed = r.strategy_for(0)["feeding"]
    assert feed["max_temperature"] <= 20 and "table" not in feed
    env = r.envelope["water_temperature"]
    assert env.min >= 5 and env.max <= 20 < 26  # thrives 5-20, mortality 26-27
    assert r.envelope["salinity"].max == 0


def test_whiteleg_shrimp_biofloc():
    r = load("whiteleg-shrimp")
    nursery, growout = r.strategy_for(0)["feeding"], r.strategy_for(len(r.stages) - 1)["feeding"]
    assert 6 <= len(nursery["meals"]) <= 8 and 1 <= len(growout["meals"]) <= 2
    assert "table" not in nursery and "table" not in growout  # no size table found: none invented
    assert r.envelope["water_temperature"].min > 12  # never below 12 degC
    first = r.stages[0].periods[0]
    assert 29 <= first.water_temperature <= 31 and 16 <= first.salinity <= 21


def test_starry_flounder_is_euryhaline_placeholder():
    r = load("starry-flounder")
    env = r.envelope["salinity"]
    assert env.max - env.min >= 20  # euryhaline: wide salinity envelope
    assert "table" not in r.strategy_for(0)["feeding"]  # numbers not extracted; none invented


# ------------------------------------------------------------------------------------- issue 14 item 12

GRID_WEIGHTS = [0.5 * 1.15**k for k in range(75)]  # 0.5 g .. ~16 kg, log-spaced
GRID_TEMPS = [t / 2 for t in range(0, 81)]  # 0 .. 40 degC


def _tables() -> list[tuple[str, str, list[dict]]]:
    out = []
    for path in FISH:
        r = load_recipe(path)
        for i, stage in enumerate(r.stages):
            table = r.strategy_for(i)["feeding"].get("table")
            if table:
                out.append((path.stem, stage.name, table))
    return out


@pytest.mark.parametrize(("name", "stage", "table"), _tables(), ids=lambda x: x if isinstance(x, str) else "")
def test_rations_fall_with_weight_and_stay_inside_the_table_at_every_weight_and_temperature(name, stage, table):
    """Property over a weight x temperature grid: the ration never rises with weight, never leaves the range of
    the rates the recipe wrote, and the heaviest fish get less than the lightest wherever the table says so."""
    lo, hi = min(p["pct_bw"] for p in table), max(p["pct_bw"] for p in table)
    weights = sorted({p["weight_g"] for p in table})
    for t in GRID_TEMPS:
        rates = [pct_bw(table, w, t) for w in GRID_WEIGHTS]
        assert all(lo - 1e-9 <= r <= hi + 1e-9 for r in rates), (name, stage, t)
        assert all(b <= a + 1e-12 for a, b in itertools.pairwise(rates)), (name, stage, t)
        if len(weights) > 1:
            assert pct_bw(table, weights[-1], t) < pct_bw(table, weights[0], t)


def test_rockfish_ration_at_the_set_point_follows_the_large_fish_row():
    """The defect: at 18 degC, 113 g and 300 g fish both got 2.99 %BW/d; the source gives 1.2-1.5 (15-19 degC)."""
    r = load("korean-rockfish")
    setpoint = r.stages[-1].periods[0].water_temperature
    assert setpoint == 18
    for i in range(len(r.stages)):
        table = r.strategy_for(i)["feeding"]["table"]
        for weight in (113, 300):
            assert 1.2 <= pct_bw(table, weight, setpoint) <= 1.5
        assert pct_bw(table, 16, setpoint) > 2 * pct_bw(table, 113, setpoint)  # weight counts


def test_a_feeding_table_that_is_not_a_grid_is_refused_in_one_line():
    text = (FISH_DIR / "korean-rockfish.toml").read_text("utf-8")
    bad = text.replace("{ weight_g = 5,   temperature = 24,   pct_bw = 4.30 },", "", 1)
    with pytest.raises(ConfigError) as info:
        parse_recipe(bad, "recipes/fish/bad.toml")
    assert info.value.field == "strategy.feeding.table"
    assert info.value.message.startswith("not a full weight x temperature grid: no rate at 5 g, 24 °C")
    assert str(info.value).startswith("recipes/fish/bad.toml: strategy.feeding.table: ") and "\n" not in str(info.value)
    twice = text.replace("pct_bw = 4.30 },", "pct_bw = 4.30 },\n  { weight_g = 5, temperature = 24, pct_bw = 4 },", 1)
    with pytest.raises(ConfigError, match="two rates at 5 g, 24 °C"):
        parse_recipe(twice, "recipes/fish/bad.toml")


# Where each recipe's oxygen levels come from: the source tag on the line, never [unverified].
DO_SOURCES = {
    "olive-flounder": ("[G]", "[H]"), "korean-rockfish": ("[G]", "[H]"), "starry-flounder": ("[G]", "[H]"),
    "whiteleg-shrimp": ("[H]",), "rainbow-trout": ("[E]",), "japanese-eel": ("[E]",),
}


@pytest.mark.parametrize("path", FISH, ids=lambda p: p.stem)
def test_oxygen_levels_carry_their_source_and_keep_target_above_feed_hold_above_critical(path: Path):
    r = load_recipe(path)
    lines = {line.split("=")[0].strip(): line for line in path.read_text("utf-8").splitlines() if "=" in line}
    for key in ("minimum_mg_l", "critical_mg_l", "min_do_mg_l"):
        assert any(tag in lines[key] for tag in DO_SOURCES[path.stem]) and "[unverified]" not in lines[key], key
    for i, stage in enumerate(r.stages):
        ox, feed = r.strategy_for(i)["oxygen"], r.strategy_for(i)["feeding"]
        targets = [p.dissolved_oxygen for p in stage.periods if p.dissolved_oxygen is not None]
        assert min(targets) >= feed["min_do_mg_l"] + 1.0  # a meal's O2 demand has room before the feed hold
        assert ox["critical_mg_l"] >= 3.0  # above every acute-survival criterion cited (2.3 marine, 3 fresh)


def test_rainbow_trout_oxygen_is_salmonid():
    """EPA 1986 salmonids: no impairment at 8, slight 6, moderate 5, severe 4 mg/L; critical 4 was too low."""
    ox = load("rainbow-trout").strategy_for(0)["oxygen"]
    assert ox["critical_mg_l"] >= 5 and ox["minimum_mg_l"] >= 6
    assert load("rainbow-trout").stages[0].periods[0].dissolved_oxygen >= 8


@pytest.mark.parametrize(("key", "typo", "field"), [
    ("min_aerators_on = 2", "min_aerator_on = 2", "strategy.oxygen.min_aerator_on"),
    ("low_level_pct = 80", "min_level_pct = 80", "strategy.water.min_level_pct"),
    ("fcr = 1.4", "fcr = 1.4\nfeed_ratio = 2", "strategy.feeding.feed_ratio"),
])
def test_a_misspelt_tank_strategy_key_is_an_error_naming_the_allowed_ones(key, typo, field):
    """The tank tables take exactly the keys the tank strategies read: a typo no longer passes through."""
    text = (FISH_DIR / "whiteleg-shrimp.toml").read_text("utf-8")
    assert f"\n{key}" in text
    with pytest.raises(ConfigError) as info:
        parse_recipe(text.replace(f"\n{key}", f"\n{typo}", 1), "recipes/fish/bad.toml")
    assert info.value.field == field
    assert info.value.message.startswith("unknown field (check the spelling); allowed: ")
