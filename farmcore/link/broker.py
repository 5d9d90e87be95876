"""Mosquitto configuration for a site: accounts, hashed passwords and per-zone topic ACLs.

Accounts: one per daemon kind of the site (`farmctl-SITE` for greenhouse zones, `aquactl-SITE` for tank
zones), which may publish only its own zones' `status`, `state`, `alarms`, `events` and `ack` and read only
their `cmd`; `portal`, which may publish any zone's `cmd` and read everything (the portal enforces tenancy
before it publishes); `technician`, the same rights as the portal, for `farmctl zone` on the command line.
No secret lives in a site file: passwords are generated once, kept in `credentials/ACCOUNT` (mode 0600)
next to the broker files and reused on the next run, so re-running the command does not lock daemons out.

The password file uses mosquitto 2's `$7$` format (PBKDF2-SHA512, 101 iterations, 12-byte salt), the same
as `mosquitto_passwd` writes, so no mosquitto tool is needed on the box that generates it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import pwd
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from farmcore.errors import BadInput
from farmcore.link.messages import commands_filter, topic
from farmcore.site import SiteFile

DAEMON_LEAVES = ("status", "state", "alarms", "events", "ack")
ACCOUNT_PREFIX = {"greenhouse": "farmctl", "tank": "aquactl"}
COMMANDING_ACCOUNTS = ("portal", "technician")  # who may publish commands (messages.PERSON_NAMING_ACCOUNTS)
DEFAULT_BROKER_USER = "mosquitto"  # the user mosquitto drops to when started as root (mosquitto.conf(5): user)
PBKDF2_ITERATIONS = 101  # mosquitto_passwd's default for $7$ (mosquitto 2.0 src/password_mosq.c)


@dataclass(frozen=True)
class Tls:
    certfile: Path
    keyfile: Path
    cafile: Path | None = None


@dataclass(frozen=True)
class BrokerFiles:
    conf: Path
    passwd: Path
    acl: Path
    credentials: Path  # one password file per account (0600)
    warnings: tuple[str, ...] = ()  # what would stop mosquitto from reading the files, one line each


def hash_password(password: str, salt: bytes | None = None) -> str:
    """A mosquitto 2 `$7$` password hash."""
    salt = salt if salt is not None else os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    return f"$7${PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def accounts(site: SiteFile) -> dict[str, list[str]]:
    """{account: ACL lines}.

    Commands: each commanding account writes only its own branch `farm/SITE/+/cmd/ACCOUNT`, so the daemon
    takes the sender from the topic, which the broker vouches for, not from the payload, which anyone can
    write. Explicit lines per account rather than one `pattern write .../cmd/%u`: a pattern applies to every
    account, and a daemon account has no business commanding."""
    sid = site.site.id
    out: dict[str, list[str]] = {}
    for zone in site.zones:
        account = f"{ACCOUNT_PREFIX[zone.kind]}-{sid}"
        lines = out.setdefault(account, [])
        lines += [f"topic write {topic(sid, zone.id, leaf)}" for leaf in DAEMON_LEAVES]
        lines.append(f"topic read {commands_filter(sid, zone.id)}")
    for account in COMMANDING_ACCOUNTS:
        out[account] = [f"topic write farm/{sid}/+/cmd/{account}", f"topic read farm/{sid}/#"]
    return out


def _credential(folder: Path, account: str, rotate: bool) -> str:
    path = folder / "credentials" / account
    if path.exists() and not rotate:
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    password = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    return password


def broker_user(run_as: str | None) -> str | None:
    """The user mosquitto will run as when started by us now: as root it drops to `user` (its default
    `mosquitto`, if that user exists); as anyone else it stays that user (None: no `user` line needed)."""
    if os.geteuid() != 0:
        return run_as
    if run_as:
        return run_as
    try:
        pwd.getpwnam(DEFAULT_BROKER_USER)
    except KeyError:
        return "root"  # no mosquitto user on this box: say so explicitly rather than let it fall to `nobody`
    return DEFAULT_BROKER_USER


def _hand_over(paths: list[Path], user: str) -> list[str]:
    """Make the broker's private files readable, not writable, by `user` (we are root): owner root, group the
    user's, mode 0640 (a broker that could rewrite its own ACL would be one exploit from an open door);
    warnings for what cannot work."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return [f"user {user!r} does not exist: create it or give --run-as an existing user"]
    for path in paths:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            os.fchown(fd, os.geteuid() if user != "root" else entry.pw_uid, entry.pw_gid)
            os.fchmod(fd, 0o640)
        finally:
            os.close(fd)
    warnings = []
    for parent in paths[0].resolve().parents:
        st = parent.stat()
        if not (st.st_mode & stat.S_IXOTH or (st.st_uid == entry.pw_uid and st.st_mode & stat.S_IXUSR)
                or (st.st_gid == entry.pw_gid and st.st_mode & stat.S_IXGRP)):
            warnings.append(f"{parent} (mode {stat.S_IMODE(st.st_mode):04o}) cannot be entered by user {user}, "
                            f"which mosquitto runs as: write the files somewhere it can reach, e.g. "
                            f"--out /etc/mosquitto/farm")
            break
    return warnings


