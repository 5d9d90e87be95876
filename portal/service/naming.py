"""Names a farmer reads for what a state message calls by id: an actuator, a reading that is no quantity of the
vocabulary, a device's KS X 3267 status, and what a command asked for.

Why: ids (`heater`, `aerator_1_current`) and the standard's status names (`READY`, `ON`) are the wire's words, and
a tenant reading "난방기 heater · 응답 READY" learns nothing from the second word of each pair. An actuator is
called by its role (`난방기`), told apart from another of the same role by its number or side (`폭기기 1`, `측창
왼쪽`) and only as a last resort by its id; a reading such as `aerator_1_current` is its actuator's name and its
quantity (`폭기기 1 전류`); an id nothing here can name is shown as it is, never hidden.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping

from farmcore import i18n
from farmcore.link.payloads import ActuatorEntry
from portal.service import texts
from portal.service.commands import CommandRequest

# every actuator role the vocabulary names, longest first (so `side_vent` is tried before a shorter role)
ROLES = sorted((k.removeprefix("role:") for k in i18n.TEXTS if k.startswith("role:")), key=len, reverse=True)
_UNKNOWN_STATUS = re.compile(r"^UNKNOWN_(\d+)$")


def _known(word: str) -> bool:
    return word in texts.TEXTS or word in i18n.TEXTS


def _distinction(act_id: str, role: str, lang: str) -> str | None:
    """What tells `act_id` apart from another actuator of `role`: its number (`aerator_2` -> `2`) or its side
    (`side_vent_left` -> `왼쪽`); None when the id says neither."""
    if not act_id.startswith(role + "_"):
        return None
    rest = act_id[len(role) + 1:]
    if rest.isdigit():
        return str(int(rest))
    return texts.t(f"side:{rest}", lang) if f"side:{rest}" in texts.TEXTS else None


def actuator_names(actuators: Mapping[str, ActuatorEntry], lang: str) -> dict[str, str]:
    """Every actuator of a zone by the name a person reads: its role's name, with its number or side only when
    another actuator shares the role, and its id in brackets only when the id says neither."""
    shared = Counter(entry.role for entry in actuators.values())
    names = {}
    for act_id, entry in actuators.items():
        name = texts.role(entry.role, lang)
        if shared[entry.role] > 1:
            told = _distinction(act_id, entry.role, lang)
            name = f"{name} {told}" if told is not None else f"{name} ({act_id})"
        names[act_id] = name
    return names


def actuator_name(act_id: str, lang: str, actuators: Mapping[str, ActuatorEntry] | None = None) -> str:
    """One actuator's name: from the zone's actuators when known (see `actuator_names`), else from its id where
    the id starts with a role (`aerator_1` -> `폭기기 1`, on a card that has no state); else the id itself."""
    if actuators is not None and act_id in actuators:
        return actuator_names(actuators, lang)[act_id]
    for role in ROLES:
        if act_id == role:
            return texts.role(role, lang)
        told = _distinction(act_id, role, lang)
        if told is not None:
            return f"{texts.role(role, lang)} {told}"
    return act_id


def reading_name(key: str, lang: str, actuators: Mapping[str, ActuatorEntry] | None = None) -> str:
    """A reading's name: a quantity of the vocabulary by its word (`air_temperature` -> `온도`); a reading of one
    actuator (`<actuator id>_<quantity>`, e.g. `aerator_1_current`) as the actuator's name and the quantity's
    (`폭기기 1 전류` / `aerator 1 current`); anything else as its id."""
    if _known(key):
        return texts.quantity(key, lang)
    parts = key.split("_")
    for cut in range(1, len(parts)):
        owner, quantity = "_".join(parts[:cut]), "_".join(parts[cut:])
        if not _known(quantity):
            continue
        name = actuator_name(owner, lang, actuators)
        if name != owner:
            return f"{name} {texts.quantity(quantity, lang)}"
    return key


def feedback(value: str | int, lang: str) -> str:
    """A device's status as the node reports it (KS X 3267 Annex B.2: `READY`, `ON`, `OPENING`, or a bare code)
    in words (`대기`, `작동 중`, `여는 중`); a status the table lacks keeps its name, a bare code says so."""
    if isinstance(value, int):
        return texts.t("feedback code", lang, code=value)
    name = str(value).upper()
    if f"feedback:{name}" in texts.TEXTS:
        return texts.t(f"feedback:{name}", lang)
    unknown = _UNKNOWN_STATUS.match(name)
    return str(value) if unknown is None else texts.t("feedback code", lang, code=unknown.group(1))


def command_words(request: CommandRequest, lang: str, *, unit_name: str | None = None,
                  actuators: Mapping[str, ActuatorEntry] | None = None, alarm: str | None = None) -> str:
    """What a command asks for, as the answer under its form repeats it (`온도 설정 18.0 °C`, `순환팬 켜기 ·
    30분 동안`): a bare "applied" does not say what was applied. `alarm` is the acknowledged alarm's message."""
    target = request.target or ""
    name = actuator_name(target, lang, actuators)
    if request.kind == "setpoint" and isinstance(request.value, int | float):
        words = texts.t("said setpoint", lang, quantity=texts.quantity(target, lang),
                        value=texts.reading(float(request.value), unit_name))
    elif request.kind == "override":
        if isinstance(request.value, bool):
            state = texts.t("said on" if request.value else "said off", lang)
        else:
            state = texts.t("open pct", lang, pct=f"{request.value:.0f}" if isinstance(request.value, float)
                            else request.value)
        words = texts.t("said override", lang, name=name, state=state,
                        duration=texts.duration(request.duration_s or 0, lang))
    elif request.kind == "release":
        words = texts.t("said release", lang, name=name)
    elif request.kind == "ack_alarm":
        words = texts.t("said ack", lang, alarm=alarm or target)
    else:
        words = texts.t(f"said {request.kind}", lang)
    return words[:1].upper() + words[1:]  # English starts a sentence with a capital; Korean has none
