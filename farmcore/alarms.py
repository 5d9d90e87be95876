"""Alarms of one zone: raised and cleared with delays and hysteresis, acknowledged by command.

Alarms that cry wolf get switched off (a disarmed alarm killed the fish it was meant to save; anchors.md §3,
§5 gap 14), so every rule has a raise delay (the condition must hold that long), a clear delay (it must be
gone that long) and, for limits, a deadband. Chatter is rate limited: an alarm that re-raises within
`min_repeat_s` of its last announced raise does not announce again; its `repeats` count goes up instead,
and if it is still active when the window ends it is announced then, so nothing is lost and the event
stream still alternates raised/cleared per alarm.

Acknowledgement follows ISA-18.2: acknowledging silences an alarm but does not clear it (only its condition
going away does), and an alarm whose condition cleared before anyone acknowledged it stays listed as
"cleared, unacknowledged" until it is acknowledged, so a night-time excursion is still seen in the morning.
Info alarms are the exception: they leave the list when they clear.

Everything is pure: the caller passes the clock (epoch seconds, the daemon's `clock.now().timestamp()`),
and `state()`/`restore()` carry the book across a restart as JSON.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

import msgspec

from farmcore.link.payloads import AlarmEntry, AlarmText
from farmcore.runtime.plausibility import flatness_for
from farmcore.runtime.readings import DISAGREE, combined_quantities
from farmcore.site import ZoneDef


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


SEVERITY_RANK: dict[Severity, int] = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


class AlarmKind(StrEnum):
    STALE_DATA = "stale_data"
    COMM_LOST = "comm_lost"
    LIMIT_EXCEEDED = "limit_exceeded"
    FEEDBACK_MISMATCH = "feedback_mismatch"
    SPOOL_NEARLY_FULL = "spool_nearly_full"
    SPOOL_FULL = "spool_full"
    BACKUP_ENGAGED = "backup_engaged"
    AERATOR_FAILED = "aerator_failed"
    COMMAND_FAILED = "command_failed"
    STUCK_SENSOR = "stuck_sensor"
    SENSORS_DISAGREE = "sensors_disagree"
    FALLBACK = "fallback"  # an actuator driven by its controller's degraded mode (a frost guard)
    CONTROLLER_STOP = "controller_stop"  # an actuator its controller stopped for safety (a supply out of its band)
    GENERIC = "generic"


# [engineering choice] one raised event per alarm per 10 minutes at most: a DO probe that flickers around
# its limit pages the farmer once, not every tick.
DEFAULT_MIN_REPEAT_S = 600.0

# Korean names of the quantities in messages (anything else is shown by its key).
QUANTITY_KO: dict[str, str] = {
    "air_temperature": "실내 온도", "water_temperature": "수온", "relative_humidity": "상대습도",
    "co2": "CO2 농도", "dissolved_oxygen": "용존산소", "dissolved_oxygen_saturation": "용존산소 포화도",
    "ph": "pH", "ec": "EC", "solar_radiation": "일사량", "par": "광량(PAR)", "soil_moisture": "토양수분",
}


@dataclass(frozen=True)
class AlarmRule:
    """A boolean condition the caller judges (stale track, node silent, actuator `failed`, spool event)."""

    id: str  # stable: it is the alarm id users acknowledge, e.g. "stale_data:air_temperature"
    kind: AlarmKind
    severity: Severity
    raise_delay_s: float = 0.0  # the condition must hold this long before the alarm is raised
    clear_delay_s: float = 0.0  # the condition must be gone this long before the alarm clears
    message_ko: str = "{quantity}: {value}"  # templates: {value}, {limit}, {quantity}, {zone}
    message_en: str = "{quantity}: {value}"
    subject: str = ""  # what {quantity} stands for: a quantity, an actuator, a node
    min_repeat_s: float = DEFAULT_MIN_REPEAT_S


@dataclass(frozen=True)
class LimitRule:
    """A reading against low/high limits; one rule gives the alarms `<id>:low` and `<id>:high`.

    Hysteresis: the low alarm's condition starts below `low` and ends only above `low + deadband`
    (the high one above `high`, ending below `high - deadband`), so a value wobbling on the limit does not chatter.
    """

    id: str  # e.g. "limit:dissolved_oxygen"
    quantity: str
    low: float | None = None
    high: float | None = None
    deadband: float = 0.0
    severity: Severity = Severity.WARNING
    raise_delay_s: float = 0.0
    clear_delay_s: float = 0.0
    # templates: {value}, {limit}, {quantity}, {zone}, {bound} (low/high, 하한/상한), {op} (< or >)
    message_ko: str = "{quantity} {bound} 이탈: {value} {op} {limit}"
    message_en: str = "{quantity} beyond {bound} limit: {value} {op} {limit}"
    min_repeat_s: float = DEFAULT_MIN_REPEAT_S

    kind = AlarmKind.LIMIT_EXCEEDED

    def __post_init__(self) -> None:
        if self.low is None and self.high is None:
            raise ValueError(f"limit rule {self.id!r} has neither low nor high")
        if self.deadband < 0:
            raise ValueError(f"limit rule {self.id!r}: deadband must not be negative")

    def alarm_ids(self) -> list[str]:
        return [f"{self.id}:{side}" for side, limit in (("low", self.low), ("high", self.high)) if limit is not None]


Rule = AlarmRule | LimitRule


def iso_utc(t: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC with Z (the portal and the historian parse it as is)."""
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class _Vars(dict):
    """Template variables; a missing one renders empty rather than failing the alarm."""

    def __missing__(self, key: str) -> str:
        return ""


