"""`farmctl demo`: the whole product on embedded defaults, in one command.

By default: the twin serves the example Gyeongbuk site (three greenhouses, three tanks, a weather station)
as KS X 3267 nodes on free loopback ports, time-accelerated; one site daemon runs every zone from its
recipe over Modbus TCP (the greenhouse and tank controllers found through their entry points); readings,
setpoints, decisions and events go to an embedded SQLite historian; a live view shows every zone and why
each actuator is where it is; the tenant portal serves the zones on http://127.0.0.1:8501 with demo accounts
(farmctl/demo_portal.py; `--no-portal` leaves it out).

`--bench` instead runs the commissioning tour: a fixed bench of KS X 3267 nodes (and a serial
pseudo-terminal pair when socat is installed), read and driven by the technician commands, each printed
before its output so it can be repeated by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click

import farmcore.twin
from farmcore import i18n
from farmcore.errors import BadInput
from farmcore.historian.config import sqlite_url
from farmcore.twin.bench import demo_site, serve_site

STEPS = [
    ("scan the bus for KS X 3267 nodes", "KS X 3267 노드 검색", "bus scan --bus {tcp} --units 1-8"),
    ("read the sensor node", "센서 노드 읽기", "read --bus {tcp} --unit 1"),
    ("heater on for 5 s (TIMED_ON, new OPID, read-back)", "난방기 5초 켜기 (TIMED_ON, 새 OPID, 확인 읽기)",
     "actuate --bus {tcp} --unit 2 --slot 1 timed-on --time 5"),
    ("open the left roof vent", "왼쪽 천창 열기", "actuate --bus {tcp} --unit 2 --slot 17 open"),
    ("read the actuator node", "구동기 노드 읽기", "read --bus {tcp} --unit 2"),
    ("read the tank's dissolved-oxygen probe (vendor profile)", "수조 용존산소 센서 읽기 (제조사 프로파일)",
     "read --bus {tcp} --unit 4 --profile vendor:do-probe"),
    ("the last frames on the wire", "최근 송수신 프레임", "frames --bus {tcp} --last 6"),
]
SERIAL_STEP = ("the same sensor node over serial RTU at 9600 8N1",
               "같은 센서 노드를 RS485 RTU(9600 8N1)로 읽기", "read --bus rtu://{tty}?baud=9600 --unit 1")


@contextlib.contextmanager
def _pty_pair() -> Iterator[tuple[str, str] | None]:
    """A socat pseudo-terminal pair standing in for an RS485 line, when socat is installed."""
    if shutil.which("socat") is None:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="farmctl-demo-"))
    srv, cli = folder / "tty-node", folder / "tty-controller"
    proc = subprocess.Popen(["socat", f"pty,raw,echo=0,link={srv}", f"pty,raw,echo=0,link={cli}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while not (srv.exists() and cli.exists()) and time.monotonic() < deadline:
            time.sleep(0.05)
        yield (str(srv), str(cli)) if srv.exists() and cli.exists() else None
    finally:
        proc.terminate()
        proc.wait(5)
        shutil.rmtree(folder, ignore_errors=True)


class _SiteThread(threading.Thread):
    """Serves the demo site from its own event loop while the commands run in the main thread."""

    def __init__(self, serial: str | None) -> None:
        super().__init__(daemon=True)
        self.serial = serial
        self.port: int | None = None
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        try:
            async with serve_site(demo_site(), tcp=("127.0.0.1", 0), serial=self.serial) as serving:
                self.port = serving.tcp_port
                self.ready.set()
                await self._stopping.wait()
        except BaseException as exc:  # reported by the main thread
            self.error = exc
            self.ready.set()

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self.join(5)


DEMO_SITE = Path(farmcore.twin.__file__).resolve().parent / "sites" / "gyeongbuk-demo.toml"  # package data


@click.command("demo")
@click.option("--speed", type=click.FloatRange(1, 3600), default=60.0, show_default=True,
              help="simulated seconds per real second")
@click.option("--start", "start_at", type=click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%d"]),
              help="simulated start, site local time (default: now)")
@click.option("--for", "duration_s", type=click.FloatRange(min=1), help="stop after this many real seconds")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              help="where the job store, OPIDs and the SQLite history go (default: a new temporary folder)")
@click.option("--live/--no-live", default=True, help="redraw the live view every second")
@click.option("--bench", is_flag=True, help="run the technician commissioning tour on a fixed node bench instead")
@click.option("--mqtt", "mqtt_url", help="link the zones to this broker (default: an embedded broker on loopback)")
@click.option("--mqtt-port", type=click.IntRange(0, 65535), default=1883, show_default=True,
              help="the embedded broker's port (0: any free port)")
@click.option("--site", "site_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=DEMO_SITE,
              help="another site with a twin to run, e.g. farmcore/twin/sites/gyeongbuk-winter.toml "
                   "(default: the Gyeongbuk demo site)")
@click.option("--portal/--no-portal", default=True, help="serve the tenant portal with demo accounts (printed once)")
@click.option("--portal-port", type=click.IntRange(0, 65535), default=8501, show_default=True,
              help="the portal's port (0, or taken: any free port)")
def demo(speed: float, start_at: datetime | None, duration_s: float | None, state_dir: Path | None, live: bool,
         bench: bool, mqtt_url: str | None, mqtt_port: int, site_path: Path, portal: bool, portal_port: int) -> None:
    """Twin site + greenhouse daemon + SQLite historian with a live view (Ctrl-C stops it)."""
    if bench:
        _bench_tour()
        return
    from farmcore.runtime.cli import setup_logging

    setup_logging(logging.WARNING)
    folder = state_dir or Path(tempfile.mkdtemp(prefix="farmctl-demo-"))
    start = None
    if start_at is not None:
        start = start_at.replace(tzinfo=ZoneInfo("Asia/Seoul")).astimezone(UTC)
    began, ended = asyncio.run(_run_site(folder, speed, start, duration_s, live, mqtt_url, mqtt_port, site_path,
                                         portal_port if portal else None))
    span = f"--from {began:%Y-%m-%dT%H:%M}Z --to {ended + timedelta(minutes=1):%Y-%m-%dT%H:%M}Z"
    click.echo(f"\nhistory: farmctl history export --historian {sqlite_url(folder.resolve() / 'history.db')} "
               f"--zone gh1 {span}")


async def _run_site(folder: Path, speed: float, start: datetime | None, duration_s: float | None,
                    live: bool, mqtt_url: str | None = None, mqtt_port: int = 1883,
                    site_path: Path = DEMO_SITE, portal_port: int | None = None) -> tuple[datetime, datetime]:
    """Run the site, linked to `mqtt_url` or to an embedded broker, with the portal on `portal_port` (None: no
    portal); the simulated (start, end) times."""
    async with contextlib.AsyncExitStack() as stack:
        if mqtt_url is None:
            from farmcore.link.embedded import embedded_broker

            try:
                mqtt_url = await stack.enter_async_context(embedded_broker(port=mqtt_port))
            except BadInput:  # the port is taken (another broker?): any free port will do for a demo
                mqtt_url = await stack.enter_async_context(embedded_broker(port=0))
        from farmcore.site import load_site

        site_id = load_site(site_path).site.id
        click.echo(f"MQTT {mqtt_url}: farmctl zone watch --broker {mqtt_url} --site {site_id}", err=True)
        if portal_port is not None:
            from farmctl.demo_portal import start_portal

            start_portal(stack, folder, site_path, mqtt_url, sqlite_url(folder.resolve() / "history.db"),
                         portal_port, start)
        return await _run_linked(folder, speed, start, duration_s, live, mqtt_url, site_path)


async def _run_linked(folder: Path, speed: float, start: datetime | None, duration_s: float | None,
                      live: bool, mqtt_url: str, site_path: Path = DEMO_SITE) -> tuple[datetime, datetime]:
    from farmcore.fieldbus.url import parse_bus_url
    from farmcore.historian.sqlite import SqliteHistorian
    from farmcore.runtime.cli import serve_daemon
    from farmcore.runtime.clock import WallClock
    from farmcore.runtime.controllers import installed
    from farmcore.runtime.daemon import SiteDaemon
    from farmcore.runtime.scheduler import follow_clock
    from farmcore.site import load_site
    from farmcore.twin.clock import TwinClock
    from farmcore.twin.runtime import Twin

    site = load_site(site_path)
    twin = Twin(site, site_file=site_path, start=start)
    free_ports = {b.id: str(replace(parse_bus_url(b.url), host="127.0.0.1", port=0)) for b in site.buses}
    async with twin.serve(free_ports) as bound:
        clock = TwinClock(twin.clock, speed)
        follow_clock(clock)
        historian = SqliteHistorian(folder / "history.db", clock=lambda: twin.clock.now().timestamp())
        began = twin.clock.now()
        # commands come from people in real time: their expiry is judged on the wall clock, not the twin's
        daemon = SiteDaemon(site_path, controllers=installed(), clock=clock, state_dir=folder, bus_urls=bound,
                            historian=historian, mqtt=mqtt_url, command_clock=WallClock())
        plant = asyncio.create_task(twin.run(speed))
        try:  # the last screen either way (the live one, or the only one with --no-live), then the stop check
            await serve_daemon(daemon, live=live, duration_s=duration_s, final_view=True)
        finally:
            plant.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await plant
            historian.close()
    return began, twin.clock.now()


def _bench_tour() -> None:
    cli = click.get_current_context().find_root().command  # the group this command is mounted on (`farmctl`)
    assert isinstance(cli, click.Group)
    lang = i18n.language()
    with _pty_pair() as tty:
        site = _SiteThread(tty[0] if tty else None)
        site.start()
        site.ready.wait(10)
        if site.error is not None or site.port is None:
            raise click.ClickException(f"the simulated site did not start: {site.error}")
        steps = STEPS + ([SERIAL_STEP] if tty else [])
        try:
            for en, ko, template in steps:
                args = shlex.split(template.format(tcp=f"tcp://127.0.0.1:{site.port}",
                                                   tty=tty[1] if tty else ""))
                click.secho(f"\n# {ko if lang == 'ko' else en}", fg="cyan")
                click.secho("$ farmctl " + " ".join(args), bold=True)
                cli.main(args=args, standalone_mode=False)
        finally:
            site.stop()
