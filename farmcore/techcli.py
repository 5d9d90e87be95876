"""The technician's field-bus commands shared by farmctl and aquactl: bus scan, read, actuate, frames.

Contract (DESIGN.md): readable tables by default, one JSON document on stdout with --json, errors
as one line on stderr, exit 0 on success, 1 on a device or protocol error, 2 on bad usage or input.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from farmcore import i18n
from farmcore.errors import BadInput, CommError, DeviceError, FarmError, ModbusExceptionReply
from farmcore.fieldbus.bus import Bus, open_bus
from farmcore.fieldbus.framelog import FrameLog
from farmcore.fieldbus.node import KsNode, read_node_info
from farmcore.fieldbus.profile import builtin_profiles, find_profile
from farmcore.fieldbus.vendor import VendorNode
from farmcore.paths import default_state_dir
from farmcore.textui import table

T = TypeVar("T")
FRAME_HISTORY = 500


def parse_units(text: str) -> list[int]:
    """`1-32`, `5` or `1,3,10-12` -> unit ids within 1..247 (0 is broadcast)."""
    units: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            first, last = int(lo), int(hi or lo)
            units.extend(range(first, last + 1))
    except ValueError:
        raise BadInput(f"--units {text!r}: expected a list like 1-32 or 1,3,5-7") from None
    if not units or min(units) < 1 or max(units) > 247:
        raise BadInput(f"--units {text!r}: unit ids run from 1 to 247")
    return sorted(set(units))


def _frames_file(bus_label: str) -> Path:
    safe = "".join(c if c.isalnum() else "_" for c in bus_label).strip("_")
    return default_state_dir() / "frames" / f"{safe}.jsonl"


def _save_frames(log: FrameLog, bus_label: str) -> None:
    """Keep the last frames of every command per bus, so `frames` can show what was sent."""
    if not len(log):
        return
    path = _frames_file(bus_label)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        old = path.read_text("utf-8").splitlines() if path.exists() else []
        lines = old + [json.dumps(f) for f in log.as_dicts()]
        path.write_text("\n".join(lines[-FRAME_HISTORY:]) + "\n", "utf-8")
    except OSError:
        pass  # the frame history is a convenience; never fail a command for it


@asynccontextmanager
async def _session(url: str, timeout: float | None = None):
    log = FrameLog()
    overrides = {} if timeout is None else {"timeout": timeout}
    bus = open_bus(url, frame_log=log, **overrides)
    try:
        yield bus
    finally:
        await bus.close()
        _save_frames(log, bus.config.label)


def _run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(coro_fn())


def _emit(as_json: bool, document: Any, text: str) -> None:
    if as_json:
        click.echo(json.dumps(document, ensure_ascii=False, indent=None))
    else:
        click.echo(text)


def _warn(lines: list[str]) -> None:
    for line in lines:
        click.echo(f"{i18n.t('warning')}: {line}", err=True)


def bus_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--bus", "bus_url", required=True, metavar="URL",
                        help="tcp://HOST:PORT, rtu+tcp://HOST:PORT or rtu:///dev/ttyUSB0?baud=9600")(f)


json_option = click.option("--json", "as_json", is_flag=True, help="print one JSON document on stdout")
profile_option = click.option("--profile", metavar="ID|FILE",
                              help="register-map profile (needed for vendor devices and KS X 3286 nodes)")


async def _open_node(bus: Bus, unit: int, profile_ref: str | None) -> KsNode | VendorNode:
    if profile_ref:
        profile = find_profile(profile_ref)
        if profile.kind == "vendor":
            return VendorNode(bus, unit, profile)
        return await KsNode.discover(bus, unit, profile=profile)
    try:
        return await KsNode.discover(bus, unit)
    except ModbusExceptionReply as exc:  # a vendor probe refuses the KS node-information registers
        ids = ", ".join(p for p in sorted(builtin_profiles()) if p.startswith("vendor:"))
        raise DeviceError(f"{exc}; {i18n.t('not a KS node').format(ids=ids)}") from None


# --------------------------------------------------------------------------- bus scan


@click.group("bus")
def bus_group() -> None:
    """Commission a bus: find the nodes on it."""


@bus_group.command("scan")
@bus_option
@click.option("--units", default="1-32", show_default=True, help="unit ids to probe, e.g. 1-32 or 1,3,5-7")
@click.option("--timeout", type=float, default=None, help="seconds to wait for each unit (default: bus)")
@json_option
def scan(bus_url: str, units: str, timeout: float | None, as_json: bool) -> None:
    """Discover KS nodes: node information (registers 1-8) and device codes."""
    unit_ids = parse_units(units)

    async def go() -> tuple[list[dict[str, Any]], list[str], str]:
        found: list[dict[str, Any]] = []
        warnings: list[str] = []
        async with _session(bus_url, timeout) as bus:
            await bus.connect()
            with click.progressbar(unit_ids, label=i18n.t("scanning"), file=sys.stderr,
                                   show_pos=True) as bar:
                for unit in bar:
                    entry = await _scan_unit(bus, unit, warnings)
                    if entry:
                        found.append(entry)
            return found, warnings, str(bus.config)

    nodes, warnings, canonical = _run(go)
    _warn(warnings)
    rows = [[n["unit"], n["product_type"], n["protocol_version"], n["channels"], n["profile"] or "-",
             len(n["devices"]), " ".join(f"{d['slot']}:{d['code']}" for d in n["devices"])] for n in nodes]
    text = table([i18n.t(h) for h in ("unit", "type", "protocol", "channels", "profile", "devices",
                                      "slot:code")], rows) if rows else i18n.t("no nodes answered")
    _emit(as_json, {"bus": canonical, "nodes": nodes}, text)


async def _scan_unit(bus: Bus, unit: int, warnings: list[str]) -> dict[str, Any] | None:
    try:
        info = await read_node_info(bus, unit)
    except CommError:
        return None  # silent: nothing at this address
    except (ModbusExceptionReply, FarmError) as exc:
        warnings.append(f"unit {unit}: answers but is not a KS node ({exc})")
        return None
    entry: dict[str, Any] = {"unit": unit, **info.as_dict(), "address_offset": info.address_offset,
                             "profile": None, "devices": []}
    try:
        node = await KsNode.discover(bus, unit, address_offset=info.address_offset)
    except FarmError as exc:
        warnings.append(str(exc))
        return entry
    entry["profile"] = node.profile.id
    entry["devices"] = [{"slot": s, "code": c} for s, c in sorted(node.device_codes.items())]
    warnings.extend(node.warnings)
    return entry


# --------------------------------------------------------------------------- read


@click.command("read")
@bus_option
@click.option("--unit", type=click.IntRange(1, 247), required=True)
@profile_option
@json_option
def read(bus_url: str, unit: int, profile: str | None, as_json: bool) -> None:
    """Read every device of a node: value, unit, status and quality."""

    async def go() -> tuple[dict[str, Any], list[str]]:
        async with _session(bus_url) as bus:
            node = await _open_node(bus, unit, profile)
            snap = await node.read()
            if snap.readings and snap.errors and all(r.quality == "comm_error" for r in snap.readings):
                raise CommError(snap.readings[0].error or f"unit {unit}: no answer")
            return snap.as_dict(), node.warnings

    doc, warnings = _run(go)
    _warn(warnings)
    _emit(as_json, doc, _read_text(doc))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return "-" if value is None else str(value)


def _read_text(doc: dict[str, Any]) -> str:
    node = doc["node"]
    head = " ".join(f"{k}={v}" for k, v in node.items())
    rows = []
    for d in doc["devices"]:
        what = d.get("quantity") or d.get("id") or ""
        value = d.get("value", d.get("bits"))
        detail = ""
        if d.get("opid") is not None:
            detail = f"opid={d['opid']}"
        if d.get("remaining_s"):
            detail += f" remain={d['remaining_s']}s"
        rows.append([d["slot"], _fmt(d.get("code")), d["kind"], what, _fmt(value), d.get("unit") or "",
                     f"{_fmt(d.get('status'))} {d.get('status_name') or ''}".strip(), d["quality"],
                     detail.strip()])
    headers = [i18n.t(h) for h in ("slot", "code", "kind", "quantity", "value", "measurement unit", "status",
                                   "quality", "detail")]
    return f"{i18n.t('unit')} {doc['unit']}: {head}\n" + table(headers, rows)


# --------------------------------------------------------------------------- actuate

OPS = ("on", "off", "timed-on", "open", "close", "stop", "timed-open", "timed-close", "position")


@click.command("actuate")
@bus_option
@click.option("--unit", type=click.IntRange(1, 247), required=True)
@click.option("--slot", type=click.IntRange(1, 200), required=True, help="slot k = device code at 100+k")
@click.argument("op", type=click.Choice(OPS))
@click.option("--time", "time_s", type=click.IntRange(1, 2**32 - 1), help="seconds, for timed-* ops")
@click.option("--position", type=click.IntRange(0, 100), help="percent, for position (level-2 devices)")
@click.option("--no-verify", is_flag=True, help="skip the status read-back")
@profile_option
@json_option
def actuate(bus_url: str, unit: int, slot: int, op: str, time_s: int | None, position: int | None,
            no_verify: bool, profile: str | None, as_json: bool) -> None:
    """Drive one actuator (KS X 3267 command with a new OPID, then read-back)."""

    async def go() -> dict[str, Any]:
        async with _session(bus_url) as bus:
            node = await _open_node(bus, unit, profile)
            try:
                result = await node.command(slot, op, time_s=time_s, position=position, verify=not no_verify)
                if isinstance(node, VendorNode):  # emulated timers run in this process: wait them out
                    if not as_json and result.remaining_s:
                        click.echo(f"{i18n.t('running')} {result.remaining_s} s ...", err=True)
                    await node.wait_idle(timeout=(result.remaining_s or 0) + 30)
            except BaseException:
                if isinstance(node, VendorNode):
                    await node.safe_stop()
                raise
            if not no_verify and not result.verified:
                raise FarmError(f"unit {unit} slot {slot}: {result.message}")
            return {"unit": unit, **result.as_dict()}

    doc = _run(go)
    text = " ".join(f"{k}={v}" for k, v in doc.items())
    _emit(as_json, doc, text)


# --------------------------------------------------------------------------- frames


@click.command("frames")
@bus_option
@click.option("--unit", type=click.IntRange(1, 247), help="also exchange node information with this unit now")
@click.option("--last", type=click.IntRange(1, FRAME_HISTORY), default=40, show_default=True)
@json_option
def frames(bus_url: str, unit: int | None, last: int, as_json: bool) -> None:
    """Recent TX/RX frames on a bus in hex (kept per bus across commands)."""

    async def go() -> str:
        async with _session(bus_url) as bus:
            if unit is not None:
                await read_node_info(bus, unit)
            return bus.config.label

    label = _run(go)
    path = _frames_file(label)
    lines = path.read_text("utf-8").splitlines() if path.exists() else []
    records = [json.loads(line) for line in lines[-last:] if line.strip()]
    text = "\n".join(f"{r['time_utc']} {r['direction']} {r['hex']}" for r in records) or i18n.t("no frames")
    _emit(as_json, {"bus": label, "frames": records}, text)