@dataclass
class Alarm:
    """One alarm's state; the record is kept per id and reused by later occurrences."""

    id: str
    zone: str
    kind: AlarmKind
    severity: Severity
    raised_at: float | None = None  # start of the current occurrence (of the first, while it chatters)
    cleared_at: float | None = None  # None while active
    acked_by: str | None = None
    acked_at: float | None = None
    value: float | str | None = None  # at raise
    message_ko: str = ""
    message_en: str = ""
    active: bool = False  # the condition is present (after delays)
    repeats: int = 0  # re-raises inside the chatter window, not announced
    announced: bool = False  # this occurrence's raise went out as an event
    announced_at: float | None = None  # when the last raised event went out

    @property
    def acked(self) -> bool:
        return self.acked_at is not None

    @property
    def listed(self) -> bool:
        """In the retained list: active, or cleared but unacknowledged (ISA-18.2 'return to normal unack')."""
        if self.active:
            return True
        return self.raised_at is not None and not self.acked and self.severity != Severity.INFO

    @property
    def status(self) -> str:
        if self.active:
            return "acknowledged" if self.acked else "unacknowledged"
        return "cleared_unacknowledged" if self.listed else "normal"

    def to_entry(self) -> AlarmEntry:
        """The entry of the retained `alarms` list (and the `alarm` of an alarm event)."""
        return AlarmEntry(
            id=self.id, zone=self.zone, kind=str(self.kind), severity=str(self.severity),
            status=self.status, active=self.active, acked=self.acked,
            raised_at=iso_utc(self.raised_at), cleared_at=iso_utc(self.cleared_at),
            acked_by=self.acked_by, acked_at=iso_utc(self.acked_at),
            value=self.value, repeats=self.repeats,
            message=AlarmText(ko=self.message_ko, en=self.message_en),
        )

    def to_dict(self) -> dict[str, Any]:
        """`to_entry` as plain JSON values."""
        return msgspec.to_builtins(self.to_entry())


@dataclass(frozen=True)
class AlarmEvent:
    kind: Literal["raised", "cleared", "acked"]
    alarm: Alarm  # a snapshot: later changes to the book do not show through

    def to_dict(self) -> dict[str, Any]:
        return {"type": f"alarm_{self.kind}", "alarm": self.alarm.to_dict()}


@dataclass
class _Track:
    """The condition as last seen (after hysteresis) and since when, for the delays."""

    condition: bool = False
    since: float | None = None


