"""Dead-man leases (issue 14 item 7): ON as a short timed run renewed every tick, so a node whose daemon died
switches the actuator off by itself."""

from __future__ import annotations

from farmcore.runtime.actuators import Command, SwitchDriver


def test_a_leased_on_goes_out_as_a_timed_run_renewed_every_tick():
    d = SwitchDriver(lease_s=30, renew_s=10)
    assert d.plan(True, 0) == Command("timed-on", 30)
    sent = [d.plan(True, t) for t in range(10, 61, 10)]
    assert sent == [Command("timed-on", 30, why="dead-man lease renewed", renewal=True)] * 6, "one renewal a tick"
    assert d.plan(True, 64) is None, "not twice in a tick"
    assert d.plan(False, 70) == Command("off")
    assert d.plan(False, 80) is None, "nothing to renew when off"


def test_a_tick_a_little_early_or_late_still_renews_in_time():
    d = SwitchDriver(lease_s=30, renew_s=10)
    d.plan(True, 0)
    assert d.plan(True, 9.2) is not None and d.plan(True, 21) is not None


def test_a_dose_is_leased_up_to_its_end_and_not_restarted():
    d = SwitchDriver(lease_s=30, renew_s=10)
    assert d.plan(True, 0, run_s=75) == Command("timed-on", 30)
    assert [d.plan(True, t, run_s=75).time_s for t in (10, 20, 30, 40, 50, 60, 70)] == [30, 30, 30, 30, 25, 15, 5]
    assert d.plan(True, 80, run_s=75) is None, "the dose ended: not restarted until the wish goes off"
    assert d.commanded is False


def test_without_a_lease_on_is_plain_on():
    d = SwitchDriver()
    assert d.plan(True, 0) == Command("on")
    assert d.plan(True, 10) is None


def test_after_a_restart_a_leased_on_is_renewed_at_once():
    before = SwitchDriver(lease_s=30, renew_s=10)
    before.plan(True, 0)
    after = SwitchDriver(lease_s=30, renew_s=10)
    after.restore(before.state())
    assert after.plan(True, 5) == Command("timed-on", 30, why="dead-man lease renewed", renewal=True)


def test_a_leased_switch_whose_feedback_stays_off_is_reported_failed():
    """Each renewal is a resend: after two resends' worth of disagreeing reads the driver says it failed."""
    d = SwitchDriver(lease_s=30, renew_s=10)
    d.plan(True, 0)
    for t in range(10, 200, 10):
        d.plan(True, t, feedback_on=False)
    assert d.failed and d.mismatches >= 6
    d.plan(True, 200, feedback_on=True)
    assert not d.failed and d.mismatches == 0


def test_a_lease_switched_off_by_a_reload_goes_back_to_plain_on():
    d = SwitchDriver(lease_s=30, renew_s=10)
    d.plan(True, 0)
    d.lease_s = None  # what a reload without the lease leaves behind, renewal still due
    assert d.renew(10) == Command("on", why="dead-man lease renewed", renewal=True)
    assert d.plan(True, 20) is None


def test_renewals_go_out_first_and_plan_does_not_repeat_them():
    d = SwitchDriver(lease_s=30, renew_s=10)
    d.plan(True, 0)
    assert d.renew(4) is None, "not yet due (half a tick: a tick a little early still renews)"
    assert d.renew(10) is not None
    assert d.plan(True, 10) is None, "already renewed in this tick"
