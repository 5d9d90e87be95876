"""Every word the portal shows, in Korean and English (Korean first: the tenants read it on a phone in the field).

`t(key, lang, **fields)` looks here first, then in farmcore/i18n.py, which already names every quantity, actuator
role, recipe stage and event code for the terminal views: one vocabulary, so the portal and a technician's screen
call a roof vent by the same word. An unknown key comes back as itself (visible, never a crash). Messages to the
person are polite (존댓말); labels are short so a 390-px screen holds them.
"""

from __future__ import annotations

import math

from farmcore import i18n

LANGS = ("ko", "en")

TEXTS: dict[str, dict[str, str]] = {
    # the frame: sign-in, language, navigation
    "app title": {"ko": "스마트팜 임대 포털", "en": "Rental smart-farm portal"},
    "language": {"ko": "언어", "en": "Language"},
    "sign in": {"ko": "로그인", "en": "Sign in"},
    "sign in title": {"ko": "로그인해 주세요", "en": "Please sign in"},
    "username": {"ko": "아이디", "en": "Username"},
    "password": {"ko": "비밀번호", "en": "Password"},
    "sign out": {"ko": "로그아웃", "en": "Sign out"},
    "signed out": {"ko": "로그아웃되었습니다.", "en": "You are signed out."},
    "fill both": {"ko": "아이디와 비밀번호를 모두 입력해 주세요.", "en": "Please enter your username and password."},
    "sign in oidc": {"ko": "도 통합인증으로 로그인", "en": "Sign in with the province ID"},
    "or local account": {"ko": "또는 포털 계정으로 로그인", "en": "or with a portal account"},
    "sign out oidc": {"ko": "통합인증에서도 로그아웃", "en": "Sign out of the province ID too"},
    "signed in as": {"ko": "{name} 님 ({role})", "en": "{name} ({role})"},
    "page:myfarm": {"ko": "내 농장", "en": "My farm"},
    "page:zone": {"ko": "구역", "en": "Zone"},
    "page:controls": {"ko": "제어", "en": "Controls"},
    "page:alarms": {"ko": "경보", "en": "Alarms"},
    "page:account": {"ko": "계정", "en": "Account"},
    "page:admin": {"ko": "관리", "en": "Admin"},
    "page:sign in": {"ko": "로그인", "en": "Sign in"},
    "role name:tenant": {"ko": "임차 농업인", "en": "tenant"},
    "role name:officer": {"ko": "지도사", "en": "officer"},
    "role name:technician": {"ko": "기술자", "en": "technician"},
    "role name:admin": {"ko": "관리자", "en": "admin"},
    "page failed": {"ko": "화면을 표시하지 못했습니다. 잠시 후 다시 시도해 주세요. (오류 번호 {ref})",
                    "en": "This page could not be shown. Please try again shortly. (error ref {ref})"},
    "live unavailable": {"ko": "실시간 데이터를 받을 수 없습니다{since}. 제어는 잠시 멈춥니다.",
                         "en": "Live data unavailable{since}. Controls are paused."},
    "since time": {"ko": " ({t}부터)", "en": " since {t}"},
    # my farm
    "no zones": {"ko": "지금 이용 중인 구역이 없습니다.", "en": "You have no zones right now."},
    "no state yet": {"ko": "아직 받은 상태가 없습니다.", "en": "No state received yet."},
    "age": {"ko": "{age} 전", "en": "{age} ago"},
    "seconds": {"ko": "{n}초", "en": "{n} s"},
    "minutes": {"ko": "{n}분", "en": "{n} min"},
    "hours": {"ko": "{n}시간", "en": "{n} h"},
    "days": {"ko": "{n}일", "en": "{n} d"},
    # the state's recipe day is 0 on the day of planting or stocking (farmcore/link/payloads.py RecipeRef.day)
    "day n greenhouse": {"ko": "정식 후 {n}일", "en": "day {n} after planting"},
    "day n tank": {"ko": "입식 후 {n}일", "en": "day {n} after stocking"},
    "time left": {"ko": "{left} 남음", "en": "{left} left"},
    "active alarms n": {"ko": "경보 {n}건", "en": "{n} active alarms"},
    "open zone": {"ko": "자세히 보기", "en": "Open"},
    "lease until": {"ko": "임대 기간 {start} ~ {end}", "en": "Lease {start} to {end}"},
    "kind:greenhouse": {"ko": "온실", "en": "greenhouse"},
    "kind:tank": {"ko": "수조", "en": "tank"},
    "setpoint short": {"ko": "설정 {v}", "en": "set {v}"},
    "mode:auto": {"ko": "자동 운전", "en": "automatic"},
    "mode:override": {"ko": "수동 조작 중", "en": "manual override"},
    "mode:safety": {"ko": "안전 보호 중", "en": "safety hold"},
    # zone
    "pick zone": {"ko": "구역 선택", "en": "Zone"},
    "live values": {"ko": "실시간 측정값", "en": "Live readings"},
    "actuators": {"ko": "구동기", "en": "Actuators"},
    "feedback": {"ko": "응답", "en": "feedback"},
    "history": {"ko": "기록", "en": "History"},
    "span": {"ko": "기간", "en": "Span"},
    "span:24h": {"ko": "24시간", "en": "24 h"},
    "span:7d": {"ko": "7일", "en": "7 days"},
    "span:30d": {"ko": "30일", "en": "30 days"},
    "span:season": {"ko": "작기 전체", "en": "Season"},
    "no history": {"ko": "이 기간의 기록이 없습니다.", "en": "No history in this span."},
    "csv download": {"ko": "CSV 내려받기 (임대 기간)", "en": "Download CSV (lease period)"},
    "csv prepare": {"ko": "CSV 만들기", "en": "Prepare CSV"},
    "band:setpoint": {"ko": "설정값", "en": "setpoint"},
    "band:envelope": {"ko": "조정 가능 범위", "en": "allowed range"},
    "failed actuator": {"ko": "응답 불일치", "en": "feedback disagrees"},
    # a device's status as its node reports it (KS X 3267 Annex B.2 names); READY is a device at rest, which a
    # panel calls 대기 (the standard's own 준비 reads as "getting ready" to a farmer)
    "feedback:READY": {"ko": "대기", "en": "idle"},
    "feedback:ERROR": {"ko": "오류", "en": "error"},
    "feedback:BUSY": {"ko": "작동 중", "en": "busy"},
    "feedback:VOLTAGE_ERROR": {"ko": "전압 이상", "en": "voltage fault"},
    "feedback:CURRENT_ERROR": {"ko": "전류 이상", "en": "current fault"},
    "feedback:TEMPERATURE_ERROR": {"ko": "온도 이상", "en": "temperature fault"},
    "feedback:FUSE_ERROR": {"ko": "퓨즈 이상", "en": "fuse fault"},
    "feedback:NEED_REPLACE": {"ko": "교체 필요", "en": "needs replacing"},
    "feedback:NEED_CALIBRATION": {"ko": "교정 필요", "en": "needs calibration"},
    "feedback:NEED_CHECK": {"ko": "점검 필요", "en": "needs a check"},
    "feedback:ON": {"ko": "작동 중", "en": "running"},
    "feedback:MANUAL_WORKING": {"ko": "현장에서 수동 작동 중", "en": "run by hand on site"},
    "feedback:USER_CONTROL": {"ko": "현장에서 수동 제어 중", "en": "under manual control on site"},
    "feedback:OPENING": {"ko": "여는 중", "en": "opening"},
    "feedback:CLOSING": {"ko": "닫는 중", "en": "closing"},
    "feedback:MANUAL_OPENING": {"ko": "현장에서 수동으로 여는 중", "en": "opened by hand on site"},
    "feedback:MANUAL_CLOSING": {"ko": "현장에서 수동으로 닫는 중", "en": "closed by hand on site"},
    "feedback:MANUAL_CONTROL": {"ko": "현장에서 수동 제어 중", "en": "under manual control on site"},
    "feedback:PREPARING": {"ko": "준비 중", "en": "preparing"},
    "feedback:SUPPLYING": {"ko": "공급 중", "en": "supplying"},
    "feedback:STOPPING": {"ko": "정지 중", "en": "stopping"},
    "feedback:VENDOR_SPECIFIC_ERROR": {"ko": "장치 고유 오류", "en": "device's own error"},
    "feedback code": {"ko": "상태 코드 {code}", "en": "status code {code}"},
    # what tells two actuators of one role apart when their ids end in a side (side_vent_left)
    "side:left": {"ko": "왼쪽", "en": "left"},
    "side:right": {"ko": "오른쪽", "en": "right"},
    "side:east": {"ko": "동쪽", "en": "east"},
    "side:west": {"ko": "서쪽", "en": "west"},
    "side:north": {"ko": "북쪽", "en": "north"},
    "side:south": {"ko": "남쪽", "en": "south"},
    # drawing
    "quality:good": {"ko": "정상", "en": "good"},
    "quality:comm_error": {"ko": "통신 오류", "en": "no answer"},
    "quality:stale": {"ko": "오래된 값", "en": "stale"},
    "quality:idle": {"ko": "측정 안 함", "en": "idle"},
    "quality:bad": {"ko": "이상", "en": "bad"},
    # a faulty sensor's quality is its KS X 3267 status, lower case (farmcore/fieldbus/node.py)
    "quality:error": {"ko": "센서 오류", "en": "sensor error"},
    "quality:busy": {"ko": "측정 중", "en": "busy"},
    "quality:voltage_error": {"ko": "전압 오류", "en": "voltage error"},
    "quality:current_error": {"ko": "전류 오류", "en": "current error"},
    "quality:temperature_error": {"ko": "온도 오류", "en": "temperature error"},
    "quality:fuse_error": {"ko": "퓨즈 오류", "en": "fuse error"},
    "quality:need_replace": {"ko": "교체 필요", "en": "needs replacing"},
    "quality:need_calibration": {"ko": "교정 필요", "en": "needs calibration"},
    "quality:need_check": {"ko": "점검 필요", "en": "needs a check"},
    "no value": {"ko": "값 없음", "en": "no value"},
    # a reading's name where the picture shows what it measures (farmcore/i18n.py has the others' short names)
    "short:pipe_temperature": {"ko": "배관", "en": "pipe"},
    "short:leaf_temperature": {"ko": "잎", "en": "leaf"},
    "short:solar_radiation": {"ko": "일사", "en": "solar"},
    "drawing title": {"ko": "{zone} {kind} 현재 모습", "en": "{zone} {kind} now"},
    "more readings": {"ko": "외 {n}개", "en": "+{n} more"},
    "source:safety": {"ko": "안전", "en": "safety"},
    "source:override": {"ko": "수동", "en": "manual"},
    "source:recipe": {"ko": "레시피", "en": "recipe"},
    # controls
    "read only": {"ko": "조회만 할 수 있습니다. 제어는 임차 농업인만 할 수 있습니다.",
                  "en": "Read only: only the tenant of a zone sends commands."},
    "controls off": {"ko": "구역이 연결되어 있지 않아 지금은 제어할 수 없습니다.",
                     "en": "The zone is not connected: controls are paused."},
    "setpoint title": {"ko": "설정값 변경", "en": "Change a setpoint"},
    "no envelope": {"ko": "레시피에서 조정할 수 있는 설정값이 없습니다.",
                    "en": "The recipe allows no setpoint changes here."},
    "quantity pick": {"ko": "항목", "en": "Quantity"},
    "new value": {"ko": "새 값 ({lo} ~ {hi} {unit})", "en": "New value ({lo} to {hi} {unit})"},
    "reason input": {"ko": "사유 (선택)", "en": "Reason (optional)"},
    "send": {"ko": "보내기", "en": "Send"},
    "override title": {"ko": "구동기 수동 조작", "en": "Manual override"},
    "actuator pick": {"ko": "구동기", "en": "Actuator"},
    "turn on": {"ko": "켜기", "en": "On"},
    "turn off": {"ko": "끄기", "en": "Off"},
    "position pct": {"ko": "열림 정도 (%)", "en": "Opening (%)"},
    "duration min": {"ko": "유지 시간 (분, 최대 {max}분)", "en": "Duration (min, at most {max})"},
    "confirm override": {"ko": "수동 조작 동안 자동 제어가 멈추는 것을 확인했습니다.",
                         "en": "I understand automatic control of it stops for this time."},
    "release title": {"ko": "수동 조작 해제", "en": "Release an override"},
    "no overrides": {"ko": "수동 조작 중인 구동기가 없습니다.", "en": "No actuator is overridden."},
    "release": {"ko": "해제", "en": "Release"},
    "feed title": {"ko": "지금 먹이 주기", "en": "Feed now"},
    "feed now": {"ko": "급이 시작", "en": "Feed now"},
    "ack title": {"ko": "경보 확인", "en": "Acknowledge alarms"},
    "ack": {"ko": "확인", "en": "Acknowledge"},
    "no alarms to ack": {"ko": "확인할 경보가 없습니다.", "en": "No alarm to acknowledge."},
    "pending": {"ko": "보내는 중입니다…", "en": "Sending…"},
    "already sent": {"ko": "이미 보낸 명령입니다. 다시 보내지 않았습니다.",
                     "en": "This command was already sent; it was not sent again."},
    # what a command asked for, repeated above its answer (portal/service/naming.py command_words)
    "said setpoint": {"ko": "{quantity} 설정 {value}", "en": "{quantity} setpoint {value}"},
    "said override": {"ko": "{name} {state} · {duration} 동안", "en": "{name} {state} for {duration}"},
    "said on": {"ko": "켜기", "en": "on"},
    "said off": {"ko": "끄기", "en": "off"},
    "open pct": {"ko": "열림 {pct}%", "en": "open {pct}%"},
    "said release": {"ko": "{name} 수동 조작 해제", "en": "{name}: override released"},
    "said feed_now": {"ko": "지금 먹이 주기", "en": "feed now"},
    "said ack": {"ko": "경보 확인: {alarm}", "en": "acknowledge: {alarm}"},
    # alarms
    "alarms title": {"ko": "경보", "en": "Alarms"},
    "status:unacknowledged": {"ko": "미확인", "en": "unacknowledged"},
    "status:acknowledged": {"ko": "확인됨", "en": "acknowledged"},
    "status:cleared_unacknowledged": {"ko": "해제됨 (미확인)", "en": "cleared, unacknowledged"},
    "status:normal": {"ko": "정상", "en": "normal"},
    "severity:info": {"ko": "알림", "en": "info"},
    "severity:warning": {"ko": "주의", "en": "warning"},
    "severity:critical": {"ko": "위험", "en": "critical"},
    "raised at": {"ko": "발생 {t}", "en": "raised {t}"},
    "cleared at": {"ko": "해제 {t}", "en": "cleared {t}"},
    "acked by": {"ko": "{who} 확인 {t}", "en": "acknowledged by {who} {t}"},
    "show recent": {"ko": "해제된 경보도 보기", "en": "Show cleared alarms too"},
    # account
    "account title": {"ko": "내 계정", "en": "My account"},
    "change password": {"ko": "비밀번호 변경", "en": "Change password"},
    "old password": {"ko": "현재 비밀번호", "en": "Current password"},
    "new password": {"ko": "새 비밀번호 (10자 이상)", "en": "New password (10 characters or more)"},
    "repeat password": {"ko": "새 비밀번호 확인", "en": "Repeat the new password"},
    "passwords differ": {"ko": "새 비밀번호가 서로 다릅니다.", "en": "The new passwords differ."},
    "password changed": {"ko": "비밀번호를 바꿨습니다. 다른 기기의 로그인은 끝났습니다.",
                         "en": "Password changed; your other sign-ins have ended."},
    # admin
    "admin sites": {"ko": "단지와 구역", "en": "Sites and zones"},
    "admin users": {"ko": "사용자", "en": "Users"},
    "admin leases": {"ko": "임대", "en": "Leases"},
    "admin audit": {"ko": "감사 기록", "en": "Audit"},
    "register site": {"ko": "단지 등록 (단지 파일 경로)", "en": "Register a site (site file path)"},
    "register": {"ko": "등록", "en": "Register"},
    "registered": {"ko": "등록되었습니다: {what}", "en": "Registered: {what}"},
    "unregistered zones": {"ko": "MQTT에 보이지만 등록되지 않은 구역", "en": "Zones seen on MQTT, not registered"},
    "none": {"ko": "없음", "en": "none"},
    "new user": {"ko": "사용자 추가", "en": "Add a user"},
    "display name": {"ko": "이름", "en": "Name"},
    "role field": {"ko": "역할", "en": "Role"},
    "create": {"ko": "만들기", "en": "Create"},
    "created": {"ko": "만들었습니다: {what}", "en": "Created: {what}"},
    "disabled user": {"ko": "사용 중지", "en": "disabled"},
    "new lease": {"ko": "임대 추가", "en": "Add a lease"},
    "tenant field": {"ko": "임차인 아이디", "en": "Tenant username"},
    "zone field": {"ko": "구역", "en": "Zone"},
    "start": {"ko": "시작일", "en": "Start"},
    "end": {"ko": "종료일 (이날부터 이용 불가)", "en": "End (first day without access)"},
    "note": {"ko": "메모", "en": "Note"},
    "add": {"ko": "추가", "en": "Add"},
    "end lease": {"ko": "임대 조기 종료", "en": "End a lease early"},
    "lease id": {"ko": "임대 번호", "en": "Lease id"},
    "end day": {"ko": "종료일", "en": "End day"},
    "ended": {"ko": "종료했습니다: {what}", "en": "Ended: {what}"},
    "audit filters": {"ko": "검색 조건", "en": "Filters"},
    "since": {"ko": "시작일", "en": "Since"},
    "until day": {"ko": "종료일", "en": "Until"},
    "user filter": {"ko": "사용자", "en": "User"},
    "action filter": {"ko": "작업", "en": "Action"},
    "rows n": {"ko": "{n}건", "en": "{n} rows"},
    "audit csv": {"ko": "CSV 내려받기", "en": "Download CSV"},
}