def _write_private(path: Path, text: str, mode: int) -> None:
    """Write a file without following a symbolic link planted where it goes (the folder may be shared)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def write_config(site: SiteFile, folder: Path, *, listen: str = "0.0.0.0:1883", tls: Tls | None = None,
                 rotate: bool = False, run_as: str | None = None) -> BrokerFiles:
    """Write mosquitto.conf, passwd, acl and credentials/ into `folder`; the paths written, and what would
    stop mosquitto from reading them.

    The password file is private (0600). mosquitto started as root drops to the user `mosquitto` before it
    reads the password and ACL files, so as root these two are made readable by that user's group (or
    `run_as`'s; root-owned, 0640: the broker reads but cannot rewrite them) and the `user` line says which;
    started by anyone else, mosquitto stays that user and reads its own files."""
    host, _, port_text = listen.rpartition(":")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise BadInput(f"--listen {listen!r}: expected HOST:PORT or PORT with a port 1-65535")
    folder.mkdir(parents=True, exist_ok=True)
    acl_lines = ["# written by `farmctl broker config`: each daemon its own zones, the portal every zone's cmd", ""]
    passwd_lines = []
    for account, lines in accounts(site).items():
        acl_lines += [f"user {account}", *lines, ""]
        passwd_lines.append(f"{account}:{hash_password(_credential(folder, account, rotate))}")
    acl = folder / "acl"
    _write_private(acl, "\n".join(acl_lines), 0o644)
    passwd = folder / "passwd"
    fd = os.open(passwd, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(passwd_lines) + "\n")
    conf_lines = [
        f"# mosquitto 2 configuration for site {site.site.id}, written by `farmctl broker config`",
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {passwd.resolve()}",
        f"acl_file {acl.resolve()}",
        f"listener {port_text}{f' {host}' if host else ''}",
        "set_tcp_nodelay true",  # commands and acks are small and latency-bound: no Nagle delay (~40 ms)
    ]
    user = broker_user(run_as)
    if user:
        conf_lines.insert(1, f"user {user}")
    warnings = _hand_over([passwd, acl], user) if user and os.geteuid() == 0 else []
    if tls is not None:
        conf_lines += [f"certfile {tls.certfile.resolve()}", f"keyfile {tls.keyfile.resolve()}"]
        if tls.cafile is not None:
            conf_lines.append(f"cafile {tls.cafile.resolve()}")
        conf_lines.append("tls_version tlsv1.2")
    conf = folder / "mosquitto.conf"
    _write_private(conf, "\n".join(conf_lines) + "\n", 0o644)
    return BrokerFiles(conf, passwd, acl, folder / "credentials", tuple(warnings))
