"""Alarms: each zone's book fed from its tick's judgements, the site's book from the historian spool, the
raised and cleared alarms turned into events and the zones' retained alarm lists.

Conditions are dispatched by the rule's kind (a table, one pure function per kind): a new kind of alarm is a
new entry here and a rule in farmcore/alarms.py, never parsing of alarm ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from farmcore.alarms import AlarmBook, AlarmEvent, AlarmKind, LimitRule, Rule, site_rules
from farmcore.runtime.backup import OxygenBackup
from farmcore.runtime.readings import DISAGREE
from farmcore.runtime.records import Recorder
from farmcore.runtime.safety import IDLE
from farmcore.runtime.zone import ZoneRunner


@dataclass(frozen=True)
class Seen:
    """What a zone's alarm conditions are judged from, besides the zone itself."""

    bad: Mapping[str, str]  # this tick's unusable readings and why
    unit_ok: Mapping[str, bool]  # "bus/unit" -> answered the last read
    backup: OxygenBackup | None  # the zone's GPIO oxygen backup


Condition = tuple[bool, Any]  # (the condition holds, the value or detail to show)


def _stale(runner: ZoneRunner, subject: str, seen: Seen) -> Condition:
    track = runner.run.tracks.get(subject)
    idle = track is not None and track.quality == IDLE  # expected between supplies, not a fault
    return subject in seen.bad and not idle, seen.bad.get(subject)


def _fallback(runner: ZoneRunner, subject: str, seen: Seen) -> Condition:
    """The degraded mode acts, or should and cannot."""
    run = runner.run
    if run.fallback_mode != subject:
        return False, None
    why = run.fallback_used[0] if run.fallback_used else run.fallback_note
    return bool(why), why or None


def _stopped(runner: ZoneRunner, subject: str, seen: Seen) -> Condition:
    """The controller reported this tick that it stopped the actuator for safety."""
    why = runner.run.stops.get(subject)
    return why is not None, why


def _disagree(runner: ZoneRunner, subject: str, seen: Seen) -> Condition:
    spread = runner.run.spread.get(subject)
    limit = DISAGREE.get(subject)
    return (spread is not None and limit is not None and spread > limit,
            None if spread is None else f"{spread:.2f} apart")


def _stuck(runner: ZoneRunner, subject: str, seen: Seen) -> Condition:
    flat = runner.run.flat.get(subject)
    return flat is not None, None if flat is None else f"{runner.run.stuck[subject].ref:g} for {flat / 3600:.1f} h"


def _comm_lost(runner: ZoneRunner, subject: str, seen: Seen) -> Condition:
    return not seen.unit_ok.get(subject, True), None


def _feedback(runner: ZoneRunner, subject: str, seen: Seen) -> Condition:
    driver = runner.run.drivers.get(subject)
    return bool(driver is not None and driver.failed), None


def _backup(runner: ZoneRunner, subject: str, seen: Seen) -> Condition:
    return bool(seen.backup is not None and seen.backup.engaged), None


CONDITIONS: dict[AlarmKind, Callable[[ZoneRunner, str, Seen], Condition]] = {
    AlarmKind.STALE_DATA: _stale,
    AlarmKind.FALLBACK: _fallback,
    AlarmKind.CONTROLLER_STOP: _stopped,
    AlarmKind.SENSORS_DISAGREE: _disagree,
    AlarmKind.STUCK_SENSOR: _stuck,
    AlarmKind.COMM_LOST: _comm_lost,
    AlarmKind.FEEDBACK_MISMATCH: _feedback,
    AlarmKind.BACKUP_ENGAGED: _backup,
}


def observe_zone(runner: ZoneRunner, seen: Seen, now_s: float) -> list[AlarmEvent]:
    """Feed the zone's alarm book this tick's conditions; the events raised or cleared."""
    book = runner.run.alarms
    events: list[AlarmEvent] = []
    for rule in book.rules:
        if isinstance(rule, LimitRule):
            events += book.observe_value(rule.id, runner.run.readings.get(rule.quantity), now_s)
            continue
        condition = CONDITIONS.get(rule.kind)
        if condition is not None:
            holds, value = condition(runner, rule.subject, seen)
            events += book.observe(rule.id, holds, now_s, value)
    return events


class Alarms:
    """The site's alarm book (the historian spool's) and the zones' retained lists on MQTT."""

    def __init__(self, recorder: Recorder, rules: list[Rule] | None = None) -> None:
        self.recorder = recorder
        self.site = AlarmBook("_site", rules if rules is not None else site_rules())
        self._spool: dict[str, tuple[bool, str]] = {}  # alarm code -> (raised, detail), from the spool's thread

    def spool_alarm(self, alarm: Any) -> None:
        """The historian spool's alarm callback (its writer thread): noted here, turned into alarms next tick."""
        self._spool[alarm.code] = (alarm.state == "raised", f"{alarm.bytes / max(alarm.max_bytes, 1):.0%} of "
                                   f"{alarm.max_bytes / 2**20:.0f} MiB, {alarm.dropped} points dropped")

    def observe(self, runner: ZoneRunner, seen: Seen, now_s: float) -> None:
        events = observe_zone(runner, seen, now_s)
        for ev in events:
            self.tell(runner, ev)
        if events:
            self.publish(runner)

    def observe_site(self, zones: Iterable[ZoneRunner], now_s: float) -> None:
        events: list[AlarmEvent] = []
        for rule in self.site.rules:
            raised, detail = self._spool.get(rule.id, (False, ""))
            events += self.site.observe(rule.id, raised, now_s, detail or None)
        if not events:
            return
        for runner in zones:
            for ev in events:
                self.tell(runner, ev)
            self.publish(runner)

    def tell(self, runner: ZoneRunner, ev: AlarmEvent) -> None:
        self.recorder.event(runner, f"alarm_{ev.kind}", f"{ev.alarm.id} ({ev.alarm.severity}): "
                            f"{ev.alarm.message_en}", detail={"alarm": ev.alarm.to_entry()})

    def publish(self, runner: ZoneRunner) -> None:
        """The retained alarm list of a zone: its own alarms, then the site's (the spool's, shared by all)."""
        link = self.recorder.link.zones.get(runner.zone.id) if self.recorder.link is not None else None
        if link is not None:
            entries = runner.run.alarms.entries() + self.site.entries()
            runner.run.alarm_count = len(entries)
            self.recorder.publish(lambda: link.set_alarms(entries))

    def active_ids(self, runner: ZoneRunner) -> set[str]:
        return {a.id for a in runner.run.alarms.active()} | {a.id for a in self.site.active()}