# How a unit is written for people (the wire keeps the plain ASCII of DESIGN.md § Quantities and units).
UNITS: dict[str, str] = {"pH": "", "degC": "°C", "%RH": "%", "W/m2": "W/m²", "umol/m2/s": "µmol/m²/s", "dS/m": "dS/m",
                         "mg/L": "mg/L", "m/s": "m/s", "deg": "°", "L/min": "L/min"}
# Decimals shown by unit: as many as the farmer acts on (0.1 °C matters, 0.1 ppm of CO2 does not).
DECIMALS: dict[str, int] = {"degC": 1, "%RH": 0, "ppm": 0, "W/m2": 0, "umol/m2/s": 0, "dS/m": 2, "pH": 1,
                            "mg/L": 1, "%": 0, "kPa": 2, "m/s": 1, "deg": 0, "psu": 1}


def lang_of(lang: str | None) -> str:
    """A language this module speaks: Korean unless English was asked for."""
    return "en" if lang == "en" else "ko"


def t(key: str, lang: str | None = "ko", **fields: object) -> str:
    """The text for `key` in `lang` with `{fields}` filled; farmcore's vocabulary second; the key itself last."""
    lang = lang_of(lang)
    entry = TEXTS.get(key) or i18n.TEXTS.get(key)
    if entry is None:
        return key
    text = entry[lang]
    return text.format(**fields) if fields else text


