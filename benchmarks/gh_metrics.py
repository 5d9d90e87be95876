"""The greenhouse benchmark's figures: sums kept while the twin runs, figures from the sums, medians over seeds.

Every figure comes from the twin's model (its state counters and outputs), never from what a controller says
it did, so the three controllers are measured alike. The definitions are in benchmarks/control_greenhouse.py.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from farmcore.canopy import cover_temperature_c, equilibrium_c, lag_s, relax_c
from farmcore.twin.greenhouse import Greenhouse
from farmcore.twin.weather import WeatherSample

RH_WET = 90.0  # %: "RH ≥ 90 %" hours, the grey-mould risk growers count (agronomy.md)
BAND_LOW_K = 1.0  # the band: [sp - 1, sp + offset_k + 1], upper edge at least outside + 2 K
BAND_HIGH_K = 1.0
OUTSIDE_MARGIN_K = 2.0
SUM_KEYS = ("seconds", "in_band_s", "in_strict_s", "below_s", "above_s", "rh90_s", "cond_s", "heat_j",
            "growth_kg", "light_free_j", "light_lost_j", "starts", "co2_kg", "irrigation_l")
FIGURES = ("heating_kwh", "kwh_per_kg", "light_lost_pct", "rh90_hours", "condensation_hours", "in_band_pct",
           "actuator_starts")


class Meter:
    """Sums over the counted time of one run, read from the model after each step."""

    def __init__(self, model: Greenhouse) -> None:
        self.model = model
        self.sums = dict.fromkeys(SUM_KEYS, 0.0)
        self._c0: dict[str, float] | None = None
        self._leaf: float | None = None  # our own canopy estimate, when the twin has no leaf_temperature
        # the twin's light counters (radiation inside the cover without and with screens), when it has them
        self.twin_light = hasattr(model.state, "light_unscreened_j_m2") and hasattr(model.state, "light_inside_j_m2")

    @property
    def counting(self) -> bool:
        return self._c0 is not None

    def begin(self) -> None:
        """Counting starts now: the state counters' values to subtract."""
        st = self.model.state
        self._c0 = {"heat_j": st.heating_energy_j, "co2_kg": st.co2_dosed_kg, "irrigation_l": st.irrigation_l,
                    "dry": st.dry_weight}
        if self.twin_light:
            self._c0["free"], self._c0["got"] = st.light_unscreened_j_m2, st.light_inside_j_m2

    def leaf(self, out: Mapping[str, float], w: WeatherSample, dt_s: float) -> float:
        """The canopy temperature: the twin's output, else farmcore.canopy on the model's air and light."""
        if "leaf_temperature" in out:
            return out["leaf_temperature"]
        screen = self.model.inputs.thermal_screen
        target = equilibrium_c(out["air_temperature"], cover_temperature_c(out["air_temperature"], w.air_temperature),
                               out["solar_radiation"], screen)
        self._leaf = target if self._leaf is None else relax_c(self._leaf, target, dt_s, lag_s(screen))
        return self._leaf

    def after_step(self, dt_s: float, w: WeatherSample, sp: float, offset_k: float, counting: bool) -> None:
        """One model step has been made with weather `w`: add what it did (when counting)."""
        out = self.model.outputs()
        leaf = self.leaf(out, w, dt_s)
        if not counting:
            return
        s = self.sums
        t, rh = out["air_temperature"], out["relative_humidity"]
        lo, top = sp - BAND_LOW_K, sp + offset_k + BAND_HIGH_K
        top_adj = max(top, w.air_temperature + OUTSIDE_MARGIN_K)
        s["seconds"] += dt_s
        s["in_strict_s"] += dt_s * (lo <= t <= top)
        s["in_band_s"] += dt_s * (lo <= t <= top_adj)
        s["below_s"] += dt_s * (t < lo)
        s["above_s"] += dt_s * (t > top_adj)
        s["rh90_s"] += dt_s * (rh >= RH_WET)
        s["cond_s"] += dt_s * (leaf < out["dew_point"])
        if not self.twin_light:  # the cover's transmission alone (no screens) against what the model let through
            free = self.model.params.transmission * max(w.solar_radiation, 0.0)
            s["light_free_j"] += free * dt_s
            s["light_lost_j"] += max(0.0, free - out["solar_radiation"]) * dt_s

    def finish(self, starts: int) -> dict[str, float]:
        """The run's sums (whole house: energy in J, growth in kg of dry matter, light in J m-2)."""
        assert self._c0 is not None, "begin() was never called: nothing was counted"
        st, p = self.model.state, self.model.params
        s = dict(self.sums)
        s["heat_j"] = st.heating_energy_j - self._c0["heat_j"]
        s["co2_kg"] = st.co2_dosed_kg - self._c0["co2_kg"]
        s["irrigation_l"] = st.irrigation_l - self._c0["irrigation_l"]
        s["growth_kg"] = (st.dry_weight - self._c0["dry"]) * p.floor_area
        s["starts"] = float(starts)
        if self.twin_light:
            s["light_free_j"] = st.light_unscreened_j_m2 - self._c0["free"]
            s["light_lost_j"] = s["light_free_j"] - (st.light_inside_j_m2 - self._c0["got"])
        return s


