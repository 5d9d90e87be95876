"""Pure unit tests of farmcore.control: simulated plants and clocks, no sockets, threads or sleeps."""

from __future__ import annotations

import pytest

from farmcore.control.arbitration import (
    Decision,
    Interlock,
    Override,
    apply_interlocks,
    arbitrate,
    clamp_to_limits,
)
from farmcore.control.pid import Pid
from farmcore.control.switching import Hysteresis, MinOnOff, Ramp, RateLimit, Staging


def first_order(y: float, u: float, dt: float, tau: float = 60.0) -> float:
    """A heated room: temperature y follows heater power u (0..100 %) with time constant tau (Euler step)."""
    return y + dt * (u - y) / tau


# -- PID ------------------------------------------------------------------------------------------------------


def test_pid_step_response_converges_without_overshoot():
    pid = Pid(2.0, 2.0 / 60.0, 0.0, out_min=0.0, out_max=100.0)  # integral time = plant time constant
    y, peak = 20.0, 20.0
    for t in range(1200):
        y = first_order(y, pid.update(y, 50.0, float(t)), 1.0)
        peak = max(peak, y)
    assert y == pytest.approx(50.0, abs=0.05)
    assert peak - 50.0 < 0.3  # under 1 % of the 30 K step
    assert "e=" in pid.debug.reason and pid.debug.output == pytest.approx(y, abs=0.1)


def test_pid_anti_windup_leaves_limit_as_soon_as_error_changes_sign():
    pid = Pid(1.0, 0.5, 0.0, out_min=0.0, out_max=100.0)
    for t in range(1000):  # stuck sensor far below setpoint: a naive integral would reach ~25 000
        pid.update(0.0, 50.0, float(t))
    assert pid.debug.output == 100.0
    assert pid.debug.i <= 100.0
    out = pid.update(60.0, 50.0, 1000.0)  # now above setpoint
    assert out < 100.0
    assert pid.debug.p < 0


def test_pid_bumpless_transfer_from_manual():
    pid = Pid(2.0, 0.1, 1.0, out_min=0.0, out_max=100.0)
    for t in range(10):
        pid.update(20.0, 25.0, float(t))
    pid.bumpless(37.0)  # the technician held the heater at 37 % for a while; the room drifted to 23.5
    first = pid.update(23.5, 25.0, 500.0)
    assert first == pytest.approx(37.0)
    assert "bumpless" in pid.debug.reason
    second = pid.update(23.5, 25.0, 501.0)
    assert abs(second - first) < 0.5  # only one second of integral, no derivative spike


def test_pid_derivative_on_measurement_has_no_setpoint_kick():
    on_meas = Pid(1.0, 0.0, 50.0, out_min=-1000.0, out_max=1000.0)
    on_error = Pid(1.0, 0.0, 50.0, out_min=-1000.0, out_max=1000.0, derivative_on_measurement=False)
    for pid in (on_meas, on_error):
        pid.update(20.0, 20.0, 0.0)
        pid.update(20.0, 20.0, 1.0)
    assert on_meas.update(20.0, 25.0, 2.0) == pytest.approx(5.0)
    assert on_meas.debug.d == 0.0
    assert on_error.update(20.0, 25.0, 2.0) == pytest.approx(5.0 + 250.0)  # the kick we avoid


def test_pid_sample_time_holds_reset_and_bad_input():
    pid = Pid(1.0, 1.0, 0.0, out_min=0.0, out_max=100.0, sample_time_s=10.0)
    first = pid.update(10.0, 20.0, 0.0)
    assert pid.update(0.0, 20.0, 5.0) == first
    assert pid.debug.reason.startswith("held")
    assert pid.update(10.0, 20.0, 10.0) == 100.0  # p 10 + i 100 (10 s of error 10), limited
    assert pid.debug.reason.endswith("at out_max")
    pid.reset()
    assert pid.debug is None and pid.update(10.0, 20.0, 20.0) == pytest.approx(10.0)
    with pytest.raises(ValueError):
        pid.update(float("nan"), 20.0, 30.0)
    with pytest.raises(ValueError):
        Pid(1, 0, 0, out_min=1.0, out_max=1.0)


# -- switching ------------------------------------------------------------------------------------------------


def test_hysteresis_edges_raise_and_lower():
    heat = Hysteresis(on_below=18.0, off_above=20.0)
    assert heat.decide(False, 18.0).on is True  # reaching the threshold switches
    assert heat.decide(False, 18.01).on is False
    assert heat.decide(True, 19.99).on is True
    assert "hold on" in heat.decide(True, 19.0).reason
    assert heat.decide(True, 20.0).on is False
    cool = Hysteresis.band(24.0, 2.0, action="lower")
    assert (cool.on_above, cool.off_below) == (25.0, 23.0)
    assert cool.decide(False, 25.0).on is True
    assert cool.decide(True, 23.5).on is True
    assert cool.decide(True, 23.0).on is False
    with pytest.raises(ValueError):
        Hysteresis(on_below=20.0, off_above=18.0)
    with pytest.raises(ValueError):
        Hysteresis(on_below=18.0, off_below=17.0)


def test_min_on_off_holds_and_releases_on_time():
    pump = MinOnOff(min_on_s=60.0, min_off_s=120.0)
    assert pump.request(True, 0.0).on is True  # no history: switch at once
    held = pump.request(False, 59.9)
    assert held.on is True and held.hold_until_s == 60.0 and "held" in held.reason
    assert pump.request(False, 60.0).on is False  # released exactly at the minimum
    assert pump.request(True, 179.0).on is False
    assert pump.request(True, 180.0).on is True
    forced = pump.request(False, 181.0, force=True)
    assert forced.on is False and "forced" in forced.reason
    assert pump.request(False, 182.0).reason == "already off"