def quantity(name: str, lang: str | None = "ko") -> str:
    """A quantity's name (air_temperature -> 온도); a sensor id farmcore does not know shows as it is."""
    return t(name, lang)


def role(name: str, lang: str | None = "ko") -> str:
    """An actuator role's short name (roof_vent -> 천창)."""
    return t(f"role:{name}", lang) if f"role:{name}" in i18n.TEXTS else name


def unit(name: str | None) -> str:
    return "" if not name else UNITS.get(name, name)


def number(value: float | None, unit_name: str | None = None) -> str:
    """A value rounded for people by its unit; `-` for none or a non-finite one."""
    if value is None or isinstance(value, bool) or not math.isfinite(value):
        return "-"
    decimals = DECIMALS.get(unit_name or "", 1)
    return f"{value:.{decimals}f}"


def reading(value: float | None, unit_name: str | None) -> str:
    """`23.4 °C`: a value with its unit as people write it."""
    shown = number(value, unit_name)
    if shown == "-":
        return shown
    gap = "" if unit_name in ("%", "%RH") else " "  # 41% as Korean and English both write it; 23.4 °C
    return f"{shown}{gap}{unit(unit_name)}".rstrip()


def duration(seconds: float, lang: str | None = "ko") -> str:
    """A short span in the largest whole unit that fits (90 s -> 1분; 5 h -> 5시간)."""
    s = max(0, int(seconds))
    for key, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if s >= size:
            return t(key, lang, n=s // size)
    return t("seconds", lang, n=s)
