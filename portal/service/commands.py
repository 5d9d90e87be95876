"""A tenant's command from a page, checked before anything is published, and its answer told in Korean and English.

`prepare` turns a page's `CommandRequest` into a farmcore `Command` only when the zone's live state allows it:
the kind is one the portal sends, the zone is online, the target exists there, a setpoint lies inside the
envelope the daemon published (what the desk will accept), an override is confirmed and no longer than the
site's limit. Otherwise a `BadRequest` names the field, the value and what is allowed, and nothing is sent: a
widget's bounds are a convenience, this is the check (the daemon checks again). Tenancy is not decided here:
the facade asks `tenancy.decide` first. `explain` turns the zone's answer into what a farmer reads, with a
Korean sentence for every error code the daemon can give.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from farmcore import i18n
from farmcore.link.commands import FEED_NOW_MAX_KG
from farmcore.link.messages import MAX_REASON, Command, CommandError, ErrorCode, StateMessage
from farmcore.link.zoneclient import CommandResult, new_command
from farmcore.recipe.schema import QUANTITIES
from portal.service.errors import BadRequest, PortalError
from portal.service.live import LiveZone
from portal.service.model import SEOUL, Principal

PORTAL_KINDS = ("setpoint", "override", "release", "feed_now", "ack_alarm")  # never `recipe` from the portal
COMMAND_LIFETIME_S = 60.0  # a command not delivered within a minute never acts (a late broker redelivery)
Status = Literal["applied", "refused", "no_answer", "not_sent"]
UNITS = {"degC": "°C", "%RH": "%", "W/m2": "W/m²", "umol/m2/s": "µmol/m²/s", "deg": "°"}

# What each stable error code (farmcore.link.messages.ErrorCode) means to the person who pressed the button.
ERROR_TEXTS: dict[str, tuple[str, str]] = {
    ErrorCode.TOO_LARGE: ("명령이 너무 커서 제어기가 받지 않았습니다.",
                          "The command was too large for the controller."),
    ErrorCode.MALFORMED_JSON: ("명령 형식이 깨져 제어기가 읽지 못했습니다.",
                               "The controller could not read the command."),
    ErrorCode.INVALID_COMMAND: ("명령 내용이 올바르지 않아 거부되었습니다.",
                                "The command was not valid and was refused."),
    ErrorCode.UNKNOWN_KIND: ("제어기가 알지 못하는 종류의 명령입니다.",
                             "The controller does not know this kind of command."),
    ErrorCode.EXPIRED: ("명령이 유효 시간이 지난 뒤에 도착해 적용되지 않았습니다. 다시 보내 주세요.",
                        "The command arrived after it expired and was not applied. Please send it again."),
    ErrorCode.NOT_YET_VALID: ("포털과 제어기의 시계가 맞지 않아 거부되었습니다. 관리자에게 알려 주세요.",
                              "Refused: the portal's and the controller's clocks disagree. Please tell the "
                              "administrator."),
    ErrorCode.DUPLICATE: ("이미 처리된 명령입니다. 같은 명령은 두 번 적용되지 않습니다.",
                          "This command was already handled; it is never applied twice."),
    ErrorCode.UNKNOWN_TARGET: ("이 구역에 없는 장치나 항목입니다.", "This zone has no such device or setting."),
    ErrorCode.OUT_OF_ENVELOPE: ("레시피가 허용하는 범위를 벗어난 값이라 거부되었습니다.",
                                "Refused: the value is outside what the recipe allows."),
    ErrorCode.OUT_OF_HARD_LIMITS: ("시설의 안전 한계를 벗어난 값이라 거부되었습니다.",
                                   "Refused: the value is outside the site's safety limits."),
    ErrorCode.INVALID_VALUE: ("값이 맞지 않아 거부되었습니다. 값의 종류와 범위, 수동 조작의 최대 시간을 확인해 주세요.",
                              "Refused: the value does not fit. Check its type, its range and the longest "
                              "manual override allowed."),
    ErrorCode.NOT_SUPPORTED: ("이 구역에서는 할 수 없는 명령입니다.", "This zone cannot do that."),
    ErrorCode.UNKNOWN_ALARM: ("해당 경보가 없거나 이미 정상으로 돌아왔습니다.",
                              "There is no such alarm, or it is already back to normal."),
    ErrorCode.UNKNOWN_RECIPE: ("이 구역에서 쓸 수 없는 레시피입니다.", "This recipe is not available to this zone."),
    ErrorCode.INTERNAL_ERROR: ("제어기 내부 오류로 적용되지 않았습니다. 관리자에게 알려 주세요.",
                               "Not applied: the controller had an internal error. Please tell the administrator."),
    ErrorCode.NOT_RUNNING: ("제어기가 멈추는 중이라 적용되지 않았습니다. 구역이 다시 연결되면 보내 주세요.",
                            "Not applied: the controller is stopping. Send it again when the zone is back online."),
    ErrorCode.NOT_PERMITTED: ("이 계정으로는 그 사람의 이름으로 명령을 보낼 수 없습니다.",
                              "This account may not send commands in that person's name."),
}


@dataclass(frozen=True)
class CommandRequest:
    """What a page asks for: `value` is a number for a setpoint or a position, true/false (or "on"/"off",
    "open"/"close") for a switch, kg or None for feed_now; `confirmed` is the override dialog's answer."""

    kind: str
    target: str | None = None
    value: bool | float | str | None = None
    duration_s: float | None = None
    reason: str = ""
    confirmed: bool = False


