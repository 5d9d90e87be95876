"""Dissolved oxygen: staged aerators toward the DO target, pure-oxygen injection and aerator failure detection.

Target: the recipe's `dissolved_oxygen` setpoint, raised by `night_raise_mg_l` between sunset and sunrise (no
algal photosynthesis, fish respiration peaks at night; In-Situ's "No Off at Night" rule, anchors.md §4).

Aerators (`Staging` with hysteresis, `band` = `stage_band_mg_l`): of n working aerators (site order), the
k-th comes on when DO falls to `target - (k-1) * step`, `step = band / (2 (n-1))`, and goes off again when DO
rises `band` above that point; so the first goes off only above `target + band`, and all are on by
`target - band/2`, where pure oxygen starts: aeration (electricity) before bought oxygen. At least
`min_aerators_on` (default MIN_AERATORS_ON) always run: the site's stocking record is optional, so an empty
tank cannot be told from a stocked one, and a stocked 10 m3 flounder tank with no aeration reaches hypoxia
within the hour (twin `flounder-10m3`); a probe reading high (a fouled membrane) must not be able to stop all
aeration; and only a running aerator can show by its current that it works. A biofloc tank sets it higher:
its aerators also keep the floc suspended, whatever the DO (issue 14 item 12).

Pure oxygen (`o2_valve`, a switch): on below `target - band/2`, or below the target once every working aerator
runs; off at the target; a minimum on/off time against valve chatter; forced on below `critical_mg_l`.

Failure of an aerator (In-Situ "Min Amps", anchors.md §4): (a) commanded on for CURRENT_GRACE_S and its
current below `min_current_a`, (b) the runtime's feedback says it does not follow commands, or (c) response_check_min
after it started DO is below the minimum and lower than when it started. A failed aerator is reported once,
counts for no stage (so the next working one starts as standby) and is kept commanded on: if only its
current transducer failed it still aerates, and a tripped one draws nothing. (a) and (b) clear by themselves
when the current or the feedback is good again; (c) cannot tell a dead aerator from a demand beyond the
aerators' capacity, so it latches until a restart without it in the state (the aerator stays on meanwhile).
A missing DO reading gives no aerator or valve decision: the runtime's failsafe (on) applies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from farmcore.control.arbitration import Decision
from farmcore.control.switching import MinOnOff, Staging
from farmcore.recipe.schema import StrategyTable, param

if TYPE_CHECKING:  # the recipe schema below is read without the runtime (and its field bus)
    from farmcore.runtime.controller import ActuatorView, TickInput, TickOutput

# Without recipe values, the olive-flounder levels of recipes/fish/olive-flounder.toml, whose sources say why:
TARGET_MG_L = 6.5  # middle of the flounder growth optimum 6-7 mg/L (oak.go.kr article_seq=17565) [secondary]
MINIMUM_MG_L = 5.0  # marine growth criterion 4.8 mg/L rounded up (US EPA 2000, EPA-822-R-00-012) [secondary]
CRITICAL_MG_L = 3.0  # top of the 2-3 mg/L that cut flounder growth (17565); marine survival 2.3 (EPA 2000)
NIGHT_RAISE_MG_L = 0.5  # [engineering choice]
STAGE_BAND_MG_L = 0.5  # [engineering choice]: ~ the probe's accuracy (+-0.1-0.2 mg/L) times a few
# Without aeration a 39 kg/m3 flounder tank loses ~0.15 mg/L a minute (twin: ~92 g O2/h in 10 m3), so ten
# minutes is ~1.5 mg/L: plenty for a working aerator to have stopped the fall [engineering choice].
RESPONSE_CHECK_MIN = 10.0
MIN_CURRENT_A = 0.5  # a running 0.75 kW blower draws ~4 A (twin), a tripped one ~0 [engineering choice]
CURRENT_GRACE_S = 30.0  # a new command shows in the current after a poll or two [engineering choice]
MIN_AERATORS_ON = 1  # see the module docstring [engineering choice]
O2_MIN_ON_S = 60.0  # solenoid valve: no chatter at the tick rate [engineering choice]
O2_MIN_OFF_S = 60.0  # [engineering choice]


class OxygenTable(StrategyTable):
    """`[strategy.oxygen]`: the target is the `dissolved_oxygen` setpoint; these are the limits around it."""

    minimum_mg_l: float = param(MINIMUM_MG_L, gt=0, le=20, unit="mg/L",
                                en="the species' minimum: an alarm, and no feeding below it",
                                ko="어종이 견디는 최저 용존산소: 이보다 낮으면 경보를 내고 먹이를 주지 않습니다")
    critical_mg_l: float = param(CRITICAL_MG_L, gt=0, le=20, unit="mg/L",
                                 en="backup aeration and emergency oxygen engage below this",
                                 ko="이보다 낮으면 비상 폭기와 비상 산소 공급을 가동합니다")
    night_raise_mg_l: float = param(NIGHT_RAISE_MG_L, ge=0, le=5, unit="mg/L",
                                    en="the DO target is raised this much at night",
                                    ko="밤에는 용존산소 목표를 이만큼 높입니다")
    stage_band_mg_l: float = param(STAGE_BAND_MG_L, gt=0, le=5, unit="mg/L",
                                   en="band over which the aerators are staged on and off",
                                   ko="폭기기를 차례로 켜고 끄는 용존산소 폭")
    response_check_min: float = param(RESPONSE_CHECK_MIN, gt=0, le=120, unit="min",
                                      en="a started aerator must show in the DO within this time",
                                      ko="폭기기를 켠 뒤 이 시간 안에 용존산소가 올라야 정상으로 봅니다")
    min_current_a: float = param(MIN_CURRENT_A, ge=0, le=100, unit="A",
                                 en="a running aerator draws at least this current",
                                 ko="가동 중인 폭기기에는 적어도 이만큼의 전류가 흘러야 합니다")
    min_aerators_on: int = param(MIN_AERATORS_ON, ge=1, le=20, unit="",
                                 en="never fewer aerators running (a biofloc tank keeps its floc suspended)",
                                 ko="폭기기를 언제나 이 대수 이상 돌립니다"
                                    "(바이오플락 수조는 플록이 가라앉지 않게 합니다)")


def target(inp: TickInput) -> tuple[float, str]:
    """The DO target in force and how it was made."""
    table = inp.strategy.get("oxygen", {})
    base = inp.setpoints.get("dissolved_oxygen")
    why = f"setpoint {base:g}" if base is not None else f"default {TARGET_MG_L:g} (no setpoint)"
    value = TARGET_MG_L if base is None else base
    if not inp.is_day:
        raise_ = float(table.get("night_raise_mg_l", NIGHT_RAISE_MG_L))
        if raise_:
            value += raise_
            why += f" + night {raise_:g}"
    return value, why


def _step(band: float, n: int) -> float:
    return band / (2 * max(n - 1, 1))


def staging(n: int, band: float) -> Staging:
    """Staging of `n` working aerators for `demand(...)`: with S = band + n step, stage k at level
    (band + k step) / S, i.e. DO <= target - (k-1) step, and off `band` higher (hysteresis band / S)."""
    step = _step(band, n)
    span = band + n * step
    return Staging(tuple((band + k * step) / span for k in range(1, n + 1)), band / span)


def demand(do: float, target_mg_l: float, band: float, n: int) -> float:
    """0..1 as DO falls from `target + band + step` to `target - (n-1) step` (see `staging`)."""
    step = _step(band, n)
    return (target_mg_l + band + step - do) / (band + n * step)


def current_key(index: int) -> str:
    """The reading of the k-th aerator's current (1-based, site order), as the twin and the demo site name it."""
    return f"aerator_{index}_current"


