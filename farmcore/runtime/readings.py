"""A zone's readings between the field bus and the controller: combined sensors, what is recorded, what is shown.

- **Combined sensors.** A zone may have two (or more) sensors of one quantity, each with its own `id`; the
  zone's reading of the quantity is then the median of the good ones (with two, their mean; with one good,
  that one; for dissolved oxygen the lowest), a stuck one counting only when no other is good, and it is bad
  only when none is good. So one failed air sensor does not send the heater to its failsafe, and the
  controller keeps seeing `air_temperature`. Two good sensors far apart raise a warning: one is wrong.
- **Recorded.** Only what was read in this tick goes to the historian, stamped with the tick: a good value
  as `good`, a value the node reported with a fault or while not measuring with that quality; a value held
  from an earlier read is never recorded again as if it were new.
- **Shown.** A reading's published quality is its latest read's (`comm_error` from the first unanswered
  read), although the last good value drives control until `stale_after_s`.

Pure: tracks, readings and clock seconds in, values out.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from datetime import datetime

from farmcore.historian.base import Point
from farmcore.link.payloads import UNSET, ReadingEntry
from farmcore.runtime.safety import Tracked, held_note, shown_quality
from farmcore.site import ZoneDef

# Quantities for which the lowest of several good readings is the zone's: a DO probe lifted out of the water
# reads high, and the fish are safer with the low one (more aeration, the backup sooner). Others: the median.
LOW_WINS = frozenset({"dissolved_oxygen"})
# [engineering choice] two sensors of one quantity further apart than this: one of them is wrong (a warning).
DISAGREE = {"air_temperature": 2.0, "relative_humidity": 10.0, "co2": 150.0, "water_temperature": 1.0,
            "dissolved_oxygen": 1.0, "soil_moisture": 10.0, "ec": 0.5, "ph": 0.5}


def combined_quantities(zone: ZoneDef) -> dict[str, tuple[str, ...]]:
    """{quantity: the readings combined into it}: quantities measured by several sensors of the zone, and a
    quantity whose one sensor has an `id` of its own (the zone still has the quantity by its name)."""
    by_quantity: dict[str, list[str]] = {}
    for sensor in zone.sensors:
        if sensor.source is None:
            by_quantity.setdefault(sensor.quantity, []).append(sensor.key)
    return {q: tuple(keys) for q, keys in by_quantity.items() if len(keys) > 1 or keys != [q]}


def combine(fused: Mapping[str, tuple[str, ...]], tracks: Mapping[str, Tracked], readings: dict[str, float],
            bad: dict[str, str], now_s: float, suspect: frozenset[str] = frozenset()) -> dict[str, float]:
    """Add each combined quantity to `readings` (the median of its good sensors, the lowest for LOW_WINS; a
    `suspect` one, e.g. stuck, only when no other is good) or to `bad` (none good), and keep its own track:
    good (and recorded) only when a sensor was read good in this tick, else the quality of a held value.
    Returns {quantity: the spread between its good sensors}."""
    spreads: dict[str, float] = {}
    for quantity, keys in fused.items():
        usable = [k for k in keys if k in readings]
        good = [k for k in usable if k not in suspect] or usable
        track = tracks[quantity]
        if not good:
            bad[quantity] = "no good sensor: " + "; ".join(f"{k} {bad.get(k, 'bad')}" for k in keys)
            stale = all(bad.get(k, "").startswith("stale") for k in keys)
            track.quality = "stale" if stale else tracks[keys[0]].quality
            track.raw, track.read_at = None, now_s
            continue
        values = [readings[k] for k in good]
        value = min(values) if quantity in LOW_WINS else float(statistics.median(values))
        readings[quantity] = value
        bad.pop(quantity, None)
        spreads[quantity] = max(values) - min(values)
        fresh = [k for k in good if tracks[k].quality == "good" and tracks[k].good_at == tracks[k].read_at]
        track.value = value
        track.good_at = max(tracks[k].good_at or 0.0 for k in good)
        track.read_at = max(tracks[k].read_at or 0.0 for k in good)
        track.quality = "good" if fresh else tracks[good[0]].quality
        track.raw = value if fresh else None
    return spreads


def sensor_points(site: str, zone: str, tracks: Mapping[str, Tracked], now: datetime,
                  read_since: float) -> list[Point]:
    """The points of this tick's reads (made at or after `read_since`): good values as good, values read with
    a fault status or while idle with that quality; nothing for a node that did not answer."""
    points = []
    for key, track in tracks.items():
        if track.read_at is None or track.read_at < read_since:
            continue
        if track.quality == "good" and track.value is not None and track.good_at == track.read_at:
            points.append(Point("sensor", site, zone, key, now, {"value": track.value}, quality="good"))
        elif track.raw is not None and track.quality != "good":
            points.append(Point("sensor", site, zone, key, now, {"value": track.raw}, quality=track.quality))
    return points


def reading_entries(tracks: Mapping[str, Tracked], bad: Mapping[str, str], units: Mapping[str, str],
                    stale_after: Mapping[str, float], fused: Mapping[str, tuple[str, ...]],
                    now_s: float) -> dict[str, ReadingEntry]:
    """The `readings` of the zone's MQTT state: value, unit, the quality of the latest read, and why when it
    is not good (a value held from an earlier read says how old it is)."""
    out: dict[str, ReadingEntry] = {}
    for key, track in tracks.items():
        why = bad.get(key)
        quality = shown_quality(track, why)
        unit = units.get(key) or next((units[k] for k in fused.get(key, ()) if k in units), None)
        if why is None and quality != "good":
            why = held_note(track, now_s, stale_after.get(key, 0.0))
        out[key] = ReadingEntry(value=track.value, unit=unit, quality=quality, why=UNSET if why is None else why,
                                sources=list(fused[key]) if key in fused else UNSET)
    return out
