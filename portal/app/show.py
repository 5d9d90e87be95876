"""How the facade's answers read on a phone: one short markdown line each (a 390-px screen has no room for a
wide table). Text that came from the broker or the store goes through `md` so it cannot become a link or
an image; numbers are rounded by their unit (portal/service/texts.py)."""

from __future__ import annotations

from datetime import datetime

from farmcore.link.payloads import UNSET, ActuatorEntry, AlarmEntry, RecipeRef
from farmcore.runtime.reasontext import reason as reason_text
from portal.app.common import local, md
from portal.service.model import SEOUL
from portal.service.naming import actuator_name, feedback, reading_name
from portal.service.texts import TEXTS, duration, reading, t
from portal.service.views import OverrideView, ReadingView, ZoneCard

STATUS_DOT = {"online": "🟢", "offline": "🔴", "unknown": "⚪"}
SEVERITY_DOT = {"critical": "🔴", "warning": "🟠", "info": "🔵"}


def status_line(card: ZoneCard, lang: str) -> str:
    """🟢 연결됨 · 5초 전"""
    words = f"{STATUS_DOT.get(card.status, '⚪')} {t(card.status, lang)}"
    if card.age_s is not None:
        words += f" · {t('age', lang, age=duration(card.age_s, lang))}"
    return words


def recipe_line(recipe: RecipeRef | None, kind: str, lang: str) -> str:
    """토마토 · 영양생장기 · 정식 후 12일 (the recipe's own name in the reader's language, else its id)."""
    if recipe is None:
        return t("no recipe", lang)
    name = (recipe.name_ko if lang == "ko" else recipe.name_en) or recipe.name_en or recipe.name_ko or recipe.id
    parts = [md(name), md(t(recipe.stage, lang))]
    if recipe.day is not UNSET:
        parts.append(t(f"day n {'tank' if kind == 'tank' else 'greenhouse'}", lang, n=recipe.day))
    return " · ".join(parts)


def reading_line(view: ReadingView, lang: str, name: str | None = None) -> str:
    """온도 **23.4 °C** · 설정 22.0 °C, or for a bad reading 온도 ⚠ 통신 오류 (its value would mislead); `name`
    when the page knows the zone's actuators (폭기기 1 전류), else named from the reading's id alone."""
    name = md(name or reading_name(view.quantity, lang))
    if view.quality != "good" or view.value is None:
        quality = f"quality:{view.quality}"
        return f"{name} ⚠ {t(quality, lang) if quality in TEXTS else md(view.quality)}"
    words = f"{name} **{md(reading(view.value, view.unit))}**"
    if view.setpoint is not None:
        words += f" · {t('setpoint short', lang, v=md(reading(view.setpoint, view.unit)))}"
    return words


def target_words(value: bool | float | str | None, lang: str) -> str:
    if isinstance(value, bool):
        return t("on" if value else "off", lang)
    if isinstance(value, int | float):
        return f"{value:.0f}%"
    return t("hold", lang) if value is None else md(value)


def override_line(view: OverrideView, lang: str, name: str | None = None) -> str:
    """✋ 관수 켜짐 · 25분 남음 (to 14:35); the actuator by `name` when the page knows the zone's actuators."""
    return (f"✋ {md(name or actuator_name(view.actuator, lang))} {target_words(view.value, lang)} · "
            f"{t('time left', lang, left=duration(view.left_s, lang))} ({local(view.until, with_day=False)})")


def alarm_line(alarm: AlarmEntry, lang: str) -> str:
    """🔴 위험 · 미확인 · 수온이 높습니다 · 발생 01-15 13:05"""
    message = alarm.message.ko if lang == "ko" else alarm.message.en
    words = (f"{SEVERITY_DOT.get(alarm.severity, '⚪')} {t('severity:' + alarm.severity, lang)} · "
             f"{t('status:' + alarm.status, lang)} · {md(message)}")
    if alarm.raised_at:
        words += f" · {t('raised at', lang, t=local(parse_time(alarm.raised_at)))}"
    return words


def actuator_lines(name: str, entry: ActuatorEntry, lang: str) -> tuple[str, str]:
    """(**천창 왼쪽** · 목표 30% · 응답 여는 중, 결정 레시피 · 이유 ...): what it does and why, by the name
    `naming.actuator_names` gives it (the id only where two of a role cannot be told apart otherwise)."""
    head = f"**{md(name)}** · {t('target', lang)} {target_words(entry.target, lang)}"
    if entry.position is not UNSET and entry.position is not None:
        head += f" · {t('position', lang)} {entry.position:.0f}%"
    if entry.feedback is not UNSET and entry.feedback is not None:
        head += f" · {t('feedback', lang)} {md(feedback(entry.feedback, lang))}"
    if entry.failed:
        head += f" · ⚠ {t('failed actuator', lang)}"
    why = []
    if entry.source is not UNSET:
        why.append(f"{t('source', lang)}: {t('source:' + str(entry.source), lang)}")
    if entry.reason is not UNSET and entry.reason:
        why.append(f"{t('reason', lang)}: {md(reason_text(entry.reason, lang, tz=SEOUL))}")
    return head, " · ".join(why)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
