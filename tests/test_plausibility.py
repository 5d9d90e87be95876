"""Readings that are not measurements: a nutrient node's idle line, stuck sensors; and combined sensors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from farmcore.fieldbus.node import Reading
from farmcore.runtime.plausibility import FLATNESS, Flatness, StuckWatch, flatness_for, node_measuring
from farmcore.runtime.readings import combine
from farmcore.runtime.safety import Tracked, observe


def test_a_nutrient_nodes_sensors_measure_only_while_its_supply_runs():
    ec = Reading(slot=1, kind="sensor", value=0.0, quality="good")
    for status, measuring in ((0, False), (401, True), (402, True), (403, True), (None, False)):
        quality = "good" if status is not None else "comm_error"
        supply = Reading(slot=21, kind="nutrient", status=status, quality=quality)
        assert node_measuring([ec, supply]) is measuring, status
    assert node_measuring([ec]), "a node without a supply device always measures"


def test_stuck_after_the_flat_time_within_one_resolution_step_and_clear_once_it_moves():
    watch = StuckWatch(Flatness(0.1, 3600.0))
    for t in range(0, 3601, 60):
        watch.sample(18.0 + (0.05 if t % 120 else 0.0), t)  # jitter below the resolution is still flat
    assert watch.stuck_for(3600) is None
    watch.sample(18.02, 3660)
    assert watch.stuck_for(3660) == 3660
    watch.sample(18.3, 3720)
    assert watch.stuck_for(3720) is None


def test_flat_is_normal_in_the_dark_and_in_fog():
    dark = StuckWatch(Flatness(1.0, 3600.0, normal_below=1.0))
    fog = StuckWatch(FLATNESS["relative_humidity"])
    for t in range(0, 12 * 3600, 600):
        dark.sample(0.0, t)
        fog.sample(100.0, t)
    assert dark.stuck_for(12 * 3600) is None and fog.stuck_for(12 * 3600) is None


def test_site_settings_over_the_defaults():
    assert flatness_for("air_temperature", None, None) == FLATNESS["air_temperature"]
    assert flatness_for("air_temperature", 0.5, 600).resolution == 0.5
    assert flatness_for("air_temperature", None, 600).flat_s == 600
    assert flatness_for("air_temperature", None, 0) is None, "0 switches the watch off"
    assert flatness_for("current", None, None) is None, "not watched unless asked"
    assert flatness_for("par", None, None) is None, "lamps hold PAR flat all night"
    assert flatness_for("current", 0.1, 1800) == Flatness(0.1, 1800)


def test_two_sensors_combine_to_the_median_of_the_good_ones_and_are_bad_only_when_none_is():
    tracks = {k: Tracked() for k in ("air_temperature", "air_temperature_a", "air_temperature_b")}
    fused = {"air_temperature": ("air_temperature_a", "air_temperature_b")}
    readings, bad = {"air_temperature_a": 10.0, "air_temperature_b": 12.0}, {}
    combine(fused, tracks, readings, bad, 100.0)
    assert readings["air_temperature"] == 11.0 and "air_temperature" not in bad
    readings, bad = {"air_temperature_b": 12.0}, {"air_temperature_a": "stale: 90 s"}
    combine(fused, tracks, readings, bad, 110.0)
    assert readings["air_temperature"] == 12.0, "the good one wins"
    readings, bad = {}, {"air_temperature_a": "stale: 90 s", "air_temperature_b": "stale: 95 s"}
    combine(fused, tracks, readings, bad, 120.0)
    assert "air_temperature" not in readings and bad["air_temperature"].startswith("no good sensor")
    assert tracks["air_temperature"].quality == "stale"


def test_an_unanswered_read_keeps_the_last_good_value_but_no_raw_value():
    track = Tracked()
    observe(track, 21.5, "good", 10.0, None)
    observe(track, None, "comm_error", 20.0, None)
    assert (track.value, track.good_at, track.quality, track.raw, track.read_at) == (21.5, 10.0, "comm_error",
                                                                                       None, 20.0)
    observe(track, 0.0, "idle", 30.0, None)
    assert track.quality == "idle" and track.raw == 0.0 and track.value == 21.5


def _good(track: Tracked, value: float, at: float) -> None:
    observe(track, value, "good", at, None)


def test_a_combination_of_held_values_is_not_fresh_and_not_recorded():
    from farmcore.runtime.readings import sensor_points

    tracks = {k: Tracked() for k in ("air_temperature", "air_temperature_a", "air_temperature_b")}
    fused = {"air_temperature": ("air_temperature_a", "air_temperature_b")}
    for key in fused["air_temperature"]:
        _good(tracks[key], 10.0, 100.0)
        observe(tracks[key], None, "comm_error", 110.0, None)  # both nodes silent now, values held
    readings = {"air_temperature_a": 10.0, "air_temperature_b": 10.0}
    combine(fused, tracks, readings, {}, 110.0)
    combined = tracks["air_temperature"]
    assert readings["air_temperature"] == 10.0, "held values still drive control until stale"
    assert combined.quality == "comm_error" and combined.good_at == 100.0 and combined.raw is None
    points = sensor_points("s", "z", tracks, datetime(2026, 1, 1, tzinfo=UTC), 110.0)
    assert [p.name for p in points] == [], "nothing read in this tick, nothing recorded"


def test_dissolved_oxygen_takes_the_lowest_probe_and_a_stuck_one_counts_only_alone():
    tracks = {k: Tracked() for k in ("dissolved_oxygen", "do_a", "do_b")}
    fused = {"dissolved_oxygen": ("do_a", "do_b")}
    readings = {"do_a": 8.1, "do_b": 2.4}  # a probe lifted out of the water reads high
    spreads = combine(fused, tracks, readings, {}, 10.0)
    assert readings["dissolved_oxygen"] == 2.4 and spreads["dissolved_oxygen"] == pytest.approx(5.7)
    readings = {"do_a": 8.1, "do_b": 2.4}
    combine(fused, tracks, readings, {}, 10.0, suspect=frozenset({"do_b"}))
    assert readings["dissolved_oxygen"] == 8.1
    readings = {"do_b": 2.4}
    combine(fused, tracks, readings, {"do_a": "stale"}, 10.0, suspect=frozenset({"do_b"}))
    assert readings["dissolved_oxygen"] == 2.4, "a suspect sensor is better than none"


def test_one_sensor_with_an_id_still_gives_the_zone_its_quantity():
    from farmcore.runtime.readings import combined_quantities
    from farmcore.site import SensorDef, ZoneDef

    zone = ZoneDef(id="gh", kind="greenhouse", bus="b", sensors=[
        SensorDef(quantity="air_temperature", unit=1, slot=1, id="air_temperature_north"),
        SensorDef(quantity="current", unit=1, slot=2, code=22, source="pump_current")])
    assert combined_quantities(zone) == {"air_temperature": ("air_temperature_north",)}


def test_the_outside_memory_keeps_the_last_value_and_the_days_lows_across_a_restart():
    from farmcore.runtime.outside import OutsideMemory

    memory = OutsideMemory()
    for hour in range(30):
        memory.note("air_temperature", 10.0 - hour if hour < 20 else float(hour), hour * 3600.0)
    assert memory.lows(29 * 3600.0)["air_temperature"] == -9.0
    assert memory.held_ages(30 * 3600.0)["air_temperature"] == (29.0, 3600.0)
    again = OutsideMemory()
    again.restore(memory.state())
    assert again.lows(29 * 3600.0) == memory.lows(29 * 3600.0) and again.held == memory.held
    assert again.lows(60 * 3600.0) == {}, "a day later nothing old counts"