@dataclass
class AlarmBook:
    """The alarms of one zone (or of the site, for the spool): feed it conditions every tick."""

    zone: str
    rules: list[Rule] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rules: dict[str, Rule] = {}
        self._by_alarm: dict[str, tuple[Rule, str | None]] = {}  # alarm id -> (rule, side)
        self._alarms: dict[str, Alarm] = {}
        self._tracks: dict[str, _Track] = {}
        self.set_rules(self.rules)

    def set_rules(self, rules: list[Rule]) -> None:
        """Replace the rules (site reload); alarms of rules that are gone are dropped."""
        by_rule: dict[str, Rule] = {}
        by_alarm: dict[str, tuple[Rule, str | None]] = {}
        for rule in rules:
            if rule.id in by_rule:
                raise ValueError(f"alarm rule {rule.id!r} appears twice in zone {self.zone!r}")
            by_rule[rule.id] = rule
            if isinstance(rule, LimitRule):
                for alarm_id in rule.alarm_ids():
                    by_alarm[alarm_id] = (rule, alarm_id.rsplit(":", 1)[1])
            else:
                by_alarm[rule.id] = (rule, None)
        self.rules, self._rules, self._by_alarm = list(rules), by_rule, by_alarm
        for gone in [a for a in self._alarms if a not in by_alarm]:
            del self._alarms[gone]
        for gone in [a for a in self._tracks if a not in by_alarm]:
            del self._tracks[gone]

    # -- feeding ---------------------------------------------------------------------------------------

    def observe(self, rule_id: str, condition: bool, now_s: float, value: float | str | None = None
                ) -> list[AlarmEvent]:
        """One observation of a boolean rule's condition; the events it caused."""
        rule = self._rules.get(rule_id)
        if not isinstance(rule, AlarmRule):
            raise KeyError(f"no boolean alarm rule {rule_id!r} in zone {self.zone!r}")
        return self._step(rule_id, rule, None, bool(condition), now_s, value)

    def observe_value(self, limit_rule_id: str, value: float | None, now_s: float) -> list[AlarmEvent]:
        """One reading against a limit rule. None or NaN (a bad reading) changes nothing: stale data is its
        own alarm, and a limit alarm should neither raise nor clear on no information."""
        rule = self._rules.get(limit_rule_id)
        if not isinstance(rule, LimitRule):
            raise KeyError(f"no limit rule {limit_rule_id!r} in zone {self.zone!r}")
        if value is None or not math.isfinite(value):
            return []
        value = float(value)
        events: list[AlarmEvent] = []
        if rule.low is not None:
            alarm_id = f"{rule.id}:low"
            latched = self._track(alarm_id).condition
            condition = value <= rule.low + rule.deadband if latched else value < rule.low
            events += self._step(alarm_id, rule, "low", condition, now_s, value)
        if rule.high is not None:
            alarm_id = f"{rule.id}:high"
            latched = self._track(alarm_id).condition
            condition = value >= rule.high - rule.deadband if latched else value > rule.high
            events += self._step(alarm_id, rule, "high", condition, now_s, value)
        return events

    def _track(self, alarm_id: str) -> _Track:
        return self._tracks.setdefault(alarm_id, _Track())

    def _step(self, alarm_id: str, rule: Rule, side: str | None, condition: bool, now_s: float,
              value: float | str | None) -> list[AlarmEvent]:
        track = self._track(alarm_id)
        if condition != track.condition or track.since is None:
            track.condition, track.since = condition, now_s
        held = now_s - track.since
        alarm = self._alarms.get(alarm_id)
        if condition:
            if alarm is None or not alarm.active:
                return self._raise(alarm_id, rule, side, now_s, value) if held >= rule.raise_delay_s else []
            return self._late_announce(alarm, rule, now_s)
        if alarm is not None and alarm.active and held >= rule.clear_delay_s:
            return self._clear(alarm, now_s)
        return []

    def _raise(self, alarm_id: str, rule: Rule, side: str | None, now_s: float,
               value: float | str | None) -> list[AlarmEvent]:
        alarm = self._alarms.get(alarm_id)
        if alarm is None:
            alarm = self._alarms[alarm_id] = Alarm(alarm_id, self.zone, rule.kind, rule.severity)
        chatter = alarm.announced_at is not None and now_s - alarm.announced_at < rule.min_repeat_s
        alarm.active, alarm.cleared_at = True, None
        alarm.acked_by = alarm.acked_at = None  # a new occurrence needs its own acknowledgement
        alarm.value = value
        alarm.message_ko, alarm.message_en = self._messages(rule, side, value)
        if chatter:
            alarm.repeats += 1
            alarm.announced = False
            if alarm.raised_at is None:
                alarm.raised_at = now_s
            return []
        alarm.raised_at, alarm.repeats = now_s, 0
        alarm.announced, alarm.announced_at = True, now_s
        return [AlarmEvent("raised", replace(alarm))]

    def _late_announce(self, alarm: Alarm, rule: Rule, now_s: float) -> list[AlarmEvent]:
        """A re-raise swallowed as chatter that is still active when the window ends is announced now."""
        if alarm.announced or (alarm.announced_at is not None and now_s - alarm.announced_at < rule.min_repeat_s):
            return []
        alarm.announced, alarm.announced_at = True, now_s
        return [AlarmEvent("raised", replace(alarm))]

    def _clear(self, alarm: Alarm, now_s: float) -> list[AlarmEvent]:
        alarm.active, alarm.cleared_at = False, now_s
        if not alarm.announced:  # its raise was never announced, so neither is its clear
            return []
        alarm.announced = False
        return [AlarmEvent("cleared", replace(alarm))]

    def _messages(self, rule: Rule, side: str | None, value: float | str | None) -> tuple[str, str]:
        subject = rule.quantity if isinstance(rule, LimitRule) else rule.subject
        limit = None if side is None else (rule.low if side == "low" else rule.high)
        common = {"value": _fmt(value), "limit": _fmt(limit), "zone": self.zone,
                  "op": {"low": "<", "high": ">"}.get(side or "", "")}
        ko = _Vars(common, quantity=QUANTITY_KO.get(subject, subject), bound={"low": "하한", "high": "상한"}.get(
            side or "", ""))
        en = _Vars(common, quantity=subject, bound=side or "")
        return rule.message_ko.format_map(ko), rule.message_en.format_map(en)

    # -- acknowledgement and the list ------------------------------------------------------------------

    def ack(self, alarm_id: str, by: str, now_s: float) -> tuple[AlarmEvent | None, str]:
        """Acknowledge a listed alarm: (event, "") or (None, why not). The command layer answers a refusal
        with `unknown_alarm`; acknowledging twice is refused so the second operator learns who was first."""
        alarm = self._alarms.get(alarm_id)
        if alarm is None and alarm_id not in self._by_alarm:
            return None, f"unknown alarm {alarm_id!r} in zone {self.zone!r}"
        if alarm is None or not alarm.listed:
            return None, f"alarm {alarm_id!r} is not active"
        if alarm.acked:
            return None, f"alarm {alarm_id!r} already acknowledged by {alarm.acked_by} at {iso_utc(alarm.acked_at)}"
        alarm.acked_by, alarm.acked_at = by, now_s
        return AlarmEvent("acked", replace(alarm)), ""

    def get(self, alarm_id: str) -> Alarm | None:
        return self._alarms.get(alarm_id)

    def active(self) -> list[Alarm]:
        """The retained list: active alarms and cleared unacknowledged ones, critical first, then oldest first
        (a list that does not reshuffle as new alarms arrive, with the longest-standing problem on top)."""
        listed = [a for a in self._alarms.values() if a.listed]
        return sorted(listed, key=lambda a: (SEVERITY_RANK[a.severity], a.raised_at or 0.0, a.id))

    def entries(self) -> tuple[AlarmEntry, ...]:
        """This book's part of the retained `alarms` topic (a zone's list is its own, then the site's)."""
        return tuple(a.to_entry() for a in self.active())

    def to_list(self) -> list[dict[str, Any]]:
        """`entries` as plain JSON values."""
        return [a.to_dict() for a in self.active()]

    # -- persistence -----------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """JSON-safe; epoch seconds kept as numbers so nothing is lost in a round trip."""
        alarms = []
        for alarm in self._alarms.values():
            if alarm.announced_at is None and alarm.raised_at is None:
                continue
            record = asdict(alarm)
            record["kind"], record["severity"] = str(alarm.kind), str(alarm.severity)
            alarms.append(record)
        return {"zone": self.zone, "version": 1, "alarms": alarms}

    def restore(self, state: dict[str, Any], now_s: float) -> None:
        """Take back a saved book. Alarms of rules no longer in the site are dropped; a restored active alarm
        counts its condition as present since now, so it clears only after a full clear delay of good data."""
        for record in state.get("alarms", []):
            entry = self._by_alarm.get(record.get("id", ""))
            if entry is None:
                continue
            rule = entry[0]
            fields = {k: record[k] for k in Alarm.__dataclass_fields__ if k in record}
            alarm = Alarm(**{**fields, "zone": self.zone, "kind": rule.kind, "severity": rule.severity})
            self._alarms[alarm.id] = alarm
            if alarm.active:
                self._tracks[alarm.id] = _Track(condition=True, since=now_s)