def test_rate_limit_and_ramp():
    vent = RateLimit(2.0, value=0.0, now_s=0.0)
    step = vent.step(100.0, 10.0)
    assert step.value == pytest.approx(20.0) and step.limited
    assert vent.step(100.0, 10.0).value == pytest.approx(20.0)  # no time, no movement
    assert vent.step(25.0, 15.0).value == pytest.approx(25.0) and not vent.step(25.0, 15.0).limited
    assert vent.step(0.0, 16.0).value == pytest.approx(23.0)  # down at the same rate
    vent.seed(80.0, 20.0)  # an override moved it
    assert vent.step(100.0, 21.0).value == pytest.approx(82.0)
    assert RateLimit(1.0).step(42.0, 5.0).value == 42.0

    ramp = Ramp(start=25.0, end=18.0, start_s=100.0, duration_s=7.0)
    assert ramp.at(50.0).value == 25.0
    assert ramp.at(103.5).value == pytest.approx(21.5) and ramp.at(103.5).limited
    assert ramp.at(107.0).value == 18.0 and ramp.at(107.0).reason == "ramp done"


def test_staging_with_hysteresis_between_stages():
    aerators = Staging.even(3, hysteresis=0.05)  # stages on at 1/6, 1/2, 5/6
    assert aerators.decide(0, 0.0).stages == 0
    assert aerators.decide(0, 0.6).stages == 2
    assert aerators.decide(2, 0.47).stages == 2  # inside the hysteresis below level 2
    assert aerators.decide(2, 0.44).stages == 1
    assert aerators.decide(1, 0.49).stages == 1  # not yet at level 2
    assert aerators.decide(1, 1.5).stages == 3  # demand clamped to 1
    assert aerators.decide(3, 0.0).stages == 0
    assert "fell below" in aerators.decide(2, 0.3).reason
    with pytest.raises(ValueError):
        Staging((0.5, 0.4))
    with pytest.raises(ValueError):
        Staging((0.1, 0.5), hysteresis=0.1)


# -- arbitration ----------------------------------------------------------------------------------------------

RECIPE = Decision(40.0, "recipe", "vent for 26 degC day setpoint")


def test_arbitration_order_and_expiry_at_the_exact_time():
    override = Override(100.0, expires_at=1000.0, reason="spraying", issued_by="kim")
    safety = Decision(0.0, "safety", "wind 14 m/s: close vents")
    assert arbitrate(RECIPE, None, None, 0.0) is RECIPE
    d = arbitrate(RECIPE, override, None, 999.999)
    assert (d.target, d.source) == (100.0, "override") and "kim" in d.reason and "spraying" in d.reason
    d = arbitrate(RECIPE, override, None, 1000.0)
    assert (d.target, d.source) == (40.0, "recipe") and "expired" in d.reason
    d = arbitrate(RECIPE, override, safety, 500.0)
    assert (d.target, d.source) == (0.0, "safety") and "wind" in d.reason and "manual" in d.reason


def test_interlocks_resolve_conflicts_with_reasons():
    rules = [Interlock("chiller", "heater", "never heat and chill"), Interlock("vent_close", "vent_open", "motor")]
    targets = {
        "heater": Decision(True, "recipe", "water 17 degC"),
        "chiller": Decision(True, "recipe", "water 27 degC"),
        "vent_open": Decision(True, "override", "tenant opened"),
        "vent_close": Decision(True, "recipe", "rain"),
        "aerator": Decision(True, "recipe", "DO 5 mg/L"),
    }
    out = apply_interlocks(targets, rules)
    assert out["chiller"] is targets["chiller"]  # equal priority: the safer side wins
    assert out["heater"] == Decision(False, "safety", out["heater"].reason)
    assert "interlock with chiller" in out["heater"].reason and "safer side" in out["heater"].reason
    assert out["vent_open"] is targets["vent_open"]  # override outranks recipe
    assert out["vent_close"].target is False and "override outranks recipe" in out["vent_close"].reason
    assert out["aerator"] is targets["aerator"]
    assert targets["heater"].target is True  # input untouched

    numeric = {"heater": Decision(60.0, "safety", "frost"), "chiller": Decision(30.0, "recipe", "hot")}
    out = apply_interlocks(numeric, rules)
    assert out["chiller"].target == 0.0 and "safety outranks recipe" in out["chiller"].reason
    idle = {"heater": Decision(0.0, "recipe", "warm"), "chiller": Decision(30.0, "recipe", "hot")}
    assert apply_interlocks(idle, rules) == idle


def test_clamp_to_hard_limits_with_reason():
    assert clamp_to_limits(RECIPE, 0.0, 80.0) is RECIPE
    high = clamp_to_limits(Decision(95.0, "override", "tenant"), 0.0, 80.0)
    assert high == Decision(80.0, "safety", high.reason) and "hard high limit 80" in high.reason
    assert "tenant" in high.reason
    assert clamp_to_limits(Decision(-5.0, "recipe", "x"), 0.0, 80.0).target == 0.0
    with pytest.raises(TypeError):
        clamp_to_limits(Decision(True, "recipe", "x"), 0.0, 1.0)
