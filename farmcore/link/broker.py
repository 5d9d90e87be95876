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
import secrets
from dataclasses import dataclass
from pathlib import Path

from farmcore.errors import BadInput
from farmcore.link.messages import topic
from farmcore.site import SiteFile

DAEMON_LEAVES = ("status", "state", "alarms", "events", "ack")
ACCOUNT_PREFIX = {"greenhouse": "farmctl", "tank": "aquactl"}
PBKDF2_ITERATIONS = 101  # mosquitto_passwd's default for $7$ (mosquitto 2.0 src/password_mosq.c)


@dataclass(frozen=True)
class Tls:
    certfile: Path
    keyfile: Path
    cafile: Path | None = None


def hash_password(password: str, salt: bytes | None = None) -> str:
    """A mosquitto 2 `$7$` password hash."""
    salt = salt if salt is not None else os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    return f"$7${PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def accounts(site: SiteFile) -> dict[str, list[str]]:
    """{account: ACL lines}."""
    sid = site.site.id
    out: dict[str, list[str]] = {}
    for zone in site.zones:
        account = f"{ACCOUNT_PREFIX[zone.kind]}-{sid}"
        lines = out.setdefault(account, [])
        lines += [f"topic write {topic(sid, zone.id, leaf)}" for leaf in DAEMON_LEAVES]
        lines.append(f"topic read {topic(sid, zone.id, 'cmd')}")
    for account in ("portal", "technician"):
        out[account] = [f"topic write farm/{sid}/+/cmd", f"topic read farm/{sid}/#"]
    return out


def _credential(folder: Path, account: str, rotate: bool) -> str:
    path = folder / "credentials" / account
    if path.exists() and not rotate:
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    password = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    return password


def write_config(site: SiteFile, folder: Path, *, listen: str = "0.0.0.0:1883", tls: Tls | None = None,
                 rotate: bool = False, run_as: str | None = None) -> dict[str, Path]:
    """Write mosquitto.conf, passwd, acl and credentials/ into `folder`; the paths written.

    The password file is private (0600): mosquitto started as root drops to the user `mosquitto`, so either
    chown the folder to that user or give `run_as` (the `user` setting) as the files' owner."""
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
    acl.write_text("\n".join(acl_lines))
    passwd = folder / "passwd"
    fd = os.open(passwd, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
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
    if run_as:
        conf_lines.insert(1, f"user {run_as}")
    if tls is not None:
        conf_lines += [f"certfile {tls.certfile.resolve()}", f"keyfile {tls.keyfile.resolve()}"]
        if tls.cafile is not None:
            conf_lines.append(f"cafile {tls.cafile.resolve()}")
        conf_lines.append("tls_version tlsv1.2")
    conf = folder / "mosquitto.conf"
    conf.write_text("\n".join(conf_lines) + "\n")
    return {"conf": conf, "passwd": passwd, "acl": acl, "credentials": folder / "credentials"}
