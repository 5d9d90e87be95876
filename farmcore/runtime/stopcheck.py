"""After a stop: did every actuator reach its stop state? Read from the daemon's decisions and drivers.

`SiteDaemon.stop()` decides each actuator's stop state (`stop state off`, ...) and sends what it takes; a
command the node did not take is undone in the driver (so the next tick would resend it). So an actuator is
in its stop state when its last decision is that stop state and its driver holds the target the node took:
a switch commanded as the state says, a vent or screen sent to its end (a timed run ends on the node) or,
for `stop`, standing at a known position; `hold` sends nothing and holds by definition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from farmcore import i18n
from farmcore.runtime.actuators import RetractableDriver
from farmcore.runtime.safety import failsafe_target
from farmcore.runtime.viewmodel import word

if TYPE_CHECKING:
    from farmcore.runtime.daemon import SiteDaemon
    from farmcore.runtime.zone import ZoneRunner


def unconfirmed(runner: ZoneRunner) -> list[tuple[str, str, str]]:
    """(actuator, stop state, why) of each actuator not known to be in its stop state."""
    out = []
    for act in runner.zone.actuators:
        state = act.states()[2]
        driver = runner.run.drivers[act.id]
        decision = runner.run.decisions.get(act.id)
        if decision is None or decision.source != "safety" or decision.reason != f"stop state {state}":
            out.append((act.id, state, "stop never applied"))
            continue
        if state == "hold":
            continue
        if isinstance(driver, RetractableDriver):
            if state == "stop":
                if driver.move is not None or driver.position is None:
                    out.append((act.id, state, "position unknown"))
                continue
            target = failsafe_target(state, "retractable", None)
            if driver.goal != target and not (driver.move is None and driver.position == target):
                out.append((act.id, state, "stop not sent"))
        elif driver.target != (state == "on"):
            out.append((act.id, state, "stop not sent"))
    return out


def stop_report(daemon: SiteDaemon, lang: str | None = None) -> list[str]:
    """One line per zone: all its actuators in their stop state, or which are not and why."""
    lang = lang or i18n.language()
    lines = []
    for zone_id, runner in daemon.zones.items():
        n = len(runner.zone.actuators)
        missing = unconfirmed(runner)
        if not missing:
            lines.append(i18n.t("all in stop state", lang).format(zone=zone_id, n=n))
            continue
        which = ", ".join(f"{a} ({word(s, lang)}: {i18n.t(why, lang)})" for a, s, why in missing)
        lines.append(i18n.t("some not in stop state", lang).format(zone=zone_id, n=n, k=n - len(missing),
                                                                    which=which))
    return lines
