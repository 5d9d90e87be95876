"""The portal's errors: one base a page can catch and show in the reader's language, never a traceback.

Every error carries a stable `.code` (for tests, the audit log and the command line) and a Korean and an English
sentence; `str(error)` is the English one so logs stay greppable.
"""

from __future__ import annotations

from datetime import datetime

from portal.service.model import SEOUL


class PortalError(ValueError):
    """Base of every error the service raises on purpose: `.code`, and `.text(lang)` for the person."""

    def __init__(self, code: str, ko: str, en: str) -> None:
        super().__init__(en)
        self.code = code
        self.ko = ko
        self.en = en

    def text(self, lang: str = "ko") -> str:
        """The sentence in `lang` ("ko" or "en"; anything else gets English)."""
        return self.ko if lang == "ko" else self.en


DENIED_TEXTS: dict[str, tuple[str, str]] = {
    "signed_out": ("로그인이 필요합니다.", "Please sign in."),
    "no_access": ("이 구역에 접근할 권한이 없습니다.", "You have no access to this zone."),
    "read_only": ("조회만 할 수 있습니다. 제어 권한이 없습니다.", "Read only: you cannot send commands."),
    "disabled": ("사용이 중지된 계정입니다.", "This account is disabled."),
}


class Denied(PortalError):
    """Tenancy said no (`code` is `Access.code`): the same words for an unknown zone and another tenant's."""

    def __init__(self, code: str) -> None:
        ko, en = DENIED_TEXTS.get(code, DENIED_TEXTS["no_access"])
        super().__init__(code, ko, en)


class BadRequest(PortalError):
    """Bad input: names the field and what is allowed, in both languages (code "bad_request")."""

    def __init__(self, field: str, ko: str, en: str) -> None:
        super().__init__("bad_request", f"{field}: {ko}", f"{field}: {en}")
        self.field = field


class SignInError(PortalError):
    """Sign-in refused: code "wrong" | "locked" | "disabled" | "not_registered" (OIDC); `locked_until` (UTC)
    when locked."""

    def __init__(self, code: str, locked_until: datetime | None = None) -> None:
        if code == "locked" and locked_until is not None:
            local = locked_until.astimezone(SEOUL).strftime("%H:%M")
            ko = f"로그인 실패가 반복되어 계정이 {local}까지 잠겼습니다."
            en = f"Too many failed sign-ins: the account is locked until {local} (Asia/Seoul)."
        elif code == "disabled":
            ko, en = DENIED_TEXTS["disabled"]
        elif code == "not_registered":  # signed in by the identity provider, unknown to the portal
            ko = "통합인증으로 로그인했지만 포털에 등록된 계정이 아닙니다. 관리자에게 등록을 요청해 주세요."
            en = "Signed in by the identity provider, but this account is not registered in the portal. " \
                 "Please ask the administrator to register it."
        else:
            code = "wrong"  # an unknown name and a wrong password read the same, so names cannot be probed
            ko, en = "아이디 또는 비밀번호가 맞지 않습니다.", "Wrong username or password."
        super().__init__(code, ko, en)
        self.locked_until = locked_until


class StoreUnavailable(PortalError):
    """The portal's database cannot be reached or opened (code "store_unavailable"): a page says so, no trace."""

    def __init__(self, detail: str) -> None:
        super().__init__("store_unavailable", f"포털 데이터베이스에 연결할 수 없습니다: {detail}",
                         f"the portal database cannot be reached: {detail}")
