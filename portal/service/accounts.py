"""Local accounts: argon2id passwords, lockout after repeated failures, sessions that expire, what a person holds.

A session token is 32 random bytes handed to the browser once; the store keeps only its SHA-256, so a stolen copy
of the database signs no one in. An unknown name and a wrong password get the same answer (and take the same
time), so the sign-in form cannot be used to learn who has an account.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.service.db import DbLease, DbSession, DbSite, DbUser, DbUserSite
from portal.service.errors import BadRequest, SignInError
from portal.service.leases import article, to_lease
from portal.service.model import Grants, Principal, Role
from portal.service.store import Store, utc_now

# argon2-cffi's defaults are RFC 9106's second recommended argon2id option (t=3, 64 MiB, p=4): ~0.12 s a hash here.
HASHER = PasswordHasher()
DUMMY_HASH = HASHER.hash("an unknown user's password")  # verified against, so an unknown name costs the same time

# [engineering choice] 5 failures lock the account for 15 minutes. The PIPC's 개인정보의 안전성 확보조치 기준 asks
# that access be limited after a set number of wrong passwords; 5 leaves room for typing on a phone, and at
# 5 tries per 15 minutes a guesser gets 480 a day, nothing against a 10-character password, while a farmer who
# locked themselves out at 3 a.m. over an alarm is back in a quarter of an hour.
MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
# [engineering choice] a session ends 12 h after its last use (a day's work on a shared field-office PC ends with
# it) and 7 days after sign-in whatever the use (a lost phone stays signed in a week at most).
IDLE_FOR = timedelta(hours=12)
LIVE_FOR = timedelta(days=7)
SEEN_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often (pages refresh every 2 s)
# KISA's password guide asks 10 characters of two kinds (or 8 of three); NIST SP 800-63B asks at least 8 and no
# composition rules. The length is what is checked.
MIN_PASSWORD = 10
MAX_PASSWORD = 256  # argon2 hashes anything, but a megabyte "password" is only a way to waste the server's time
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
LANGUAGES = ("ko", "en")


@dataclass(frozen=True)
class Account:
    """A user as the admin pages and `farmctl portal user list` show them (never the hash)."""

    id: int
    username: str
    display_name: str
    role: Role
    language: str
    disabled: bool
    locked_until: datetime | None
    created_at: datetime
    password_changed_at: datetime
    sites: tuple[str, ...] = ()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def generate_password() -> str:
    """16 URL-safe characters (96 random bits), for `user add` without a password and for demo accounts."""
    return secrets.token_urlsafe(12)


def check_password(password: str, field: str = "password") -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise BadRequest(field, f"{MIN_PASSWORD}자 이상 {MAX_PASSWORD}자 이하여야 합니다 (지금 {len(password)}자)",
                         f"{MIN_PASSWORD} to {MAX_PASSWORD} characters (got {len(password)})")


def parse_role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise BadRequest("role", f"{text!r}: 다음 중 하나여야 합니다: {allowed}",
                         f"{text!r}: one of {allowed}") from None


def _user(session: Session, username: str) -> DbUser:
    user = session.scalars(select(DbUser).where(DbUser.username == username)).one_or_none()
    if user is None:
        raise BadRequest("username", f"{username!r} 사용자가 없습니다", f"no user {username!r}")
    return user


def _account(session: Session, user: DbUser) -> Account:
    sites = session.scalars(select(DbUserSite.site).where(DbUserSite.user_id == user.id).order_by(DbUserSite.site))
    return Account(user.id, user.username, user.display_name, Role(user.role), user.language, user.disabled,
                   user.locked_until, user.created_at, user.password_changed_at, tuple(sites))


def create_user(store: Store, username: str, role: Role | str, password: str, display_name: str = "",
                language: str = "ko", now: datetime | None = None) -> Account:
    """A new account; the username is lowercase letters, digits and `._-` (2-32), the password 10+ characters."""
    if not USERNAME.match(username):
        raise BadRequest("username", f"{username!r}: 영문 소문자·숫자·._- 2~32자 (첫 글자는 영문이나 숫자)",
                         f"{username!r}: 2-32 of a-z 0-9 . _ - (starting with a letter or digit)")
    role = parse_role(role)
    if language not in LANGUAGES:
        raise BadRequest("language", f"{language!r}: ko 또는 en", f"{language!r}: ko or en")
    check_password(password)
    now = utc_now(now)
    with store.session() as session:
        if session.scalars(select(DbUser.id).where(DbUser.username == username)).first() is not None:
            raise BadRequest("username", f"{username!r}: 이미 있는 아이디입니다", f"{username!r} exists already")
        user = DbUser(username=username, display_name=display_name, role=role.value, language=language,
                      password_hash=HASHER.hash(password), disabled=False, failed_count=0, created_at=now,
                      password_changed_at=now)
        session.add(user)
        session.flush()
        return _account(session, user)


def _verify(session: Session, user: DbUser | None, password: str, now: datetime) -> DbUser:
    """`user` when `password` is theirs and they are not locked; counts failures and locks (committed even when
    this raises: the caller's session must commit the failure before the error leaves)."""
    if user is None:
        with contextlib.suppress(VerificationError):
            HASHER.verify(DUMMY_HASH, password)
        raise SignInError("wrong")
    if user.locked_until is not None and user.locked_until > now:
        raise SignInError("locked", user.locked_until)
    try:
        HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_count += 1
        if user.failed_count >= MAX_FAILURES:
            user.failed_count, user.locked_until = 0, now + LOCK_FOR
            raise SignInError("locked", user.locked_until) from None
        raise SignInError("wrong") from None
    user.failed_count, user.locked_until = 0, None
    if HASHER.check_needs_rehash(user.password_hash):  # the hasher's cost was raised since this hash was made
        user.password_hash = HASHER.hash(password)
    return user


def _checked(store: Store, username: str, password: str, now: datetime) -> tuple[DbUser | None, SignInError | None]:
    """Verify in its own committed transaction, so a counted failure stays counted when the error is raised. The
    user's row is locked meanwhile (PostgreSQL; SQLite's transactions are serial): guesses sent in parallel are
    counted one by one, none lost."""
    with store.session() as session:
        user = session.scalars(select(DbUser).where(DbUser.username == username).with_for_update()).one_or_none()
        try:
            return _verify(session, user, password, now), None
        except SignInError as error:
            return user, error


def sign_in(store: Store, username: str, password: str, now: datetime | None = None) -> tuple[str, Principal]:
    """A new session: (token for the browser, who signed in); else SignInError "wrong" | "locked" | "disabled".
    The name is taken in lower case (a phone keyboard capitalises the first letter)."""
    now = utc_now(now)
    user, error = _checked(store, username.strip().lower(), password, now)
    if error is not None or user is None:
        raise error or SignInError("wrong")
    if user.disabled:  # told only to the one who knows the password
        raise SignInError("disabled")
    return _open_session(store, user, now)


def sign_in_vouched(store: Store, username: str, now: datetime | None = None) -> tuple[str, Principal]:
    """A new session for a person the province's identity provider has signed in (OIDC): no password here, but
    the account must exist and be enabled — who they are comes from the provider, what they may see (role,
    sites, leases) from the portal. SignInError "not_registered" | "disabled"."""
    now = utc_now(now)
    with store.session() as session:
        user = session.scalars(select(DbUser).where(DbUser.username == username.strip().lower())).one_or_none()
    if user is None:
        raise SignInError("not_registered")
    if user.disabled:
        raise SignInError("disabled")
    return _open_session(store, user, now)


def _open_session(store: Store, user: DbUser, now: datetime) -> tuple[str, Principal]:
    """A random token for the browser; the store keeps only its hash."""
    token = secrets.token_urlsafe(32)
    with store.session() as session:
        row = DbSession(token_hash=token_hash(token), user_id=user.id, created_at=now, expires_at=now + LIVE_FOR,
                        last_seen_at=now)
        session.add(row)
        session.flush()
        return token, _principal(user, row)


def _principal(user: DbUser, row: DbSession) -> Principal:
    return Principal(user.id, user.username, Role(user.role), user.display_name, user.language, str(row.id))


def resolve(store: Store, token: str | None, now: datetime | None = None) -> Principal | None:
    """Who holds this session token now; None when it is unknown, ended, idle too long, too old, or the user is
    disabled."""
    if not token:
        return None
    now = utc_now(now)
    with store.session() as session:
        found = session.execute(select(DbSession, DbUser).join(DbUser, DbUser.id == DbSession.user_id)
                                .where(DbSession.token_hash == token_hash(token))).one_or_none()
        if found is None:
            return None
        row, user = found
        if (row.ended_at is not None or now >= row.expires_at or now >= row.last_seen_at + IDLE_FOR
                or user.disabled):
            return None
        if now - row.last_seen_at >= SEEN_EVERY:
            row.last_seen_at = now
        return _principal(user, row)


def _end_sessions(session: Session, user_id: int, now: datetime, keep: str | None = None) -> None:
    query = update(DbSession).where(DbSession.user_id == user_id, DbSession.ended_at.is_(None))
    if keep:
        query = query.where(DbSession.id != int(keep))
    session.execute(query.values(ended_at=now))


def sign_out(store: Store, token: str, now: datetime | None = None) -> None:
    """End this session (an unknown token is ignored: signing out twice is not an error)."""
    with store.session() as session:
        session.execute(update(DbSession).where(DbSession.token_hash == token_hash(token),
                                                DbSession.ended_at.is_(None)).values(ended_at=utc_now(now)))


def change_password(store: Store, principal: Principal, old: str, new: str, now: datetime | None = None) -> None:
    """The person's own change: the old password again (a wrong one counts towards the lockout), a new one of
    10+ characters; every other session of theirs ends (a thief's included), this one stays."""
    now = utc_now(now)
    check_password(new, "new_password")
    if new == old:
        raise BadRequest("new_password", "현재 비밀번호와 달라야 합니다", "must differ from the current one")
    _user_row, error = _checked(store, principal.username, old, now)
    if error is not None:
        raise error
    with store.session() as session:
        user = _user(session, principal.username)
        user.password_hash, user.password_changed_at = HASHER.hash(new), now
        _end_sessions(session, user.id, now, keep=principal.session)


def set_password(store: Store, username: str, new: str, now: datetime | None = None) -> None:
    """An admin's reset: a new password, the lock lifted, every session of the user ended."""
    now = utc_now(now)
    check_password(new)
    with store.session() as session:
        user = _user(session, username)
        user.password_hash, user.password_changed_at = HASHER.hash(new), now
        user.failed_count, user.locked_until = 0, None
        _end_sessions(session, user.id, now)


def set_disabled(store: Store, username: str, disabled: bool, now: datetime | None = None) -> None:
    """Disable (every session ends at once) or enable (the lock lifted too) an account."""
    now = utc_now(now)
    with store.session() as session:
        user = _user(session, username)
        user.disabled = disabled
        if disabled:
            _end_sessions(session, user.id, now)
        else:
            user.failed_count, user.locked_until = 0, None


def disable(store: Store, username: str, now: datetime | None = None) -> None:
    set_disabled(store, username, True, now)


def enable(store: Store, username: str) -> None:
    set_disabled(store, username, False)


def assign_site(store: Store, username: str, site: str, assigned: bool = True) -> None:
    """Give (or, `assigned=False`, take back) an officer or technician the reading of every zone of `site`."""
    with store.session() as session:
        user = _user(session, username)
        if Role(user.role) not in (Role.OFFICER, Role.TECHNICIAN):
            raise BadRequest("username", f"{username!r}: {user.role} 계정입니다. 사이트는 지도사(officer)나 "
                                         "기술자(technician)에게만 배정할 수 있습니다",
                             f"{username!r} is {article(user.role)} {user.role}: sites are assigned to officers and "
                             "technicians only")
        if session.get(DbSite, site) is None:
            raise BadRequest("site", f"{site!r}: 등록된 사이트가 아닙니다", f"{site!r}: not a registered site")
        row = session.get(DbUserSite, (user.id, site))
        if assigned and row is None:
            session.add(DbUserSite(user_id=user.id, site=site))
        elif not assigned and row is not None:
            session.delete(row)


def unassign_site(store: Store, username: str, site: str) -> None:
    assign_site(store, username, site, assigned=False)


def users(store: Store) -> list[Account]:
    """Every account, by username."""
    with store.session() as session:
        return [_account(session, u) for u in session.scalars(select(DbUser).order_by(DbUser.username))]


def account(store: Store, username: str) -> Account | None:
    with store.session() as session:
        user = session.scalars(select(DbUser).where(DbUser.username == username)).one_or_none()
        return None if user is None else _account(session, user)


def grants(store: Store, principal: Principal) -> Grants:
    """What tenancy needs of this person: a tenant's leases (all of them: earlier ones extend the history of a
    renewal), a reader's sites; nothing for an admin (who reads everything by role)."""
    with store.session() as session:
        if principal.role == Role.TENANT:
            rows = session.execute(select(DbLease, DbUser.username).join(DbUser, DbUser.id == DbLease.tenant_id)
                                   .where(DbLease.tenant_id == principal.user_id))
            return Grants(leases=tuple(to_lease(lease, name) for lease, name in rows))
        if principal.role in (Role.OFFICER, Role.TECHNICIAN):
            sites = session.scalars(select(DbUserSite.site).where(DbUserSite.user_id == principal.user_id))
            return Grants(sites=frozenset(sites))
        return Grants()
