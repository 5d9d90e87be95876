"""User-facing words in Korean and English.

The portal defaults to Korean; the command line follows FARMCTL_LANG, then LANG (ko_KR.UTF-8 -> Korean).
"""

from __future__ import annotations

import os

TEXTS: dict[str, dict[str, str]] = {
    "unit": {"ko": "유닛", "en": "unit"},
    "type": {"ko": "종류", "en": "type"},
    "protocol": {"ko": "프로토콜", "en": "protocol"},
    "channels": {"ko": "채널", "en": "channels"},
    "profile": {"ko": "프로파일", "en": "profile"},
    "devices": {"ko": "장치수", "en": "devices"},
    "slot:code": {"ko": "슬롯:코드", "en": "slot:code"},
    "slot": {"ko": "슬롯", "en": "slot"},
    "code": {"ko": "코드", "en": "code"},
    "kind": {"ko": "구분", "en": "kind"},
    "quantity": {"ko": "측정항목", "en": "quantity"},
    "value": {"ko": "값", "en": "value"},
    "status": {"ko": "상태", "en": "status"},
    "quality": {"ko": "품질", "en": "quality"},
    "detail": {"ko": "세부", "en": "detail"},
    "bus": {"ko": "버스", "en": "bus"},
    "zones": {"ko": "구역", "en": "zones"},
    "scanning": {"ko": "검색 중", "en": "scanning"},
    "no nodes answered": {"ko": "응답한 노드가 없습니다", "en": "no nodes answered"},
    "no frames": {"ko": "기록된 프레임이 없습니다", "en": "no frames recorded"},
    "running": {"ko": "작동 중", "en": "running"},
    "warning": {"ko": "경고", "en": "warning"},
    "error": {"ko": "오류", "en": "error"},
    "internal error": {"ko": "내부 오류", "en": "internal error"},
    "aborted": {"ko": "중단됨", "en": "aborted"},
    "zone": {"ko": "구역", "en": "zone"},
    "setpoint": {"ko": "설정값", "en": "setpoint"},
    "actuator": {"ko": "구동기", "en": "actuator"},
    "target": {"ko": "목표", "en": "target"},
    "source": {"ko": "결정", "en": "source"},
    "reason": {"ko": "이유", "en": "reason"},
    "events": {"ko": "최근 사건", "en": "recent events"},
    "stage": {"ko": "생육단계", "en": "stage"},
    "safety": {"ko": "안전", "en": "safety"},
    "override": {"ko": "수동", "en": "override"},
    "recipe": {"ko": "레시피", "en": "recipe"},
    "on": {"ko": "켜짐", "en": "on"},
    "off": {"ko": "꺼짐", "en": "off"},
    "hold": {"ko": "유지", "en": "hold"},
    "bad": {"ko": "불량", "en": "bad"},
    "daemon stopped": {"ko": "데몬이 멈췄습니다 (구동기는 정지 상태)",
                       "en": "daemon stopped (actuators in their stop states)"},
    "air_temperature": {"ko": "온도", "en": "air temperature"},
    "relative_humidity": {"ko": "습도", "en": "humidity"},
    "co2": {"ko": "CO2", "en": "CO2"},
    "soil_moisture": {"ko": "배지함수율", "en": "substrate moisture"},
    "par": {"ko": "광량(PAR)", "en": "PAR"},
    "solar_radiation": {"ko": "일사", "en": "solar radiation"},
    "water_temperature": {"ko": "수온", "en": "water temperature"},
    "dissolved_oxygen": {"ko": "용존산소", "en": "dissolved oxygen"},
    "water_level": {"ko": "수위", "en": "water level"},
    # `zone status|cmd|watch` (farmcore/link/zonecli.py)
    "site": {"ko": "단지", "en": "site"},
    "broker": {"ko": "브로커", "en": "broker"},
    "mode": {"ko": "운전모드", "en": "mode"},
    "state age s": {"ko": "상태경과(초)", "en": "state age s"},
    "alarms": {"ko": "경보", "en": "alarms"},
    "active": {"ko": "발생 중", "en": "active"},
    "readings": {"ko": "측정값", "en": "readings"},
    "online": {"ko": "연결됨", "en": "online"},
    "offline": {"ko": "끊김", "en": "offline"},
    "unknown": {"ko": "알 수 없음", "en": "unknown"},
    "no zones seen": {"ko": "응답한 구역이 없습니다", "en": "no zones seen"},
    "ok": {"ko": "적용됨", "en": "ok"},
    "rejected": {"ko": "거부됨", "en": "rejected"},
    "message": {"ko": "메시지", "en": "message"},
    "applied": {"ko": "적용 내용", "en": "applied"},
    "retained": {"ko": "보존 메시지", "en": "retained"},
    "raw": {"ko": "원문", "en": "raw"},
}


def language() -> str:
    lang = os.environ.get("FARMCTL_LANG") or os.environ.get("LANG", "")
    return "ko" if lang.lower().startswith("ko") else "en"


def t(key: str, lang: str | None = None) -> str:
    """The text for `key` in the given or current language; the key itself when unknown."""
    entry = TEXTS.get(key)
    if entry is None:
        return key
    return entry[lang or language()]