@dataclass(frozen=True)
class CommandOutcome:
    """What the person reads after pressing the button; `detail` keeps the controller's own words."""

    status: Status
    code: str | None
    ko: str
    en: str
    command_id: str | None = None
    detail: str = ""

    def text(self, lang: str = "ko") -> str:
        return self.ko if lang == "ko" else self.en


def prepare(principal: Principal, zone: LiveZone | None, request: CommandRequest, now: datetime) -> Command:
    """The command to publish for `request`, issued by `principal` at `now`; BadRequest (or PortalError
    `zone_offline`) when the zone's live state says the daemon would refuse it, or a person must not send it."""
    if request.kind == "recipe":
        raise BadRequest("kind", "레시피는 포털에서 바꿀 수 없습니다.", "the recipe cannot be changed from the portal")
    if request.kind not in PORTAL_KINDS:
        raise BadRequest("kind", f"포털에서 보낼 수 있는 명령이 아닙니다: {request.kind!r} ({', '.join(PORTAL_KINDS)})",
                         f"{request.kind!r} is not a command the portal sends ({', '.join(PORTAL_KINDS)})")
    if zone is None or not zone.online or zone.state is None:
        raise PortalError("zone_offline", "구역 제어기가 연결되어 있지 않아 명령을 보내지 않았습니다.",
                          "the zone's controller is offline: the command was not sent")
    reason = request.reason.strip()
    if len(reason) > MAX_REASON:
        raise BadRequest("reason", f"사유는 {MAX_REASON}자까지 쓸 수 있습니다.", f"at most {MAX_REASON} characters")
    state = zone.state
    value, duration = request.value, None
    if request.kind == "setpoint":
        value = _setpoint(state, request)
    elif request.kind == "override":
        value, duration = _override(state, request)
    elif request.kind == "release":
        _release(state, request)
    elif request.kind == "feed_now":
        _feed_now(state, request)
    else:
        _ack_alarm(zone, request)
    try:
        return new_command(request.kind, issued_by=principal.issued_by, target=request.target, value=value,
                           duration_s=duration, reason=reason, expires_in_s=COMMAND_LIFETIME_S, now=now)
    except CommandError as exc:  # a target id no zone can have: our checks let nothing else through
        raise BadRequest("target", "명령을 만들 수 없습니다.", f"not a command: {exc.message}") from None


def explain(result: CommandResult) -> CommandOutcome:
    """The zone's answer as a person reads it: applied, refused (with the code explained) or no answer."""
    ack = result.ack
    if result.outcome == "ok" and ack is not None:
        until = (ack.applied or {}).get("until")
        ko, en = "적용되었습니다.", "Applied."
        if isinstance(until, str):
            local = datetime.fromisoformat(until).astimezone(SEOUL).strftime("%H:%M")
            ko, en = f"적용되었습니다. {local}까지 유지됩니다.", f"Applied, until {local}."
        return CommandOutcome("applied", None, ko, en, result.command_id, ack.message)
    if result.outcome == "rejected" and ack is not None:
        code = str(ack.error)
        ko, en = ERROR_TEXTS.get(code, (f"제어기가 명령을 거부했습니다 ({code}).",  # a code newer than the portal
                                        f"The controller refused the command ({code})."))
        return CommandOutcome("refused", code, ko, en, result.command_id, ack.message)
    return CommandOutcome(
        "no_answer", "malformed" if result.outcome == "malformed" else "no_answer",
        "제어기에서 응답이 없습니다. 적용되었는지 알 수 없으니 구역 상태를 확인해 주세요. "
        "명령은 다시 보내지 않았습니다.",
        "No answer from the controller: it may or may not have been applied. Check the zone's state; the command "
        "was not sent again.", result.command_id, result.problem or "")


def not_sent(error: PortalError) -> CommandOutcome:
    """A command refused here (a bad value, an offline zone, the link down): nothing was published."""
    return CommandOutcome("not_sent", error.code, error.ko, error.en)


# ----------------------------------------------------------------------------------------------- the kinds