# -- the standard rule set -----------------------------------------------------------------------------

# Quantities whose loss or excursion can kill the stock within minutes (fish) or hours (a winter house).
CRITICAL_QUANTITIES = frozenset({"dissolved_oxygen", "air_temperature", "water_temperature"})
# Roles whose failure to follow a command is an emergency (no oxygen); the rest are warnings.
CRITICAL_ROLES = frozenset({"aerator", "o2_valve", "heater"})
# Roles a controller may stop for safety, with the alarm's texts ({quantity}: the actuator id, {value}: why): a
# nutrient node whose supply EC or pH left its safe band (farmctl/strategies/fertigation.py). Critical: the crop
# gets no water from that node until someone fixes the tanks.
STOP_TEXTS: dict[str, tuple[str, str]] = {
    "fertigation": ("양액기 {quantity} 공급 중지: 공급액 EC·pH가 안전 범위를 벗어남 ({value}). 양액 탱크와 "
                    "약품 주입을 점검하세요",
                    "nutrient node {quantity} stopped: supply EC/pH outside its safe band ({value}); check the "
                    "stock tanks and the dosing"),
}
# Quantities that cannot go below zero: a hard limit min <= 0 there is no alarm.
NON_NEGATIVE = frozenset({"co2", "relative_humidity", "dissolved_oxygen", "dissolved_oxygen_saturation", "ec",
                          "par", "solar_radiation", "soil_moisture", "current", "wind_speed"})
