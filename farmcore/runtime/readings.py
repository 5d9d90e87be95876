"""A zone's readings between the field bus and the controller: combined sensors, what is recorded, what is shown.

- **Combined sensors.** A zone may have two (or more) sensors of one quantity, each with its own `id`; the
  zone's reading of the quantity is then the median of the good ones (with two, their mean; with one good,
  that one), and it is bad only when none is good. So one failed air sensor does not send the heater to its
  failsafe, and the controller keeps seeing `air_temperature`.
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
from typing import Any

from farmcore.historian.base import Point
from farmcore.runtime.safety import Tracked, held_note, shown_quality
from farmcore.site import ZoneDef


def combined_quantities(zone: ZoneDef) -> dict[str, tuple[str, ...]]:
    """{quantity: the readings combined into it} for quantities measured by several sensors of the zone."""
    by_quantity: dict[str, list[str]] = {}
    for sensor in zone.sensors:
        if sensor.source is None:
            by_quantity.setdefault(sensor.quantity, []).append(sensor.key)
    return {q: tuple(keys) for q, keys in by_quantity.items() if len(keys) > 1}


def combine(fused: Mapping[str, tuple[str, ...]], tracks: Mapping[str, Tracked], readings: dict[str, float],
            bad: dict[str, str], now_s: float) -> None:
    """Add each combined quantity to `readings` (the median of its good sensors) or to `bad` (none good), and
    keep its own track up to date for the record and the display."""
    for quantity, keys in fused.items():
        good = [readings[k] for k in keys if k in readings]
        track = tracks[quantity]
        if good:
            value = float(statistics.median(good))
            readings[quantity] = value
            bad.pop(quantity, None)
            track.value, track.good_at, track.quality, track.raw, track.read_at = value, now_s, "good", value, now_s
        else:
            bad[quantity] = "no good sensor: " + "; ".join(f"{k} {bad.get(k, 'bad')}" for k in keys)
            stale = all(bad.get(k, "").startswith("stale") for k in keys)
            track.quality = "stale" if stale else tracks[keys[0]].quality
            track.raw, track.read_at = None, now_s


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
                    now_s: float) -> dict[str, dict[str, Any]]:
    """The `readings` of the zone's MQTT state: value, unit, the quality of the latest read, and why when it
    is not good (a value held from an earlier read says how old it is)."""
    out: dict[str, dict[str, Any]] = {}
    for key, track in tracks.items():
        why = bad.get(key)
        quality = shown_quality(track, why)
        unit = units.get(key) or next((units[k] for k in fused.get(key, ()) if k in units), None)
        entry: dict[str, Any] = {"value": track.value, "unit": unit, "quality": quality}
        if why is not None:
            entry["why"] = why
        elif quality != "good":
            entry["why"] = held_note(track, now_s, stale_after.get(key, 0.0))
        if key in fused:
            entry["from"] = list(fused[key])
        out[key] = entry
    return out
