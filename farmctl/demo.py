"""`farmctl demo`: a simulated KS X 3267 site, commissioned, read and driven by the technician commands.

The twin serves the demo site on a free loopback port (and on a serial pseudo-terminal pair when socat is
installed) in a background thread; the demo then runs the same commands a technician would type and
prints each one before its output, so what is shown can be repeated by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import click

from farmcore import i18n
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


@click.command("demo")
def demo() -> None:
    """Serve a simulated KS X 3267 site and read and drive it with the technician commands."""
    from farmctl.cli import cli  # the group this command is mounted on

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
