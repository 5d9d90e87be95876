"""`farmctl portal`: the portal's admin work without a browser: users, leases, sites and the audit log.

Every command opens the store with `--db` (default: portal.db in the state folder; $FARMCTL_PORTAL_DB), which also
migrates it to the newest schema, and records what it changed in the audit log as `cli:<login name>`. Bad input
is one line naming the field and what is allowed, exit 2 (DESIGN.md's command line contract); an unreachable
database exit 1. Words follow FARMCTL_LANG / LANG (Korean or English).
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from farmcore import i18n
from farmcore.errors import BadInput, FarmError
from farmcore.textui import table
from portal.clicheck import check_action, check_site, check_site_file, check_tenant, say
from portal.serve import serve
from portal.service import accounts, audit, leases, sites
from portal.service.errors import PortalError, StoreUnavailable
from portal.service.model import SEOUL, Lease, ZoneKey, seoul_day
from portal.service.store import Store

DB_ENV = "FARMCTL_PORTAL_DB"
F = TypeVar("F", bound=Callable[..., Any])


class StoreDown(FarmError):
    """The database cannot be reached: exit 1, as a device that does not answer."""


@contextmanager
def opened(db: str | None) -> Iterator[Store]:
    """The store at `db`; the service's errors become the command line's one-line errors."""
    try:
        with Store.open(db) as store:
            yield store
    except StoreUnavailable as exc:
        raise StoreDown(exc.text(i18n.language())) from None
    except PortalError as exc:
        raise BadInput(exc.text(i18n.language())) from None


def db_option(command: F) -> F:
    return click.option("--db", "db", envvar=DB_ENV, metavar="URL",
                        help=f"sqlite:///PATH or postgresql+psycopg://USER@HOST/DB (default: ${DB_ENV}, else "
                             "portal.db in the state folder)")(command)


def json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="one JSON document on stdout")(command)


def actor() -> str:
    return f"cli:{getpass.getuser()}"


def record(store: Store, action: str, key: ZoneKey | None, detail: dict[str, Any]) -> None:
    audit.record(store, None, action, key, detail, "ok", actor=actor())


def new_password(from_stdin: bool) -> tuple[str, bool]:
    """(password, generated): one line of stdin, else a generated one to print once."""
    if not from_stdin:
        return accounts.generate_password(), True
    return sys.stdin.readline().rstrip("\r\n"), False


def show_password(username: str, password: str) -> None:
    click.echo(say(f"{username}의 비밀번호 (지금 한 번만 보여 줍니다): {password}",
                   f"password of {username} (shown this once): {password}"))


def emit(document: Any) -> None:
    click.echo(json.dumps(document, ensure_ascii=False, default=str))


@click.group("portal", context_settings={"help_option_names": ["-h", "--help"]})
def portal() -> None:
    """The tenant portal's admin work: users, leases, sites and the audit log."""


# ------------------------------------------------------------------------------------------------ users


@portal.group("user")
def user() -> None:
    """Portal accounts: add, list, reset a password, disable, enable, assign sites."""


@user.command("add")
@click.argument("username")
@click.option("--role", required=True, help="tenant | officer | technician | admin")
@click.option("--name", "display_name", default="", help="the name the portal shows")
@click.option("--lang", "language", default="ko", show_default=True, help="ko | en: the portal's language")
@click.option("--password-stdin", is_flag=True, help="read the password (10+ characters) from stdin instead "
                                                    "of generating one")
@db_option
def user_add(username: str, role: str, display_name: str, language: str, password_stdin: bool,
             db: str | None) -> None:
    """Add an account; without --password-stdin a password is generated and printed once."""
    password, generated = new_password(password_stdin)
    with opened(db) as store:
        account = accounts.create_user(store, username, role, password, display_name, language)
        record(store, "user_add", None, {"username": username, "role": account.role.value})
    click.echo(say(f"사용자 {username} 추가 ({account.role.value})", f"user {username} added ({account.role.value})"))
    if generated:
        show_password(username, password)


@user.command("list")
@json_option
@db_option
def user_list(as_json: bool, db: str | None) -> None:
    """Every account: role, language, state and sites."""
    with opened(db) as store:
        found = accounts.users(store)
    now = datetime.now(UTC)

    def state(a: accounts.Account) -> str:
        if a.disabled:
            return say("사용 중지", "disabled")
        if a.locked_until is not None and a.locked_until > now:
            return say("잠김 ~", "locked until ") + a.locked_until.astimezone(SEOUL).strftime("%H:%M")
        return say("사용 중", "active")

    if as_json:
        emit({"users": [{"username": a.username, "role": a.role.value, "display_name": a.display_name,
                         "language": a.language, "disabled": a.disabled, "locked_until": a.locked_until,
                         "sites": list(a.sites), "created_at": a.created_at} for a in found]})
        return
    headers = say("아이디 역할 이름 언어 상태 사이트", "username role name language state sites").split()
    click.echo(table(headers, [(a.username, a.role.value, a.display_name, a.language, state(a), ",".join(a.sites))
                               for a in found]))