class Oxygen:
    """Aerator failure flags and watch timers, the O2 valve's minimum times: all survive a restart."""

    def __init__(self) -> None:
        self.failed: dict[str, dict[str, str]] = {}  # id -> {"kind": current|feedback|response, "reason": ...}
        self.watch: dict[str, dict[str, Any]] = {}  # id -> {"since_s", "do", "checked"} while commanded on
        self.valve_timers: dict[str, MinOnOff] = {}

    # -------------------------------------------------------------------------------------------- failures

    def _current(self, inp: TickInput, index: int, view: ActuatorView) -> float | None:
        value = inp.readings.get(current_key(index))
        return value if value is not None else inp.readings.get(f"{view.id}_current")

    def check(self, inp: TickInput, aerators: list[ActuatorView], out: TickOutput) -> list[str]:
        """Update the watch timers and failure flags; returns the aerators newly failed this tick."""
        table = inp.strategy.get("oxygen", {})
        min_a = float(table.get("min_current_a", MIN_CURRENT_A))
        window_s = float(table.get("response_check_min", RESPONSE_CHECK_MIN)) * 60
        minimum = float(table.get("minimum_mg_l", MINIMUM_MG_L))
        do = inp.readings.get("dissolved_oxygen")
        now = inp.now_s
        newly: list[str] = []
        for index, view in enumerate(aerators, start=1):
            on = view.target is True
            watch = self.watch.get(view.id)
            if not on:
                self.watch.pop(view.id, None)
            elif watch is None:
                watch = self.watch[view.id] = {"since_s": now, "do": do, "checked": False}
            amps = self._current(inp, index, view)
            flag = self.failed.get(view.id)
            if flag is not None:
                healed = ((flag["kind"] == "current" and on and amps is not None and amps >= min_a)
                          or (flag["kind"] == "feedback" and not view.failed))
                if healed:
                    del self.failed[view.id]
                    out.events.append(f"{view.id} recovered: {flag['kind']} good again")
                continue
            reason = None
            if view.failed:
                reason, kind = "feedback does not follow its commands", "feedback"
            elif on and watch is not None and amps is not None and amps < min_a and \
                    now - watch["since_s"] >= CURRENT_GRACE_S:
                reason, kind = f"current {amps:.1f} A < {min_a:g} A", "current"
            elif on and watch is not None and not watch["checked"] and do is not None and \
                    now - watch["since_s"] >= window_s:
                watch["checked"] = True
                start = watch["do"]
                if do < minimum and start is not None and do < start:
                    reason, kind = (f"DO fell {start:.1f} -> {do:.1f} mg/L (< minimum {minimum:g}) in "
                                    f"{(now - watch['since_s']) / 60:.0f} min of running"), "response"
            if reason is not None:
                self.failed[view.id] = {"kind": kind, "reason": reason}
                out.events.append(f"{view.id} failed: {reason}")
                newly.append(view.id)
        return newly

    # ----------------------------------------------------------------------------------------------- decide

    def decide(self, inp: TickInput, aerators: list[ActuatorView], valves: list[ActuatorView],
               out: TickOutput) -> None:
        """Decisions for the zone's aerators and O2 valves (none without a good DO reading), events, trace."""
        newly = self.check(inp, aerators, out)
        out.trace["aerators_failed"] = float(len(self.failed))
        do = inp.readings.get("dissolved_oxygen")
        if do is None:
            return
        table = inp.strategy.get("oxygen", {})
        band = float(table.get("stage_band_mg_l", STAGE_BAND_MG_L))
        critical = float(table.get("critical_mg_l", CRITICAL_MG_L))
        floor = int(table.get("min_aerators_on", MIN_AERATORS_ON))
        goal, goal_why = target(inp)
        out.trace["do_target"] = goal

        working = [v for v in aerators if v.id not in self.failed]
        n = len(working)
        running = [v for v in working if v.target is True]
        present = len(running) + sum(1 for v in aerators if v.id in newly and v.target is True)
        stages, why = 0, "no working aerator"
        if n:
            d = demand(do, goal, band, n)
            staged = staging(n, band).decide(min(present, n), d)
            stages, why = staged.stages, staged.reason
            if newly and stages < min(present, n):
                # like for like first: a trip is no time to re-judge demand with one aerator fewer
                stages, why = min(present, n), f"{why}; kept {min(present, n)} running after a failure"
            if stages < floor:
                stages, why = min(floor, n), f"{why}; {floor} kept on always"
        if len(running) >= stages:
            chosen = running[:stages]  # switch off the later ones first
        else:
            chosen = running + [v for v in working if v.target is not True][:stages - len(running)]
        chosen_ids = {v.id for v in chosen}
        context = f"DO {do:.2f} mg/L, target {goal:.2f} ({goal_why}), band {band:g}"
        for view in aerators:
            if view.id in self.failed:
                out.decisions[view.id] = Decision(True, "recipe", f"{view.id} failed ({self.failed[view.id]['reason']})"
                                                  ": kept on in case only its feedback failed, counts for no stage")
                continue
            on = view.id in chosen_ids
            out.decisions[view.id] = Decision(on, "recipe", f"aerator {'on' if on else 'off'}: {stages}/{n} "
                                              f"working aerators, {why}; {context}")
        started = [v.id for v in chosen if v.target is not True]
        for failed_id in newly:
            if started:
                out.events.append(f"standby {started.pop(0)} started in place of failed {failed_id}")
            elif not any(v.target is not True for v in working):
                out.events.append(f"no standby aerator left for failed {failed_id}: pure oxygen below target")
        out.trace["aerators_on"] = float(stages)

        all_on = stages >= n
        o2_on = False
        for view in valves:
            timer = self.valve_timers.setdefault(view.id, MinOnOff(O2_MIN_ON_S, O2_MIN_OFF_S))
            if isinstance(view.target, bool) and view.target != timer.on:
                timer.on, timer.since_s = view.target, inp.now_s  # switched by someone else (override, failsafe)
            if do < critical:
                allowed = timer.request(True, inp.now_s, force=True)
                reason = f"O2 on: DO {do:.2f} < critical {critical:g} mg/L"
            else:
                if timer.on:
                    want = do < goal
                    reason = f"O2 {'on' if want else 'off'}: {context}, off at the target"
                elif do < goal - band / 2:
                    want, reason = True, f"O2 on: {context}, below target - band/2"
                elif all_on and do < goal:
                    want, reason = True, f"O2 on: {context}, all {n} working aerators on and still below target"
                else:
                    want, reason = False, f"O2 off: {context}"
                allowed = timer.request(want, inp.now_s)
                if allowed.on != want:
                    reason += f"; {allowed.reason}"
            out.decisions[view.id] = Decision(allowed.on, "recipe", reason)
            o2_on = o2_on or allowed.on
        out.trace["o2_valve"] = float(o2_on)

    def state(self) -> dict[str, Any]:
        return {"failed": {k: dict(v) for k, v in self.failed.items()},
                "watch": {k: dict(v) for k, v in self.watch.items()},
                "valves": {k: [t.on, t.since_s] for k, t in self.valve_timers.items()}}

    def restore(self, state: dict[str, Any]) -> None:
        self.failed = {k: {"kind": str(v["kind"]), "reason": str(v["reason"])}
                       for k, v in state.get("failed", {}).items()}
        self.watch = {k: {"since_s": v.get("since_s"), "do": v.get("do"), "checked": bool(v.get("checked"))}
                      for k, v in state.get("watch", {}).items()}
        self.valve_timers = {k: MinOnOff(O2_MIN_ON_S, O2_MIN_OFF_S, on=bool(on), since_s=since)
                             for k, (on, since) in state.get("valves", {}).items()}
