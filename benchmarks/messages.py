"""Building and encoding one zone state: plain dict + orjson, pydantic v2 (trusted construction), msgspec.

Prints one JSON line. The state is a realistic greenhouse zone's (12 readings, two of them combined from two
sensors and one held after a lost read; 8 actuators, 4 of them retractable; 6 setpoints, 6 weather values, one
override; since issue 17 also the recipe's names and day, a tenant envelope of 6 quantities and the override
limit), built from plain values the way the daemon builds it from its zone (a loop over readings and
actuators, optional keys only when they apply), and encoded to the bytes published on `.../state`.

- `*_build_us`: µs to build the message from those values; `*_encode_us`: µs to encode the built message;
  `*_total_us`: both (the daemon does both once a second per zone). The best of `--repeat` runs of
  `--number` calls each (a laptop-class core; the figures scale with the machine, the ratios much less).
- dict_orjson: the untyped dict of before (SiteDaemon.state_payload) and orjson.dumps.
- pydantic: BaseModel.model_construct at every level (no validation, unset keys left out) and
  model_dump_json(exclude_unset=True) (pydantic-core's serializer; `pydantic_orjson_encode_us`: model_dump +
  orjson.dumps instead, for comparison).
- msgspec: farmcore.link.payloads structs (no validation on construction) and their encoder.
- `*_decode_us`: a reader's validated decode of the encoded bytes (the portal, `farmctl zone`).
- `same_bytes`: every option published the same bytes.
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
import orjson  # noqa: E402
import pydantic  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from farmcore.link import payloads as P  # noqa: E402

QUANTITIES = ("air_temperature", "relative_humidity", "co2", "solar_radiation", "par", "soil_moisture",
              "soil_temperature", "ec", "ph", "dew_point", "leaf_temperature", "water_temperature")
ACTUATORS = (("heater", "heater", "switch"), ("fan", "circulation_fan", "switch"), ("co2_valve", "co2_valve", "switch"),
             ("irrigation", "irrigation_pump", "switch"), ("vent_west", "side_vent", "retractable"),
             ("vent_east", "side_vent", "retractable"), ("thermal_screen", "thermal_screen", "retractable"),
             ("shade_screen", "shade_screen", "retractable"))
UNITS = {"air_temperature": "degC", "relative_humidity": "%RH", "co2": "ppm", "solar_radiation": "W/m2",
         "par": "umol/m2/s", "soil_moisture": "%", "soil_temperature": "degC", "ec": "dS/m", "ph": "pH",
         "dew_point": "degC", "leaf_temperature": "degC", "water_temperature": "degC"}


def zone_values() -> dict[str, Any]:
    """What the daemon holds for one zone, as plain values (the inputs every option builds from)."""
    readings = [(q, 19.349424362182617 + n * 3.1, UNITS[q], "comm_error" if q == "co2" else "good",
                 "no answer from its node; last good value 4 s old, used until 90 s" if q == "co2" else None,
                 ("air_temperature_a", "air_temperature_b") if q in ("air_temperature", "relative_humidity") else None)
                for n, q in enumerate(QUANTITIES)]
    actuators = [(a, role, kind, n % 2 == 0 if kind == "switch" else 35.0 * (n % 3),
                  "recipe", f"{a}: 19.3 °C vs setpoint 21.0 °C (band 1 K) -> {'on' if n % 2 == 0 else 'off'}",
                  12.5 * n if kind == "retractable" else None, "ON" if n % 2 == 0 else "READY", n == 7)
                 for n, (a, role, kind) in enumerate(ACTUATORS)]
    return {"time": "2026-01-15T04:05:00Z", "site": "gyeongbuk-demo", "zone": "gh1", "kind": "greenhouse",
            "recipe": ("tomato-gb", 3, "production", "tomato-gb@3 production/day"), "readings": readings,
            "actuators": actuators, "weather": {q: 1.0883924961090088 * n for n, q in enumerate(QUANTITIES[:6])},
            "setpoints": {q: (21.0 + n, "tenant" if n == 0 else "recipe") for n, q in enumerate(QUANTITIES[:6])},
            "overrides": {"vent_west": (35.0, "2026-01-15T05:05:00Z", "portal:kim", "airing")},
            "names": ("토마토 (경북 연동 온실)", "Tomato, Gyeongbuk multi-span house", 148),  # issue 17's fields
            "envelope": {q: (10.0 + n, 30.0 + n) for n, q in enumerate(QUANTITIES[:6])}, "max_override_s": 14400.0}


def build_dict(v: dict[str, Any]) -> dict[str, Any]:
    readings = {}
    for q, value, unit, quality, why, sources in v["readings"]:
        entry: dict[str, Any] = {"value": value, "unit": unit, "quality": quality}
        if why is not None:
            entry["why"] = why
        if sources is not None:
            entry["from"] = list(sources)
        readings[q] = entry
    actuators = {}
    for a, role, kind, target, source, reason, position, feedback, failed in v["actuators"]:
        act: dict[str, Any] = {"role": role, "kind": kind, "target": target, "source": source, "reason": reason[:200]}
        if kind == "retractable":
            act["position"] = position
        act["feedback"] = feedback
        if failed:
            act["failed"] = True
        actuators[a] = act
    rid, version, stage, period = v["recipe"]
    return {"schema": 1, "time": v["time"], "site": v["site"], "zone": v["zone"], "kind": v["kind"], "mode": "override",
            "recipe": {"id": rid, "version": version, "stage": stage, "period": period, "name_ko": v["names"][0],
                       "name_en": v["names"][1], "day": v["names"][2]}, "readings": readings,
            "weather": dict(v["weather"]),
            "setpoints": {q: {"value": x, "source": s} for q, (x, s) in v["setpoints"].items()},
            "actuators": actuators,
            "overrides": {a: {"value": x, "until": u, "by": b, "reason": r}
                          for a, (x, u, b, r) in v["overrides"].items()},
            "alarms": 2, "envelope": {q: list(b) for q, b in v["envelope"].items()},
            "max_override_s": v["max_override_s"]}


def build_msgspec(v: dict[str, Any]) -> P.StateMessage:
    readings = {}
    for q, value, unit, quality, why, sources in v["readings"]:
        readings[q] = P.ReadingEntry(value=value, unit=unit, quality=quality, why=P.UNSET if why is None else why,
                                     sources=P.UNSET if sources is None else list(sources))
    actuators = {}
    for a, role, kind, target, source, reason, position, feedback, failed in v["actuators"]:
        actuators[a] = P.ActuatorEntry(role=role, kind=kind, target=target, source=source, reason=reason[:200],
                                       position=position if kind == "retractable" else P.UNSET, feedback=feedback,
                                       failed=failed)
    rid, version, stage, period = v["recipe"]
    return P.StateMessage(
        time=v["time"], site=v["site"], zone=v["zone"], kind=v["kind"], mode="override",
        recipe=P.RecipeRef(id=rid, version=version, stage=stage, period=period, name_ko=v["names"][0],
                           name_en=v["names"][1], day=v["names"][2]), readings=readings,
        weather=dict(v["weather"]),
        setpoints={q: P.SetpointEntry(value=x, source=s) for q, (x, s) in v["setpoints"].items()},
        actuators=actuators,
        overrides={a: P.OverrideEntry(value=x, until=u, by=b, reason=r) for a, (x, u, b, r) in v["overrides"].items()},
        alarms=2, envelope=dict(v["envelope"]), max_override_s=v["max_override_s"])


class PReading(BaseModel):
    value: float | None
    unit: str | None
    quality: str
    why: str | None = None
    sources: list[str] | None = pydantic.Field(default=None, alias="from")


class PRecipe(BaseModel):
    id: str
    version: int
    stage: str
    period: str
    name_ko: str = ""
    name_en: str = ""
    day: int | None = None


class PSetpoint(BaseModel):
    value: float
    source: Literal["recipe", "tenant"]


class PActuator(BaseModel):
    role: str
    kind: str
    target: bool | float | None
    source: Literal["safety", "override", "recipe"] | None = None
    reason: str | None = None
    position: float | None = None
    feedback: str | int | None = None
    failed: bool = False


class POverride(BaseModel):
    value: bool | float | None
    until: str
    by: str
    reason: str


class PState(BaseModel):
    schema_: Literal[1] = pydantic.Field(default=1, alias="schema")
    time: str
    site: str
    zone: str
    kind: str
    mode: Literal["auto", "override", "safety"]
    recipe: PRecipe | None
    readings: dict[str, PReading]
    weather: dict[str, float | None]
    setpoints: dict[str, PSetpoint]
    actuators: dict[str, PActuator]
    overrides: dict[str, POverride]
    alarms: int
    envelope: dict[str, tuple[float, float]] = pydantic.Field(default_factory=dict)
    max_override_s: float = 14400.0


def build_pydantic(v: dict[str, Any]) -> PState:
    readings = {}
    for q, value, unit, quality, why, sources in v["readings"]:
        extra: dict[str, Any] = {}
        if why is not None:
            extra["why"] = why
        if sources is not None:
            extra["sources"] = list(sources)
        readings[q] = PReading.model_construct(value=value, unit=unit, quality=quality, **extra)
    actuators = {}
    for a, role, kind, target, source, reason, position, feedback, failed in v["actuators"]:
        more: dict[str, Any] = {"position": position} if kind == "retractable" else {}
        if failed:
            more["failed"] = True
        actuators[a] = PActuator.model_construct(role=role, kind=kind, target=target, source=source,
                                                 reason=reason[:200], feedback=feedback, **more)
    rid, version, stage, period = v["recipe"]
    return PState.model_construct(
        schema_=1, time=v["time"], site=v["site"], zone=v["zone"], kind=v["kind"], mode="override",
        recipe=PRecipe.model_construct(id=rid, version=version, stage=stage, period=period, name_ko=v["names"][0],
                                       name_en=v["names"][1], day=v["names"][2]), readings=readings,
        weather=dict(v["weather"]),
        setpoints={q: PSetpoint.model_construct(value=x, source=s) for q, (x, s) in v["setpoints"].items()},
        actuators=actuators,
        overrides={a: POverride.model_construct(value=x, until=u, by=b, reason=r)
                   for a, (x, u, b, r) in v["overrides"].items()},
        alarms=2, envelope=dict(v["envelope"]), max_override_s=v["max_override_s"])


def best_us(call: Any, number: int, repeat: int) -> float:
    return round(min(timeit.repeat(call, number=number, repeat=repeat)) / number * 1e6, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    v = zone_values()
    d, m, p = build_dict(v), build_msgspec(v), build_pydantic(v)
    encoded = {"dict_orjson": orjson.dumps(d), "msgspec": P.encode(m),
               "pydantic": p.model_dump_json(exclude_unset=True, by_alias=True).encode()}
    n, r = args.number, args.repeat
    out: dict[str, Any] = {"readings": len(v["readings"]), "actuators": len(v["actuators"]),
                           "bytes": len(encoded["msgspec"]),
                           "same_bytes": len(set(encoded.values())) == 1, "python": sys.version.split()[0],
                           "pydantic": pydantic.VERSION, "msgspec": msgspec.__version__, "orjson": orjson.__version__}
    figures = {
        "dict_orjson": (lambda: build_dict(v), lambda: orjson.dumps(d), lambda: json.loads(encoded["dict_orjson"])),
        "pydantic": (lambda: build_pydantic(v), lambda: p.model_dump_json(exclude_unset=True, by_alias=True),
                     lambda: PState.model_validate_json(encoded["pydantic"])),
        "msgspec": (lambda: build_msgspec(v), lambda: P.encode(m),
                    lambda: P.StateMessage.from_json(encoded["msgspec"])),
    }
    for name, (build, encode, decode) in figures.items():
        out[f"{name}_build_us"] = best_us(build, n, r)
        out[f"{name}_encode_us"] = best_us(encode, n, r)
        out[f"{name}_total_us"] = round(out[f"{name}_build_us"] + out[f"{name}_encode_us"], 2)
        out[f"{name}_decode_us"] = best_us(decode, n, r)
    out["pydantic_orjson_encode_us"] = best_us(lambda: orjson.dumps(p.model_dump(exclude_unset=True, by_alias=True)),
                                               n, r)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
