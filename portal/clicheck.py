"""What `farmctl portal` checks before it asks the store, so a refusal reads as one plain line: a lease's tenant
must be a tenant's account and its site registered (the refusal lists the registered ones), a site file must
load (its path said once), an audit filter must name an action the log records.

Why here and not only in the store: the store's own refusals are made for the admin page too and say less
("'nobody' no such user", a site's unregistered zone where the site itself is missing); the store still
checks again inside its transaction.
"""

from __future__ import annotations

from pathlib import Path

from farmcore import i18n
from farmcore.errors import BadInput, FarmError
from farmcore.site import load_site
from portal.service import accounts, sites, texts
from portal.service.commands import PORTAL_KINDS
from portal.service.model import Role
from portal.service.store import Store
from portal.service.tenancy import Op

# Every action the audit log records (the facade, the admin desk and this command line), so `audit --action`
# refuses a misspelt one instead of answering "no rows"; tests/test_portal_cli.py checks the sources against it.
AUDIT_ACTIONS = (
    "sign_in", "sign_in_oidc", "sign_out", "change_password", "export_csv", "audit_export",
    *(f"command_{kind}" for kind in PORTAL_KINDS), *(f"denied_{op}" for op in (Op.VIEW, Op.HISTORY)),
    "user_add", "user_passwd", "user_disable", "user_enable", "user_assign", "user_unassign", "site_add",
    "lease_add", "lease_end",
)


def say(ko: str, en: str) -> str:
    """The sentence in the command line's language."""
    return ko if i18n.language() == "ko" else en


def check_tenant(store: Store, tenant: str) -> None:
    """A lease's tenant must be a tenant's account: said here in plain words before the store is asked."""
    found = accounts.account(store, tenant)
    if found is None:
        raise BadInput(say(f"tenant: {tenant!r} 사용자가 없습니다. 임차인(tenant) 계정이 필요합니다",
                           f"tenant: no user {tenant!r}: a tenant account is needed"))
    if found.role != Role.TENANT:
        role = found.role.value
        article = "an" if role[0] in "aeiou" else "a"
        raise BadInput(say(f"tenant: {tenant!r} 계정은 {texts.t('role name:' + role, 'ko')}({role}) 계정입니다. "
                           "임차인(tenant) 계정이어야 합니다",
                           f"tenant: {tenant!r} is {article} {role}: a tenant account is needed"))


def check_site(store: Store, site: str) -> None:
    """A lease's site must be registered; the refusal lists the ones that are."""
    if sites.site(store, site) is None:
        known = ", ".join(s.id for s in sites.sites(store))
        raise BadInput(say(f"site: {site!r} 사이트는 등록되어 있지 않습니다 (등록된 사이트: {known or '없음'}). "
                           "먼저 farmctl portal site add FILE로 등록해 주세요",
                           f"site: {site!r} is not registered (registered: {known or 'none'}); register it "
                           "first with farmctl portal site add FILE"))


def check_site_file(file: Path) -> None:
    """A site file must load; the loader's line names the file and the field (the store's names it twice)."""
    try:
        load_site(file)
    except FarmError as exc:
        raise BadInput(say(f"사이트 파일로 쓸 수 없습니다: {exc}", f"not a usable site file: {exc}")) from None


def check_action(action: str | None) -> None:
    """An audit filter names an action the log records; a misspelt one would answer "no rows"."""
    if action is not None and action not in AUDIT_ACTIONS:
        raise BadInput(say(f"--action: {action!r}: 알 수 없는 작업입니다. 다음 중 하나여야 합니다: ",
                           f"--action: {action!r}: not an audit action; one of ") + ", ".join(AUDIT_ACTIONS))
