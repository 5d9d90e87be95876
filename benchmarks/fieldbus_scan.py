"""Wire time of one full scan of a site of 8 sparsely populated KS X 3267/3288 nodes.

Prints one JSON line:
- plan_*: our poll plan (farmcore.fieldbus.pollplan.plan, as KsNode uses it);
- per_point_*: one request per point, as Home Assistant and Mycodo are usually configured (one
  entity per register item: a sensor's value and its status, an actuator's OPID, status and
  remaining time); per_device_* is the kinder variant of one request per device block;
- optimum_*: exhaustive search over every grouping of each node's spans into requests (written
  here independently of the planner, so it checks it);
- cpu_us_per_request: client CPU per Modbus TCP read through farmcore's Bus against the simulated
  site served by another process on loopback.
Wire time: RTU at 9600 8N1 (10 bits per character), request + response + 3.5-character silence
after each frame (Modbus over Serial Line V1.02 §2.5.1.1) + the node's turnaround, taken as the 10 ms
the controller's planner assumes (farmcore.fieldbus.node.TYPICAL_TURNAROUND_S). The *_no_turnaround
figures give the same comparison for an ideal node that answers at once.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

from farmcore.fieldbus import codes
from farmcore.fieldbus.bus import open_bus
from farmcore.fieldbus.node import TYPICAL_TURNAROUND_S, KsNode
from farmcore.fieldbus.pollplan import LineCost, Span, per_point, wire_time_s
from farmcore.fieldbus.profile import Profile, builtin_profiles

LINE = LineCost(baud=9600, bits_per_char=10, turnaround_s=TYPICAL_TURNAROUND_S)
IDEAL = LineCost(baud=9600, bits_per_char=10, turnaround_s=0.0)
SEED = 3267


def site(rng: random.Random) -> list[tuple[Profile, dict[int, int]]]:
    """8 nodes: 4 sensor nodes, 3 actuator nodes, 1 nutrient node, each sparsely populated."""
    profiles = builtin_profiles()
    sensor = profiles["ksx3267:2022/sensor-default"]
    actuator = profiles["ksx3267:2022/actuator-default"]
    nutrient = profiles["ksx3288:2022/nutrient-default"]
    nodes = []
    for _ in range(4):
        slots = rng.sample(range(1, 31), rng.randint(4, 9))
        nodes.append((sensor, {s: sensor.slot(s).expect_codes[0] for s in slots}))
    for _ in range(3):
        switches = rng.sample(range(1, 17), rng.randint(2, 6))
        openers = rng.sample(range(17, 25), rng.randint(1, 4))
        nodes.append((actuator, {s: 102 for s in switches} | {s: 112 for s in openers}))
    slots = rng.sample(range(1, 21), 5)
    nodes.append((nutrient, {s: nutrient.slot(s).expect_codes[0] for s in slots} | {21: 202}))
    return nodes


def item_spans(node: KsNode) -> list[Span]:
    """One span per register item, as one entity per value/status is configured in HA or Mycodo."""
    spans = []
    blocks = [("node", node.profile.node_read)] + [(d.slot, d.read) for d, _c, _t in node.devices()]
    for key, block in blocks:
        for item in block.items:
            spans.append(Span(block.fc, item.register, item.size, (key, item.name)))
    return spans


def exhaustive_optimum(spans: list[Span], readable: list[tuple[int, int, int]], line: LineCost) -> float:
    """Minimum wire time over every way to cut the sorted spans into consecutive requests."""
    spans = sorted(spans, key=lambda s: (s.start, s.count))

    def readable_gap(a: int, b: int) -> bool:
        return all(any(lo <= r <= hi for _fc, lo, hi in readable) for r in range(a, b))

    best = float("inf")
    n = len(spans)
    for cuts in itertools.product((False, True), repeat=n - 1):
        total, first, ok = 0.0, 0, True
        for i in range(n):
            if i == n - 1 or cuts[i]:
                group = spans[first:i + 1]
                lo = min(s.start for s in group)
                hi = max(s.start + s.count - 1 for s in group)
                covered = {r for s in group for r in range(s.start, s.start + s.count)}
                gap = any(r not in covered for r in range(lo, hi + 1))
                if hi - lo + 1 > 125 or (gap and not readable_gap(lo, hi + 1)):
                    ok = False
                    break
                total += line.transaction_s(group[0].fc, hi - lo + 1)
                first = i + 1
        if ok:
            best = min(best, total)
    return best


def wire_figures(line: LineCost = LINE) -> dict[str, float | int]:
    rng = random.Random(SEED)
    plan_s = per_point_s = per_device_s = optimum_s = 0.0
    plan_n = per_point_n = per_device_n = 0
    plan_bytes = per_point_bytes = 0
    for profile, device_codes in site(rng):
        assert all(codes.device_type(c) for c in device_codes.values())
        node = KsNode(bus=None, unit=1, profile=profile, device_codes=device_codes, cost=line)  # type: ignore[arg-type]
        spans = node.spans()
        ours = node.poll_plan()
        naive = per_point(item_spans(node))
        per_device = per_point(spans)
        plan_s += wire_time_s(ours, line)
        per_point_s += wire_time_s(naive, line)
        per_device_s += wire_time_s(per_device, line)
        optimum_s += exhaustive_optimum(spans, profile.read_areas(), line)
        plan_n += len(ours)
        per_point_n += len(naive)
        per_device_n += len(per_device)
        plan_bytes += sum(line.bytes(r.fc, r.count) for r in ours)
        per_point_bytes += sum(line.bytes(r.fc, r.count) for r in naive)
    return {
        "plan_wire_ms": round(plan_s * 1000, 2),
        "per_point_wire_ms": round(per_point_s * 1000, 2),
        "per_device_wire_ms": round(per_device_s * 1000, 2),
        "optimum_wire_ms": round(optimum_s * 1000, 2),
        "plan_requests": plan_n,
        "per_point_requests": per_point_n,
        "per_device_requests": per_device_n,
        "plan_bytes": plan_bytes,
        "per_point_bytes": per_point_bytes,
        "plan_vs_optimum": round(plan_s / optimum_s, 4),
        "per_point_vs_plan": round(per_point_s / plan_s, 2),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _cpu_per_request(port: int, requests: int) -> float:
    bus = open_bus(f"tcp://127.0.0.1:{port}?timeout=2")
    await bus.connect()
    for _ in range(50):  # warm up
        await bus.read(1, 3, 202, 91)
    start = time.process_time()
    for _ in range(requests):
        await bus.read(1, 3, 202, 91)
    used = time.process_time() - start
    await bus.close()
    return used / requests * 1e6


def cpu_figures(requests: int = 2000) -> dict[str, float]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "farmctl.cli", "twin", "--tcp", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the simulated site did not start") from None
                time.sleep(0.1)
        return {"cpu_us_per_request": round(asyncio.run(_cpu_per_request(port, requests)), 1)}
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    figures = wire_figures()
    ideal = wire_figures(IDEAL)
    figures.update({f"{k}_no_turnaround": ideal[k] for k in
                    ("plan_wire_ms", "per_point_wire_ms", "optimum_wire_ms", "per_point_vs_plan")})
    figures["turnaround_ms"] = LINE.turnaround_s * 1000
    figures.update(cpu_figures())
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
