"""`twin`: serve the simulated demo site as Modbus nodes, mounted on both `farmctl` and `aquactl`.

A technician practises commissioning (`bus scan`, `read`, `actuate`) against it, the demo runs on it, and
the hardware-in-the-loop tests start it. It runs until Ctrl-C or SIGTERM and then exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import click

from farmcore import i18n
from farmcore.errors import BadInput, FarmError
from farmcore.site import load_site
from farmcore.textui import table
from farmcore.twin import calibration
from farmcore.twin.bench import Serving, demo_site, describe, serve_site
from farmcore.twin.registers import UnitMap
from farmcore.twin.runtime import MAX_SPEED, Twin, nodes_table


def parse_host_port(option: str, text: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[::1]:5020`) -> (host, port); port 0 picks a free one."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise BadInput(f"{option} {text!r}: expected HOST:PORT, e.g. 127.0.0.1:5020")
    return host, int(port)


def parse_baud(text: str) -> int:
    if not text.isdigit() or not 50 <= int(text) <= 4_000_000:
        raise BadInput(f"--baud {text!r}: expected a baud rate such as 9600")
    return int(text)


def _url(scheme: str, host: str, port: int | None) -> str:
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _announce(serving: Serving, site: UnitMap, tcp: tuple[str, int], rtu_tcp: tuple[str, int] | None,
              baudrate: int) -> None:
    click.echo(f"listening: {_url('tcp', tcp[0], serving.tcp_port)} (Modbus TCP)")
    if rtu_tcp is not None:
        click.echo(f"listening: {_url('rtu+tcp', rtu_tcp[0], serving.rtu_tcp_port)} (RTU over TCP)")
    if serving.serial is not None:
        click.echo(f"listening: serial {serving.serial} at {baudrate} 8N1 (RTU)")
    click.echo(table([i18n.t(h) for h in ("unit", "kind", "profile")], describe(site)))
    click.echo("Ctrl-C stops the twin", err=True)


async def _serve(site: UnitMap, tcp: tuple[str, int], rtu_tcp: tuple[str, int] | None, serial: str | None,
                 baudrate: int) -> None:
    try:
        async with serve_site(site, tcp=tcp, rtu_tcp=rtu_tcp, serial=serial, baudrate=baudrate) as serving:
            _announce(serving, site, tcp, rtu_tcp, baudrate)
            await _until_stopped()
    except OSError as exc:  # port taken, no such serial device, no permission
        raise FarmError(f"cannot serve: {exc}") from None


async def _serve_site(twin_site: Twin, urls: dict[str, str], speed: float) -> None:
    try:
        async with twin_site.serve(urls) as bound:
            for bus, url in bound.items():
                click.echo(f"listening: {url} (bus {bus})")
            rows = nodes_table(twin_site)
            click.echo(table([i18n.t(h) for h in ("bus", "unit", "profile", "zones")], rows))
            click.echo(f"simulated time starts {twin_site.clock.now().isoformat()} at {speed:g}x; "
                       "Ctrl-C stops the twin", err=True)
            runner = asyncio.create_task(twin_site.run(speed))
            try:
                await _until_stopped()
            finally:
                runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await runner
    except OSError as exc:  # port taken, no such serial device, no permission
        raise FarmError(f"cannot serve: {exc}") from None


def _parse_serve(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for value in values:
        bus, sep, url = value.partition("=")
        if not sep or not bus or not url:
            raise BadInput(f"--serve {value!r}: expected BUS=URL, e.g. greenhouses=tcp://127.0.0.1:0")
        out[bus] = url
    return out


def _parse_start(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"--start {text!r}: expected an ISO 8601 time such as 2026-01-15T00:00+09:00") from None
    return (start if start.tzinfo else start.replace(tzinfo=ZoneInfo("Asia/Seoul"))).astimezone(UTC)


@click.group("twin", invoke_without_command=True)
@click.option("--site", "site_file", metavar="SITE.toml",
              help="serve this site with its plant models (without it: a fixed six-unit commissioning bench)")
@click.option("--speed", type=float, default=1.0, show_default=True, help="simulated seconds per second, 1-3600")
@click.option("--start", metavar="ISO8601", help="simulated start time (local Asia/Seoul if no offset)")
@click.option("--serve", "serve", multiple=True, metavar="BUS=URL", help="serve a bus elsewhere than its site URL")
@click.option("--tcp", default="127.0.0.1:5020", show_default=True, metavar="HOST:PORT",
              help="bench: Modbus TCP listener")
@click.option("--rtu-tcp", metavar="HOST:PORT", help="bench: also serve RTU frames over TCP, like an RS485 gateway")
@click.option("--serial", metavar="PATH", help="bench: also serve RTU on this serial port (e.g. a socat pty)")
@click.option("--baud", default="9600", show_default=True, help="bench: serial baud rate, 8N1")
@click.pass_context
def twin(ctx: click.Context, site_file: str | None, speed: float, start: str | None, serve: tuple[str, ...],
         tcp: str, rtu_tcp: str | None, serial: str | None, baud: str) -> None:
    """Serve a simulated site (digital twin) as Modbus nodes until Ctrl-C."""
    if ctx.invoked_subcommand is not None:
        return
    if site_file is not None:
        if not 1 <= speed <= MAX_SPEED:
            raise BadInput(f"--speed {speed:g}: allowed 1 to {MAX_SPEED:g}")
        twin_site = Twin(load_site(site_file), site_file=site_file, start=_parse_start(start))
        asyncio.run(_serve_site(twin_site, _parse_serve(serve), speed))
        click.echo("twin stopped", err=True)
        return
    tcp_addr = parse_host_port("--tcp", tcp)
    rtu_addr = None if rtu_tcp is None else parse_host_port("--rtu-tcp", rtu_tcp)
    baudrate = parse_baud(baud)
    asyncio.run(_serve(demo_site(), tcp_addr, rtu_addr, serial, baudrate))
    click.echo("twin stopped", err=True)


for _command in calibration.COMMANDS:
    twin.add_command(_command)