@user.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="read the new password from stdin instead of generating one")
@db_option
def user_passwd(username: str, password_stdin: bool, db: str | None) -> None:
    """Reset a password (the lock is lifted, every session of the user ends)."""
    password, generated = new_password(password_stdin)
    with opened(db) as store:
        accounts.set_password(store, username, password)
        record(store, "user_passwd", None, {"username": username})
    click.echo(say(f"{username}의 비밀번호를 바꿨습니다", f"password of {username} reset"))
    if generated:
        show_password(username, password)


def _set_disabled(username: str, disabled: bool, db: str | None) -> None:
    with opened(db) as store:
        accounts.set_disabled(store, username, disabled)
        record(store, "user_disable" if disabled else "user_enable", None, {"username": username})
    click.echo(say(f"{username}: 사용 중지 (모든 세션 종료)", f"{username} disabled (every session ended)")
               if disabled else say(f"{username}: 다시 사용", f"{username} enabled"))


@user.command("disable")
@click.argument("username")
@db_option
def user_disable(username: str, db: str | None) -> None:
    """Disable an account: its sessions end at once."""
    _set_disabled(username, True, db)


@user.command("enable")
@click.argument("username")
@db_option
def user_enable(username: str, db: str | None) -> None:
    """Enable an account again (and lift a lock)."""
    _set_disabled(username, False, db)


@user.command("assign")
@click.argument("username")
@click.argument("site")
@click.option("--remove", is_flag=True, help="take the site back")
@db_option
def user_assign(username: str, site: str, remove: bool, db: str | None) -> None:
    """Let an officer or technician read every zone of a site (--remove: no longer)."""
    with opened(db) as store:
        accounts.assign_site(store, username, site, assigned=not remove)
        record(store, "user_unassign" if remove else "user_assign", None, {"username": username, "site": site})
    click.echo(say(f"{username}: {site} 배정 해제", f"{username}: {site} taken back") if remove
               else say(f"{username}: {site} 배정", f"{username}: {site} assigned"))


# ------------------------------------------------------------------------------------------------ leases


@portal.group("lease")
def lease() -> None:
    """Leases: which tenant rents which zone, from when to when (Asia/Seoul days)."""


def lease_line(found: Lease) -> str:
    until = f" ({say('종료', 'ended')} {found.ended})" if found.ended is not None else ""
    return f"#{found.id} {found.tenant} {found.key} {found.start}..{found.end}{until}"


def lease_dict(found: Lease) -> dict[str, Any]:
    return {"id": found.id, "tenant": found.tenant, "site": found.site, "zone": found.zone, "start": found.start,
            "end": found.end, "ended": found.ended, "until": found.until, "note": found.note}


@lease.command("add")
@click.option("--tenant", required=True, help="the tenant's username")
@click.option("--site", required=True)
@click.option("--zone", required=True)
@click.option("--start", required=True, metavar="YYYY-MM-DD", help="first day leased (Asia/Seoul)")
@click.option("--end", required=True, metavar="YYYY-MM-DD", help="first day no longer leased")
@click.option("--note", default="")
@db_option
def lease_add(tenant: str, site: str, zone: str, start: str, end: str, note: str, db: str | None) -> None:
    """Lease a zone to a tenant for [start, end); refused when it overlaps any lease of the zone."""
    with opened(db) as store:
        leases.parse_day("start", start)  # a bad day is said first, as the store says it
        leases.parse_day("end", end)
        check_tenant(store, tenant)
        check_site(store, site)
        made = leases.add_lease(store, tenant, site, zone, start, end, actor(), note)
        record(store, "lease_add", made.key, lease_dict(made))
    click.echo(say("임대 추가: ", "lease added: ") + lease_line(made))


@lease.command("list")
@click.option("--tenant")
@click.option("--site")
@click.option("--zone")
@click.option("--active", is_flag=True, help="only the leases holding today (Asia/Seoul)")
@json_option
@db_option
def lease_list(tenant: str | None, site: str | None, zone: str | None, active: bool, as_json: bool,
               db: str | None) -> None:
    """Leases by site, zone and start."""
    with opened(db) as store:
        found = leases.leases(store, tenant=tenant, site=site, zone=zone,
                              active_on=seoul_day(datetime.now(UTC)) if active else None)
    if as_json:
        emit({"leases": [lease_dict(f) for f in found]})
        return
    headers = say("번호 임차인 사이트 구역 시작일 종료일 조기종료 메모",
                  "id tenant site zone start end ended note").split()
    click.echo(table(headers, [(f.id, f.tenant, f.site, f.zone, f.start, f.end, f.ended, f.note) for f in found]))