def add(parts: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Sums of several runs (seasons) as one."""
    total = dict.fromkeys(SUM_KEYS, 0.0)
    for part in parts:
        for k in SUM_KEYS:
            total[k] += part[k]
    return total


def figures(s: Mapping[str, float]) -> dict[str, float | None]:
    """The reported figures from a run's (or several runs') sums."""
    kwh = s["heat_j"] / 3.6e6
    pct = 100.0 / s["seconds"] if s["seconds"] else 0.0
    return {
        "heating_kwh": kwh,
        "kwh_per_kg": kwh / s["growth_kg"] if s["growth_kg"] > 0 and kwh > 0 else None,
        "light_lost_pct": 100.0 * s["light_lost_j"] / s["light_free_j"] if s["light_free_j"] > 0 else 0.0,
        "rh90_hours": s["rh90_s"] / 3600,
        "condensation_hours": s["cond_s"] / 3600,
        "in_band_pct": s["in_band_s"] * pct,
        "actuator_starts": s["starts"],
        "in_band_strict_pct": s["in_strict_s"] * pct,
        "below_band_h": s["below_s"] / 3600,
        "above_band_h": s["above_s"] / 3600,
        "dry_matter_kg": s["growth_kg"],
        "co2_kg": s["co2_kg"],
        "irrigation_l": s["irrigation_l"],
    }


def _round(x: float, key: str) -> float:
    return round(x, 0 if key in ("actuator_starts", "irrigation_l") else 2 if key != "kwh_per_kg" else 3)


def summarise(per_seed: list[Mapping[str, float | None]], keys: Iterable[str] | None = None) -> dict[str, Any]:
    """Median over the seeds of each figure (all, or `keys`), its spread [min, max] beside it (`<figure>_range`)."""
    out: dict[str, Any] = {}
    for key in keys or per_seed[0]:
        values = [v for f in per_seed if (v := f[key]) is not None]
        if not values:
            out[key], out[f"{key}_range"] = None, None
            continue
        out[key] = _round(statistics.median(values), key)
        out[f"{key}_range"] = [_round(min(values), key), _round(max(values), key)]
    return out


def report(results: list[tuple[str, str, int, dict[str, Any], float]], seasons: list[str], seeds: list[int],
           detail: bool, controllers: tuple[str, ...]) -> dict[str, Any]:
    """The JSON line's controller entries and targets from every job's sums."""
    by: dict[tuple[str, int], dict[str, dict[str, Any]]] = defaultdict(dict)
    for name, season, seed, result, _wall in results:
        by[(name, seed)][season] = result
    names = [n for n in controllers if any((n, s) in by for s in seeds)]
    out: dict[str, Any] = {}
    for name in names:
        overall, winter = [], []
        per_season: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for seed in seeds:
            runs = by[(name, seed)]
            overall.append(figures(add(r["sums"] for r in runs.values())))
            for season, r in runs.items():
                per_season[season].append(figures(r["sums"]))
            if "winter" in runs:
                winter.append(figures(runs["winter"]["sums"])["light_lost_pct"])
        entry = summarise(overall)
        if winter:
            entry["light_lost_pct_winter"] = round(statistics.median(winter), 2)
            entry["light_lost_pct_winter_range"] = [round(min(winter), 2), round(max(winter), 2)]
        entry["seasons"] = {s: summarise(per_season[s], FIGURES) for s in seasons if per_season[s]}
        if detail:
            entry["detail"] = {f"{season}/{seed}": {k: r[k] for k in ("moves_by", "no_decision_ticks")}
                               for (n, seed), runs in by.items() if n == name for season, r in runs.items()}
        out[name] = entry
    if "ours" in out and "baseline" in out:
        ours, base = out["ours"], out["baseline"]
        savings = []
        for seed in seeds:
            o, b = (figures(add(r["sums"] for r in by[(n, seed)].values()))["heating_kwh"]
                    for n in ("ours", "baseline"))
            if b and b > 0:
                savings.append(100.0 * (1.0 - o / b))
        out["heating_saving_pct"] = round(statistics.median(savings), 1) if savings else None
        out["heating_saving_pct_range"] = [round(min(savings), 1), round(max(savings), 1)] if savings else None
        winter_lost = ours.get("light_lost_pct_winter")
        out["targets"] = {
            "rh90_not_more": ours["rh90_hours"] <= base["rh90_hours"],
            "condensation_not_more": ours["condensation_hours"] <= base["condensation_hours"],
            "winter_light_lost_le_2pct": None if winter_lost is None else winter_lost <= 2.0,
            "in_band_not_less": ours["in_band_pct"] >= base["in_band_pct"],
            "heating_not_more": ours["heating_kwh"] <= base["heating_kwh"],
        }
    return out