def _setpoint(state: StateMessage, request: CommandRequest) -> float:
    q, v = request.target, request.value
    if q is None or q not in state.envelope:
        name = _name(q or "-")
        raise BadRequest("target", f"레시피에서 조정할 수 없는 항목입니다: {name[0]}",
                         f"the recipe lets no tenant adjust {name[1]}")
    lo, hi = state.envelope[q]
    unit = _unit(q)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise BadRequest("value", f"숫자를 입력해 주세요 ({lo:g}~{hi:g}{unit}).", f"a number, {lo:g} to {hi:g}{unit}")
    if not lo <= v <= hi:
        name = _name(q)
        raise BadRequest("value", f"허용 범위를 벗어난 값입니다: {name[0]} {v:g}{unit} (허용 {lo:g}~{hi:g}{unit})",
                         f"{name[1]} {v:g}{unit} is outside the allowed range {lo:g} to {hi:g}{unit}")
    return float(v)


def _override(state: StateMessage, request: CommandRequest) -> tuple[bool | float | str, float]:
    a, v, d = request.target, request.value, request.duration_s
    actuator = state.actuators.get(a or "")
    if actuator is None:
        raise BadRequest("target", f"이 구역에 {a!r} 장치가 없습니다.", f"this zone has no actuator {a!r}")
    if actuator.kind == "retractable":
        if not (v in ("open", "close") or (isinstance(v, int | float) and not isinstance(v, bool)
                                           and math.isfinite(v) and 0 <= v <= 100)):
            raise BadRequest("value", "열림 정도는 0~100% 사이로 정해 주세요.", "a position from 0 to 100 %")
    elif actuator.kind in ("switch", "nutrient"):
        if not (isinstance(v, bool) or v in ("on", "off")):
            raise BadRequest("value", "켜기 또는 끄기를 골라 주세요.", "on or off")
    else:
        raise BadRequest("target", "이 장치는 수동으로 조작할 수 없습니다.", f"{a} cannot be overridden")
    limit = state.max_override_s
    if isinstance(d, bool) or not isinstance(d, int | float) or not math.isfinite(d) or not 1 <= d <= limit:
        shown = d if isinstance(d, int | float) and not isinstance(d, bool) else "-"
        raise BadRequest("duration_s", f"수동 조작 시간은 1초에서 {_span(limit, 'ko')}까지 정할 수 있습니다 "
                                       f"(입력: {shown}초).",
                         f"override of {shown} s: from 1 s to {_span(limit, 'en')} (this site's limit)")
    if not request.confirmed:
        raise BadRequest("confirmed", "장치를 직접 조작하려면 확인이 필요합니다.",
                         "an override needs your confirmation")
    return v, float(d)  # type: ignore[return-value]  # checked above: bool, "on"/"off"/"open"/"close" or a number


def _release(state: StateMessage, request: CommandRequest) -> None:
    t = request.target or ""
    if t not in state.actuators and t not in state.setpoints and t not in state.envelope:
        raise BadRequest("target", f"이 구역에 {t!r} 장치나 설정이 없습니다.",
                         f"this zone has no actuator or setting {t!r}")


def _feed_now(state: StateMessage, request: CommandRequest) -> None:
    if state.kind != "tank" or not any(a.role == "feeder" for a in state.actuators.values()):
        raise BadRequest("kind", "급이기가 있는 수조에서만 바로 급이할 수 있습니다.",
                         "only a tank with a feeder can feed now")
    kg = request.value
    if kg is not None and (isinstance(kg, bool) or not isinstance(kg, int | float) or not math.isfinite(kg)
                           or not 0 < kg <= FEED_NOW_MAX_KG):
        raise BadRequest("value", f"급이량은 0보다 크고 {FEED_NOW_MAX_KG:g} kg 이하로 정해 주세요.",
                         f"feed in kg, above 0 and at most {FEED_NOW_MAX_KG:g}")


def _ack_alarm(zone: LiveZone, request: CommandRequest) -> None:
    alarm = next((a for a in zone.alarms if a.id == request.target), None)
    if alarm is None:
        raise BadRequest("target", "해당 경보가 없거나 이미 정상으로 돌아왔습니다.",
                         f"no active alarm {request.target!r}")
    if alarm.acked:
        by = (alarm.acked_by or "").removeprefix("portal:")
        raise BadRequest("target", f"{by} 님이 이미 확인한 경보입니다.", f"already acknowledged by {by}")


def _name(quantity: str) -> tuple[str, str]:
    entry = i18n.TEXTS.get(quantity)
    return (entry["ko"], entry["en"]) if entry else (quantity, quantity)


def _unit(quantity: str) -> str:
    """The setpoint's unit as people write it (setpoints are in the recipe's units)."""
    unit = QUANTITIES[quantity].unit if quantity in QUANTITIES else ""
    shown = UNITS.get(unit, unit)
    return f" {shown}" if shown and shown[0].isalnum() else shown


def _span(seconds: float, lang: str) -> str:
    """4시간 / 4 h; 90분 / 90 min."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g}시간" if lang == "ko" else f"{seconds / 3600:g} h"
    return f"{seconds / 60:g}분" if lang == "ko" else f"{seconds / 60:g} min"