# [engineering choice] deadbands: about a sensor's accuracy plus its normal wobble.
DEADBAND: dict[str, float] = {
    "air_temperature": 1.0, "water_temperature": 0.5, "relative_humidity": 5.0, "co2": 100.0,
    "dissolved_oxygen": 0.5, "dissolved_oxygen_saturation": 5.0, "ph": 0.2, "ec": 0.2,
}
# Low DO alarm for a tank whose site gives no DO limit: the marine growth criterion 4.8 mg/L rounded up (US EPA
# 2000, EPA-822-R-00-012), as the fish recipes' minimum_mg_l; above the backup relay's critical 3 mg/L
# (runtime/backup.py), so the farmer hears before the backup has to act.
DEFAULT_DO_LOW_MG_L = 5.0

_STALE_KO = "{quantity} 측정값 없음 또는 불량: {value}"
_STALE_EN = "{quantity} reading stale or bad: {value}"


def standard_rules(zone: ZoneDef) -> list[Rule]:
    """The rules every zone gets from its site definition; the daemon feeds them each tick."""
    rules: list[Rule] = []
    readings = {s.key: s.quantity for s in zone.sensors}
    for key, quantity in readings.items():
        critical = quantity in CRITICAL_QUANTITIES
        # [engineering choice] the track is already judged stale only after stale_after_s; 30 s more keeps
        # one out-of-range glitch from alarming, and a minute of good data before clearing avoids flapping.
        # DO is raised at once: the backup relay is acting on it already.
        rules.append(AlarmRule(
            f"stale_data:{key}", AlarmKind.STALE_DATA, Severity.CRITICAL if critical else Severity.WARNING,
            raise_delay_s=0.0 if quantity == "dissolved_oxygen" else 30.0, clear_delay_s=60.0,
            message_ko=_STALE_KO, message_en=_STALE_EN, subject=key))
    for sensor in zone.sensors:
        if flatness_for(sensor.quantity, sensor.resolution, sensor.stuck_after_s) is None:
            continue
        # the flat time is the delay already; it clears as soon as the value moves
        rules.append(AlarmRule(
            f"stuck:{sensor.key}", AlarmKind.STUCK_SENSOR,
            Severity.CRITICAL if sensor.quantity in CRITICAL_QUANTITIES else Severity.WARNING,
            subject=sensor.key, message_ko="센서 {quantity} 값이 멈춤 (고장 의심): {value}",
            message_en="sensor {quantity} stuck (suspect a fault): {value}"))
    for quantity, keys in combined_quantities(zone).items():
        if len(keys) > 1 and quantity in DISAGREE:
            # [engineering choice] ten minutes apart before it is said, a minute together before it clears
            rules.append(AlarmRule(
                f"disagree:{quantity}", AlarmKind.SENSORS_DISAGREE, Severity.WARNING, raise_delay_s=600.0,
                clear_delay_s=60.0, subject=quantity, message_ko="{quantity} 센서끼리 값이 다름 (하나가 고장): {value}",
                message_en="{quantity} sensors disagree (one of them is wrong): {value}"))
    units = sorted({s.unit for s in zone.sensors} | {a.unit for a in zone.actuators})
    for unit in units:
        # [engineering choice] 60 s: several ticks without an answer (one lost frame is not a lost node).
        rules.append(AlarmRule(
            f"comm_lost:{zone.bus}:{unit}", AlarmKind.COMM_LOST, Severity.CRITICAL,
            raise_delay_s=60.0, clear_delay_s=60.0, subject=f"{zone.bus}/{unit}",
            message_ko="노드 {quantity} 통신 두절 ({value})", message_en="node {quantity} not answering ({value})"))
    quantities = set(readings.values())
    limits = {q: (r.min, r.max) for q, r in zone.hard_limits.items() if q in quantities}
    if zone.kind == "tank" and "dissolved_oxygen" in quantities and "dissolved_oxygen" not in limits:
        limits["dissolved_oxygen"] = (DEFAULT_DO_LOW_MG_L, None)
    for quantity, (low, high) in sorted(limits.items()):
        if low is not None and low <= 0 and quantity in NON_NEGATIVE:
            low = None
        if low is None and high is None:
            continue
        span = (high - low) if low is not None and high is not None else abs(low if low is not None else high)
        critical = quantity in CRITICAL_QUANTITIES
        # [engineering choice] a minute beyond the limit before raising (30 s for DO), two minutes back
        # inside the deadband before clearing.
        rules.append(LimitRule(
            f"limit:{quantity}", quantity, low=low, high=high, deadband=DEADBAND.get(quantity, 0.02 * span),
            severity=Severity.CRITICAL if critical else Severity.WARNING,
            raise_delay_s=30.0 if quantity == "dissolved_oxygen" else 60.0, clear_delay_s=120.0))
    for act in zone.actuators:
        # [engineering choice] the driver's `failed` flag already needs repeated mismatching reads: raise at
        # once; clear after 30 s of agreement.
        rules.append(AlarmRule(
            f"feedback_mismatch:{act.id}", AlarmKind.FEEDBACK_MISMATCH,
            Severity.CRITICAL if act.role in CRITICAL_ROLES else Severity.WARNING,
            raise_delay_s=0.0, clear_delay_s=30.0, subject=act.id,
            message_ko="구동기 {quantity} 상태가 명령과 다름 ({value})",
            message_en="actuator {quantity} does not follow its command ({value})"))
    for act in zone.actuators:
        if act.role in STOP_TEXTS:
            ko, en = STOP_TEXTS[act.role]
            # the controller confirms the condition before it reports it: raised and cleared with the report
            rules.append(AlarmRule(f"controller_stop:{act.id}", AlarmKind.CONTROLLER_STOP, Severity.CRITICAL,
                                   subject=act.id, message_ko=ko, message_en=en))
    frost = zone.frost_guard
    if zone.kind == "greenhouse" and any(a.role == "heater" for a in zone.actuators) and (frost is None or
                                                                                       frost.enabled):
        rules.append(AlarmRule(
            "frost_guard", AlarmKind.FALLBACK, Severity.CRITICAL, subject="frost_guard",
            message_ko="실내 온도를 읽을 수 없어 외기 온도로 난방 중 (동해 방지): {value}",
            message_en="no inside temperature: heating by the outside temperature (frost guard): {value}"))
    if zone.oxygen_backup is not None:
        rules.append(AlarmRule(
            "backup_engaged", AlarmKind.BACKUP_ENGAGED, Severity.CRITICAL, subject="oxygen_backup",
            message_ko="비상 산소 공급 작동: {value}", message_en="oxygen backup engaged: {value}"))
    return rules


def site_rules() -> list[Rule]:
    """The site's own rules (one historian spool per site): for the site-level book. The spool's 80 %/70 %
    raise/clear is its own hysteresis, so no delays here."""
    return [
        AlarmRule("spool_nearly_full", AlarmKind.SPOOL_NEARLY_FULL, Severity.WARNING, subject="spool",
                  message_ko="기록 버퍼 용량 부족 (서버 연결 확인): {value}",
                  message_en="historian spool nearly full (check the server link): {value}"),
        AlarmRule("spool_full", AlarmKind.SPOOL_FULL, Severity.CRITICAL, subject="spool",
                  message_ko="기록 버퍼 가득 참, 오래된 기록 삭제 중: {value}",
                  message_en="historian spool full, oldest points dropped: {value}"),
    ]
