"""Feeding: a meal's ration from the biomass and the feeding table, run on the feeder, held when fish cannot eat.

A `meal` request (the scheduler, at the recipe's `feeding.meals` times) or a `feed_now` request starts a
meal of `biomass_kg x pct_bw(weight, temperature) / 100 / meals_per_day` kg, never more than what is left
of the day's ration; a `feed_now` with a value (kg) gives exactly that (the operator's call). The feeder runs
`ration / feed_kg_per_min x 60` s (`out.run_s`, a timed run the node ends itself), then is decided off.

The meal is held, with an event saying why (Senect's "No Feeding - cancelled due to O2, temp", anchors.md
§4; agronomy.md §2.2 feed inhibit), when DO is below `min_do_mg_l` (default: `oxygen.minimum_mg_l`, else
MIN_DO_MG_L), when the water is outside `min_temperature`..`max_temperature`, when either reading is missing,
or, for a ration by table, without a stocking record or a table. A held meal is not made up later: the next
meal time comes. A meal running when DO or temperature goes out of range is stopped and only what was
delivered is booked.

Table interpolation (`pct_bw`): the table is a full weight x temperature grid (the recipe schema refuses
anything else, `grid_gap`; grouping scattered points by exact temperature let weight
drop out and overfed rockfish 2-3x, issue 14 item 12). The rate is bilinear between the four grid points
around the fish: piecewise linear in log(weight) (feeding rates fall roughly as a power of body weight, so log
spacing fits the 5 g .. 317 g tables of agronomy.md §2.2 better than linear) and linear in temperature. So
every ration lies between rates the recipe wrote down. Beyond the first or last weight or temperature the end
value holds (clamped): no extrapolation of a biological table. A table that is not a grid (a hand-made
strategy dict) holds the meal, with the reason, instead of guessing.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from pydantic import field_validator

from aquactl.biomass import Biomass
from farmcore.control.arbitration import Decision
from farmcore.datafile import StrictFile
from farmcore.recipe.schema import StrategyTable, param

if TYPE_CHECKING:  # the recipe schema below is read without the runtime (and its field bus)
    from farmcore.runtime.controller import ActuatorView, Request, TickInput, TickOutput

FEED_KG_PER_MIN = 0.2  # feeder delivery when the site gives none [engineering choice]; the demo site's figure
MIN_DO_MG_L = 5.0  # no feeding below: the marine growth criterion 4.8 rounded up (US EPA 2000) [secondary]
MIN_MEAL_SHARE = 0.05  # a rest under 5 % of a meal is not worth a run (growth booked raises the ration) [eng. choice]
MEALS_PER_DAY = 2  # when the recipe lists no meal times [engineering choice]; grow-out 1-2 a day, agronomy.md §2.1


def grid_gap(points: list[tuple[float, float]]) -> str | None:
    """Why (weight_g, temperature) points are not a full weight x temperature grid, or None when they are.

    A feeding table is a grid, as feed makers print them (weight classes x water-temperature columns): every
    weight has a rate at every temperature, so interpolation between the four corners around a fish uses
    only rates someone wrote down, and no point of the table can drop out (issue 14 item 12)."""
    seen: set[tuple[float, float]] = set()
    for point in points:
        if point in seen:
            return f"two rates at {point[0]:g} g, {point[1]:g} °C"
        seen.add(point)
    weights = sorted({w for w, _ in points})
    temps = sorted({t for _, t in points})
    for w in weights:
        for t in temps:
            if (w, t) not in seen:
                return (f"not a full weight x temperature grid: no rate at {w:g} g, {t:g} °C (every weight "
                        f"{', '.join(f'{x:g}' for x in weights)} g needs a rate at every temperature "
                        f"{', '.join(f'{x:g}' for x in temps)} °C)")
    return None


class FeedRate(StrictFile):
    """One point of a feeding table: % of body weight a day at a fish weight and water temperature."""

    weight_g: float = param(..., gt=0, le=100000, unit="g", en="mean fish weight", ko="물고기 평균 무게")
    temperature: float = param(..., ge=0, le=40, unit="°C", en="water temperature", ko="수온")
    pct_bw: float = param(..., ge=0, le=30, unit="%/d", en="feed a day, in % of body weight",
                          ko="하루 먹이량(몸무게 대비 %)")


class FeedingTable(StrategyTable):
    """`[strategy.feeding]`."""

    meals: list[str] | None = param(
        None, unit="", day_time=True, en="meal times: HH:MM, sunrise±HH:MM or sunset±HH:MM (none: no meals by clock)",
        ko="급이 시각 목록: HH:MM, sunrise±HH:MM 또는 sunset±HH:MM(없으면 정해진 시각에 급이하지 않습니다)")
    table: list[FeedRate] | None = param(
        None, unit="", en="feeding rates as a full weight x temperature grid (none: no ration by table)",
        ko="무게×수온 칸을 모두 채운 급이율 표(없으면 표로 급이량을 정하지 않습니다)")
    fcr: float | None = param(None, gt=0, le=5, unit="kg/kg",
                              en="feed conversion ratio: kg of feed per kg of growth (books growth from feed)",
                              ko="사료 효율: 1 kg 자라는 데 드는 사료 kg(준 먹이로 성장량을 계산합니다)")
    min_temperature: float | None = param(None, ge=0, le=40, unit="°C",
                                          en="no feeding below this water temperature (none: no limit)",
                                          ko="수온이 이보다 낮으면 먹이를 주지 않습니다(없으면 제한 없음)")
    max_temperature: float | None = param(None, ge=0, le=40, unit="°C",
                                          en="no feeding above this water temperature (none: no limit)",
                                          ko="수온이 이보다 높으면 먹이를 주지 않습니다(없으면 제한 없음)")
    min_do_mg_l: float | None = param(None, gt=0, le=20, unit="mg/L",
                                      en="no feeding below this DO (none: oxygen.minimum_mg_l)",
                                      ko="용존산소가 이보다 낮으면 먹이를 주지 않습니다(없으면 oxygen.minimum_mg_l)")

    @field_validator("table")
    @classmethod
    def _grid(cls, table: list[FeedRate] | None) -> list[FeedRate] | None:
        if table is not None:
            if not table:
                raise ValueError("an empty feeding table; leave `table` out when the ration is set by hand")
            gap = grid_gap([(p.weight_g, p.temperature) for p in table])
            if gap is not None:
                raise ValueError(gap)
        return table


def _points(table: Iterable[Any]) -> list[tuple[float, float, float]]:
    """(weight_g, temperature, pct_bw) of FeedRate models or plain dicts (as `inp.strategy` gives them)."""
    out = []
    for p in table:
        get = p.get if isinstance(p, Mapping) else lambda k, p=p: getattr(p, k)
        out.append((float(get("weight_g")), float(get("temperature")), float(get("pct_bw"))))
    return out


def _interp(xs: list[float], ys: list[float], x: float) -> float:
    """Piecewise linear through (xs, ys), xs rising, clamped at both ends."""
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    i = bisect.bisect_right(xs, x)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def pct_bw(table: Iterable[Any], weight_g: float, temperature: float) -> float:
    """Daily ration in % of body weight for this mean weight and water temperature (module docstring);
    ValueError for an empty table or one that is not a full weight x temperature grid."""
    points = _points(table)
    if not points:
        raise ValueError("the feeding table is empty")
    gap = grid_gap([(w, t) for w, t, _ in points])
    if gap is not None:
        raise ValueError(f"the feeding table has {gap}" if gap.startswith("two") else f"the feeding table is {gap}")
    rate = {(w, t): pct for w, t, pct in points}
    weights = sorted({w for w, _, _ in points})
    temps = sorted({t for _, t, _ in points})
    log_w = [math.log(w) for w in weights]
    x = math.log(max(weight_g, 1e-6))
    at_weight = [_interp(log_w, [rate[(w, t)] for w in weights], x) for t in temps]
    return _interp(temps, at_weight, temperature)


def _hold_reason(inp: TickInput, min_do: float, t_min: float | None, t_max: float | None) -> str | None:
    """Why fish cannot be fed now, or None."""
    do, t = inp.readings.get("dissolved_oxygen"), inp.readings.get("water_temperature")
    if do is None:
        return f"no good DO reading ({inp.bad.get('dissolved_oxygen', 'missing')})"
    if do < min_do:
        return f"DO {do:.1f} mg/L < {min_do:g}"
    if t is None:
        return f"no good water temperature ({inp.bad.get('water_temperature', 'missing')})"
    if t_min is not None and t < t_min:
        return f"water {t:.1f} °C < {t_min:g} °C"
    if t_max is not None and t > t_max:
        return f"water {t:.1f} °C > {t_max:g} °C"
    return None


class Feeding:
    """Feed given today, the day, and the meal running on each feeder (until when, at what rate)."""

    def __init__(self) -> None:
        self.day: date | None = None
        self.given_kg_today = 0.0
        self.ration_kg_today: float | None = None  # the day's ration by table, as of the last tick
        self.running: dict[str, list[float]] = {}  # feeder id -> [start_s, until_s, kg_per_min]

    def new_day(self, today: date, out: TickOutput) -> None:
        if self.day is not None and today != self.day:
            out.events.append(f"new day {today.isoformat()}: {self.given_kg_today:.2f} kg fed on "
                              f"{self.day.isoformat()}")
            self.given_kg_today = 0.0
        self.day = today

    def daily_ration(self, inp: TickInput, biomass: Biomass | None) -> tuple[float | None, str]:
        """(the day's ration in kg or None, why not / how)."""
        table = inp.strategy.get("feeding", {}).get("table")
        t = inp.readings.get("water_temperature")
        if biomass is None:
            return None, "no stocking"
        if not table:
            return None, "no feeding table"
        if t is None:
            return None, "no water temperature"
        try:
            pct = pct_bw(table, biomass.mean_weight_g, t)
        except ValueError as exc:
            return None, str(exc)
        return biomass.biomass_kg * pct / 100, (f"{biomass.biomass_kg:.1f} kg x {pct:.3g} %BW/d "
                                                f"({biomass.mean_weight_g:.0f} g, {t:.1f} °C)")

    def decide(self, inp: TickInput, feeders: list[ActuatorView], biomass: Biomass | None,
               out: TickOutput) -> None:
        """Start, run, stop or hold meals; book the feed given into `biomass`; decisions for every feeder."""
        self.new_day(inp.local.date(), out)
        table = inp.strategy.get("feeding", {})
        oxygen = inp.strategy.get("oxygen", {})
        min_do = float(table.get("min_do_mg_l", oxygen.get("minimum_mg_l", MIN_DO_MG_L)))
        hold = _hold_reason(inp, min_do, table.get("min_temperature"), table.get("max_temperature"))
        daily, how = self.daily_ration(inp, biomass)
        self.ration_kg_today = daily
        fcr = table.get("fcr")
        now = inp.now_s
        for fid in [f for f, (_, until, _) in self.running.items() if now >= until]:
            del self.running[fid]  # the node ended the timed run by itself

        if self.running and hold is not None:
            undelivered = sum(rate * (until - now) / 60 for _, until, rate in self.running.values())
            self.given_kg_today -= undelivered
            if biomass is not None:
                biomass.feed(-undelivered, fcr)
            out.events.append(f"meal stopped: {hold}; {undelivered:.2f} kg not given")
            self.running.clear()

        meals = [r for r in inp.requests if r.kind in ("meal", "feed_now")]
        for request in meals:
            self._start(inp, request, feeders, biomass, hold, daily, how, fcr, out)

        for view in feeders:
            run = self.running.get(view.id)
            if run is not None:
                out.decisions[view.id] = Decision(True, "recipe", f"meal running, {run[1] - now:.0f} s left")
            else:
                out.decisions[view.id] = Decision(False, "recipe", "no meal running")
        out.trace["feed_given_kg_today"] = self.given_kg_today
        if daily is not None:
            out.trace["ration_kg_today"] = daily

    def _start(self, inp: TickInput, request: Request, feeders: list[ActuatorView], biomass: Biomass | None,
               hold: str | None, daily: float | None, how: str, fcr: float | None, out: TickOutput) -> None:
        what = "feed-now" if request.kind == "feed_now" else "meal"
        by = f" ({request.by})" if request.by else ""
        if not feeders:
            out.events.append(f"{what} held{by}: no feeder in this zone")
            return
        if hold is not None:
            out.events.append(f"{what} held{by}: {hold}")
            return
        if self.running:
            out.events.append(f"{what} skipped{by}: the feeder is still running the last meal")
            return
        if request.kind == "feed_now" and request.value is not None:
            if not request.value > 0:
                out.events.append(f"{what} ignored{by}: {request.value:g} kg is not a ration")
                return
            kg, why = float(request.value), f"{request.value:g} kg asked"
        else:
            if daily is None:
                out.events.append(f"{what} held{by}: {how}")
                return
            meals = inp.strategy.get("feeding", {}).get("meals") or []
            per_day = len(meals) or MEALS_PER_DAY
            left = max(daily - self.given_kg_today, 0.0)
            kg = min(daily / per_day, left)
            why = f"{daily:.2f} kg/d ({how}) / {per_day} meals"
            if kg < daily / per_day:
                why += f", capped to the {left:.2f} kg left of today's ration"
            if kg < MIN_MEAL_SHARE * daily / per_day:
                out.events.append(f"{what} held{by}: today's ration of {daily:.2f} kg already given")
                return
        share = kg / len(feeders)
        for view in feeders:
            rate = view.feed_kg_per_min or FEED_KG_PER_MIN
            run_s = share / rate * 60
            out.run_s[view.id] = run_s
            self.running[view.id] = [inp.now_s, inp.now_s + run_s, rate]
        self.given_kg_today += kg
        if biomass is not None:
            biomass.feed(kg, fcr)
        out.events.append(f"{what} started{by}: {kg:.2f} kg = {why}")

    def state(self) -> dict[str, Any]:
        return {"feed_day": self.day.isoformat() if self.day else None, "feed_given_kg_today": self.given_kg_today,
                "ration_kg_today": self.ration_kg_today, "feeding": {k: list(v) for k, v in self.running.items()}}

    def restore(self, state: dict[str, Any]) -> None:
        day = state.get("feed_day")
        self.day = date.fromisoformat(day) if day else None
        self.given_kg_today = float(state.get("feed_given_kg_today", 0.0))
        ration = state.get("ration_kg_today")
        self.ration_kg_today = None if ration is None else float(ration)
        self.running = {k: [float(x) for x in v] for k, v in state.get("feeding", {}).items()}
