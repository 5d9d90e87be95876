"""The tenant portal beside `farmctl demo`: the demo's site registered, demo accounts with leases, and the portal's
Streamlit server on http://127.0.0.1:8501 reading the demo's broker and historian.

Passwords are generated for every run and printed once: a demo must not ship a known password that then works
on a box someone forgot to wipe. The live view owns the terminal's alternate screen while it runs, so the same
lines also go to a file only the user can read in the demo's state folder, named in what is printed.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click

from farmcore.site import load_site

PORTAL_PORT = 8501  # Streamlit's own default: what a farmer types after reading the demo's docs
LEASE_DAYS = 365  # long enough that a demo left running keeps its leases
STOP_S = 10.0


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    password: str
    zones: tuple[str, ...] = ()


def _seoul_day(when: datetime) -> date:
    return (when.astimezone(UTC) + timedelta(hours=9)).date()  # Asia/Seoul has had no DST since 1988


def _tenant_zones(site_path: Path) -> tuple[str | None, str | None]:
    """Two zones of different tenants: the first greenhouse and the first tank (else the second zone)."""
    zones = load_site(site_path).zones
    first = next((z.id for z in zones if z.kind == "greenhouse"), zones[0].id if zones else None)
    other = next((z.id for z in zones if z.kind == "tank"), None)
    if other is None:
        other = next((z.id for z in zones if z.id != first), None)
    return first, other


def prepare_store(db_url: str, site_path: Path, simulated_start: datetime | None) -> list[DemoAccount]:
    """Register the site, make the demo accounts with new passwords and lease each tenant a zone from the day
    the simulated history starts (a tenant reads history only from the lease's start)."""
    from portal.service import accounts, leases, sites
    from portal.service.store import Store

    now = datetime.now(UTC)
    start = min(_seoul_day(now), _seoul_day(simulated_start or now)) - timedelta(days=1)
    first, other = _tenant_zones(site_path)
    made = [DemoAccount("kim", "tenant", accounts.generate_password(), (first,) if first else ()),
            DemoAccount("lee", "tenant", accounts.generate_password(), (other,) if other else ()),
            DemoAccount("park", "officer", accounts.generate_password()),
            DemoAccount("admin", "admin", accounts.generate_password())]
    with Store.open(db_url) as store:
        site = sites.register_site(store, site_path)
        for a in made:
            if accounts.account(store, a.username) is None:
                accounts.create_user(store, a.username, a.role, a.password, display_name=a.username.title())
            else:  # a --state-dir used before: same accounts, new passwords (the old ones were printed once)
                accounts.set_password(store, a.username, a.password)
            if a.role == "officer":
                accounts.assign_site(store, a.username, site.id)
            for zone in a.zones:
                if not leases.leases(store, tenant=a.username, site=site.id, zone=zone, active_on=_seoul_day(now)):
                    leases.add_lease(store, a.username, site.id, zone, start, _seoul_day(now) +
                                     timedelta(days=LEASE_DAYS), "farmctl-demo", note="demo")
    return made


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_args(port: int, db_url: str, broker_url: str, historian_url: str) -> list[str]:
    """The command that serves the portal: `farmctl portal serve` (a child process: Streamlit wants a main thread
    and an event loop of its own)."""
    return [sys.executable, "-m", "farmctl.cli", "portal", "serve", "--address", "127.0.0.1", "--port", str(port),
            "--db", db_url, "--broker", broker_url, "--historian", historian_url]


def accounts_text(url: str, made: list[DemoAccount], site_id: str, saved: Path) -> str:
    rows = [f"portal {url}  (Ctrl-C stops it with the demo; these passwords are shown once, and saved in {saved})"]
    for a in made:
        zones = f"  {', '.join(f'{site_id}/{z}' for z in a.zones)}" if a.zones else ""
        rows.append(f"  {a.role:<8} {a.username:<6} {a.password}{zones}")
    return "\n".join(rows)


@contextlib.contextmanager
def demo_portal(folder: Path, site_path: Path, broker_url: str, historian_url: str, port: int = PORTAL_PORT,
                simulated_start: datetime | None = None) -> Iterator[str]:
    """Start the portal for the demo; yield its URL; stop it (SIGTERM, then SIGKILL after STOP_S) on the way out.

    `port` 0, or a port taken by something else, serves on any free port (the printed URL says which)."""
    db_url = f"sqlite:///{folder.resolve() / 'portal.db'}"
    made = prepare_store(db_url, site_path, simulated_start)
    if port == 0 or not _port_free(port):
        port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (folder / "portal.log").open("w")
    proc = subprocess.Popen(serve_args(port, db_url, _as_portal(broker_url), historian_url), stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=os.environ.copy())
    log.close()
    saved = folder / "portal-accounts.txt"
    text = accounts_text(url, made, load_site(site_path).site.id, saved)
    saved.touch(mode=0o600)
    saved.chmod(0o600)  # an older file of another run may have other bits
    saved.write_text(text + "\n", "utf-8")
    click.echo(text, err=True)
    try:
        yield url
    finally:
        _stop(proc)


def _as_portal(broker_url: str) -> str:
    """The demo broker's URL on the `portal` account (the embedded broker accepts any name; mosquitto's would
    need the account's password, given with --mqtt)."""
    scheme, sep, rest = broker_url.partition("://")
    return broker_url if "@" in rest or not sep else f"{scheme}://portal@{rest}"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(STOP_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def start_portal(stack: contextlib.AsyncExitStack, folder: Path, site_path: Path, broker_url: str,
                 historian_url: str, port: int, simulated_start: datetime | None) -> str | None:
    """`demo_portal` entered on the demo's exit stack; the demo goes on without it (one line saying why) when the
    portal cannot start, e.g. a wheel installed without the portal's dependencies."""
    try:
        return stack.enter_context(demo_portal(folder, site_path, broker_url, historian_url, port, simulated_start))
    except (ImportError, ValueError, OSError) as exc:  # PortalError and FarmError are ValueErrors
        click.echo(f"portal not started: {exc}", err=True)
        return None