@lease.command("end")
@click.argument("lease_id", type=int, metavar="ID")
@click.option("--on", "day", metavar="YYYY-MM-DD", help="the first day it no longer holds (default: today, "
                                                        "Asia/Seoul: access ends at once)")
@db_option
def lease_end(lease_id: int, day: str | None, db: str | None) -> None:
    """End a lease early."""
    with opened(db) as store:
        ended = leases.end_lease(store, lease_id, day or seoul_day(datetime.now(UTC)), actor())
        record(store, "lease_end", ended.key, lease_dict(ended))
    click.echo(say("임대 종료: ", "lease ended: ") + lease_line(ended))


# ------------------------------------------------------------------------------------------------ sites


@portal.group("site")
def site() -> None:
    """Sites and zones the portal serves, from their site files."""


def site_dict(found: sites.Site) -> dict[str, Any]:
    return {"id": found.id, "name": found.name, "timezone": found.timezone, "max_override_s": found.max_override_s,
            "registered_at": found.registered_at, "source": found.source_path,
            "zones": [{"zone": z.zone, "kind": z.kind, "name": z.name} for z in found.zones]}


@site.command("add")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE")
@db_option
def site_add(file: Path, db: str | None) -> None:
    """Register (or update) a site and its zones from its site file."""
    check_site_file(file)
    with opened(db) as store:
        added = sites.register_site(store, file)
        record(store, "site_add", None, {"site": added.id, "file": str(file), "zones": [z.zone for z in added.zones]})
    zones = ", ".join(f"{z.zone} ({z.kind})" for z in added.zones) or "-"
    click.echo(say(f"사이트 {added.id} 등록, 구역: {zones}", f"site {added.id} registered, zones: {zones}"))


@site.command("list")
@json_option
@db_option
def site_list(as_json: bool, db: str | None) -> None:
    """Registered sites and their zones."""
    with opened(db) as store:
        found = sites.sites(store)
    if as_json:
        emit({"sites": [site_dict(s) for s in found]})
        return
    headers = say("사이트 이름 구역 최대수동(초)", "site name zones max_override_s").split()
    click.echo(table(headers, [(s.id, s.name, ",".join(z.zone for z in s.zones), f"{s.max_override_s:g}")
                               for s in found]))


# ------------------------------------------------------------------------------------------------ audit


def parse_time(field: str, text: str | None) -> datetime | None:
    """YYYY-MM-DD (00:00 Asia/Seoul) or an ISO 8601 time (without an offset: Asia/Seoul)."""
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(say(f"{field}: {text!r}: YYYY-MM-DD 또는 YYYY-MM-DDTHH:MM (한국 시간)",
                           f"{field}: {text!r}: YYYY-MM-DD or YYYY-MM-DDTHH:MM (Asia/Seoul)")) from None
    return parsed.replace(tzinfo=SEOUL) if parsed.tzinfo is None else parsed


@portal.command("audit")
@click.option("--since", metavar="TIME", help="YYYY-MM-DD or YYYY-MM-DDTHH:MM (Asia/Seoul unless an offset is given)")
@click.option("--until", metavar="TIME", help="up to, not including (same forms)")
@click.option("--user", "username")
@click.option("--site")
@click.option("--zone")
@click.option("--action", help="one action, e.g. sign_in, command_setpoint, lease_add (a wrong one lists them all)")
@click.option("--limit", type=int, default=1000, show_default=True)
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="write the rows as CSV (UTF-8 with BOM for Excel) instead of a table")
@json_option
@db_option
def audit_command(since: str | None, until: str | None, username: str | None, site: str | None, zone: str | None,
                  action: str | None, limit: int, csv_file: Path | None, as_json: bool, db: str | None) -> None:
    """The audit log, newest first: who did what to which zone, and how it came out."""
    check_action(action)
    start, end = parse_time("--since", since), parse_time("--until", until)
    with opened(db) as store:
        rows = audit.query(store, since=start, until=end, username=username, site=site, zone=zone, action=action,
                           limit=limit)
    if csv_file is not None:
        csv_file.write_bytes(audit.to_csv(rows))
        click.echo(say(f"{len(rows)}행을 {csv_file}에 썼습니다", f"{len(rows)} rows written to {csv_file}"))
    elif as_json:
        emit({"audit": [{"time": r.time, "username": r.username, "role": r.role, "action": r.action, "site": r.site,
                         "zone": r.zone, "outcome": r.outcome, "command_id": r.command_id, "detail": r.detail}
                        for r in rows]})
    else:
        headers = say("시각 사용자 동작 구역 결과 내용", "time user action zone outcome detail").split()
        click.echo(table(headers, [(r.time.astimezone(SEOUL).strftime("%Y-%m-%d %H:%M:%S"), r.username, r.action,
                                    f"{r.site}/{r.zone}" if r.site else "", r.outcome,
                                    json.dumps(r.detail, ensure_ascii=False)) for r in rows]))


portal.add_command(serve)  # the web server lives in portal/serve.py: it is no admin work
