"""`twin`: serve the simulated demo site as Modbus nodes, mounted on both `farmctl` and `aquactl`.

A technician practises commissioning (`bus scan`, `read`, `actuate`) against it, the demo runs on it, and
the hardware-in-the-loop tests start it. It runs until Ctrl-C or SIGTERM and then exits 0.
"""

from __future__ import annotations

import asyncio
import signal

import click

from farmcore import i18n
from farmcore.errors import BadInput, FarmError
from farmcore.textui import table
from farmcore.twin.registers import UnitMap
from farmcore.twin.site import Serving, demo_site, describe, serve_site


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


@click.command("twin")
@click.option("--tcp", default="127.0.0.1:5020", show_default=True, metavar="HOST:PORT",
              help="Modbus TCP listener")
@click.option("--rtu-tcp", metavar="HOST:PORT", help="also serve RTU frames over TCP, like an RS485 gateway")
@click.option("--serial", metavar="PATH", help="also serve RTU on this serial port (e.g. a socat pty)")
@click.option("--baud", default="9600", show_default=True, help="serial baud rate, 8N1")
def twin(tcp: str, rtu_tcp: str | None, serial: str | None, baud: str) -> None:
    """Serve the simulated demo site (greenhouse and tank) as Modbus nodes until Ctrl-C."""
    tcp_addr = parse_host_port("--tcp", tcp)
    rtu_addr = None if rtu_tcp is None else parse_host_port("--rtu-tcp", rtu_tcp)
    baudrate = parse_baud(baud)
    asyncio.run(_serve(demo_site(), tcp_addr, rtu_addr, serial, baudrate))
    click.echo("twin stopped", err=True)
