"""The MQTT control plane on loopback: command round trip and state fan-out. Prints one JSON line.

Set-up: a real mosquitto 2 configured by `farmctl broker config` (accounts, per-zone ACLs) on a free port;
the digital twin of a generated site (benchmarks/daemon_scale_site.py) in another process
(`farmctl twin --speed 1`); the site daemon (SiteDaemon, farmctl's greenhouse controller, no historian,
1 s tick) in this process, linked to the broker on its own account; a paho-mqtt client on the technician's
account in a thread of this process.

- cmd_rtt_p50_ms / cmd_rtt_p99_ms: one greenhouse zone. The client publishes an override of the heater
  (QoS 1, alternately on and off, so each one changes the target and costs a KS X 3267 write) and waits for
  its ack; the time from publish to ack, over `--commands` commands sent one after the other with a random
  0-50 ms pause (so some arrive while a tick holds the zone). The daemon acks after the Modbus write, which
  `writes_per_cmd` counts (writes made on the command path / commands; 1.0 means every ack followed its write).
- fanout_zones / fanout_msgs_per_s: `--zones` zones (default 200), each publishing its retained state once a
  second; a subscriber to `farm/SITE/+/state` counts the states it receives over `--seconds`, by tick (each
  state carries its tick's time): fanout_msgs_per_s = received / seconds spanned (ideal: zones / tick),
  fanout_loss (1 - received / (zones x ticks)), fanout_ticks,
  state_latency_p50/p99_ms (the state's `time` to its arrival; it includes the rest of the tick), and the
  daemon's figures with the link on (cpu_ms_per_zone_tick, p99_lateness_ms: the same measurement as
  benchmarks/daemon_scale.py) and mosquitto's CPU share.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import queue
import random
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "benchmarks"))  # appended: benchmarks/portal.py must not shadow the portal package

import paho.mqtt.client as mqtt  # noqa: E402
from daemon_scale import LocalBroker, _free_ports, _p, _proc_cpu_s, _quiet_logs, measure, twin_process  # noqa: E402
from daemon_scale_site import bus_count, site_toml  # noqa: E402

from farmcore.runtime.daemon import SiteDaemon  # noqa: E402
from farmctl.cli import CONTROLLERS  # noqa: E402

SITE_ID = "daemon-scale"


class Broker(LocalBroker):
    """The site's mosquitto (daemon_scale.LocalBroker) and a technician's paho client on it."""

    def client(self, on_message: Any) -> mqtt.Client:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex[:8]}")
        c.username_pw_set("technician", (self.credentials / "technician").read_text().strip())
        c.on_message = on_message
        c.connect("127.0.0.1", self.port)
        c.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as farmcore.link's clients do
        c.loop_start()
        return c


def _command(cid: str, on: bool) -> bytes:
    now = datetime.now(UTC)
    return json.dumps({"id": cid, "issued_by": "technician:bench", "kind": "override", "target": "heater",
                       "value": "on" if on else "off", "duration_s": 60, "issued_at": now.isoformat(),
                       "expires_at": (now + timedelta(minutes=5)).isoformat()}).encode()


async def command_rtt(tmp: Path, commands: int) -> dict[str, Any]:
    ports = _free_ports(1)
    site = tmp / "one.toml"
    site.write_text(site_toml(1, ports, tick_s=1.0))
    broker = Broker(site, tmp / "broker-one")
    try:
        with twin_process(site, ports, tmp / "twin-one.log"):
            daemon = SiteDaemon(site, controllers=CONTROLLERS, state_dir=tmp / "state-one", historian=None,
                                mqtt=broker.url(f"farmctl-{SITE_ID}"))
            writes = 0
            on_command_path = False
            send = daemon.actuation.send

            async def counted(*args: Any, **kw: Any) -> None:
                nonlocal writes
                if on_command_path:
                    writes += 1
                await send(*args, **kw)

            handle = daemon.on_command

            async def flagged(zone: str, payload: bytes, account: str | None = None) -> bytes:
                nonlocal on_command_path
                on_command_path = True
                try:
                    return await handle(zone, payload, account)
                finally:
                    on_command_path = False

            daemon.actuation.send = counted  # type: ignore[method-assign]
            daemon.on_command = flagged  # type: ignore[method-assign]
            task = asyncio.create_task(daemon.run())
            while daemon.ticks < 2 or daemon.link is None or daemon.link.connected < 1:
                await asyncio.sleep(0.05)
            acks: queue.Queue[tuple[float, bytes]] = queue.Queue()
            client = broker.client(lambda _c, _u, m: acks.put((time.perf_counter(), m.payload)))
            zone = next(iter(daemon.zones))
            client.subscribe(f"farm/{SITE_ID}/{zone}/ack", qos=1)
            await asyncio.sleep(0.5)
            rtts, rejected = [], 0
            on = not bool(daemon.zones[zone].run.drivers["heater"].target)
            for i in range(commands):
                cid = f"rtt-{i}-{uuid.uuid4().hex[:6]}"
                t0 = time.perf_counter()
                client.publish(f"farm/{SITE_ID}/{zone}/cmd/technician", _command(cid, on), qos=1)
                while True:
                    t1, payload = await asyncio.to_thread(acks.get, True, 10)
                    ack = json.loads(payload)
                    if ack["id"] == cid:
                        break
                rtts.append(t1 - t0)
                rejected += not ack["ok"]
                on = not on
                await asyncio.sleep(random.uniform(0, 0.05))
            client.loop_stop()
            client.disconnect()
            daemon.request_stop()
            await task
    finally:
        broker.close()
    return {"cmd_rtt_p50_ms": round(_p(rtts, 0.5) * 1000, 2), "cmd_rtt_p99_ms": round(_p(rtts, 0.99) * 1000, 2),
            "cmd_rtt_max_ms": round(max(rtts) * 1000, 2), "commands": len(rtts), "rejected": rejected,
            "writes_per_cmd": round(writes / max(1, len(rtts)), 3)}


def fanout(tmp: Path, zones: int, seconds: float, warmup: float) -> dict[str, Any]:
    ports = _free_ports(bus_count(zones, 40))
    site = tmp / "many.toml"
    site.write_text(site_toml(zones, ports, tick_s=1.0))
    broker = Broker(site, tmp / "broker-many")
    received: list[tuple[float, float]] = []  # (arrival wall time, state time)
    lock = threading.Lock()
    counting = threading.Event()

    def on_message(_c: Any, _u: Any, m: mqtt.MQTTMessage) -> None:
        if not counting.is_set() or m.retain:
            return
        at = time.time()
        sent = datetime.fromisoformat(json.loads(m.payload)["time"].replace("Z", "+00:00")).timestamp()
        with lock:
            received.append((at, sent))

    client = broker.client(on_message)
    client.subscribe(f"farm/{SITE_ID}/+/state", qos=0)
    try:
        with twin_process(site, ports, tmp / "twin-many.log") as twin:
            result: dict[str, Any] = {}

            async def run() -> None:
                # count the states of exactly the daemon's measured window
                loop = asyncio.get_running_loop()
                timer = loop.call_later(warmup, counting.set)  # measure() waits `warmup` after the first tick
                try:
                    result.update(await measure(site, tmp / "state-many", twin.pid, client="fasttcp",
                                                warmup_s=warmup, seconds=seconds, profile=None,
                                                mqtt=broker.url(f"farmctl-{SITE_ID}")))
                finally:
                    timer.cancel()

            cpu0 = _proc_cpu_s(broker.proc.pid)
            t0 = time.perf_counter()
            asyncio.run(run())
            counting.clear()
            mosq_share = (_proc_cpu_s(broker.proc.pid) - cpu0) / (time.perf_counter() - t0)
    finally:
        client.loop_stop()
        client.disconnect()
        broker.close()
    # every zone's state of one tick carries that tick's time: count by tick, leaving out the first and the
    # last tick seen (the counting started and stopped in the middle of them)
    by_tick: dict[float, int] = {}
    for _at, sent in received:
        by_tick[sent] = by_tick.get(sent, 0) + 1
    ticks = sorted(by_tick)[1:-1]
    inside = set(ticks)
    got = sum(by_tick[t] for t in ticks)
    span = ticks[-1] - ticks[0] + 1.0 if ticks else float("nan")  # one tick a second
    latency = [at - sent for at, sent in received if sent in inside]
    return {"fanout_zones": zones, "fanout_msgs_per_s": round(got / span, 1),
            "fanout_loss": round(max(0.0, 1 - got / (zones * len(ticks))), 4), "fanout_ticks": len(ticks),
            "state_latency_p50_ms": round(_p(latency, 0.5) * 1000, 1),
            "state_latency_p99_ms": round(_p(latency, 0.99) * 1000, 1),
            "linked_cpu_ms_per_zone_tick": result["cpu_ms_per_zone_tick"],
            "linked_p99_lateness_ms": result["p99_lateness_ms"], "linked_ticks": result["ticks"],
            "mosquitto_cpu_share": round(mosq_share, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=500, help="commands for the round trip (default 500)")
    parser.add_argument("--zones", type=int, default=200, help="zones for the fan-out (default 200)")
    parser.add_argument("--seconds", type=float, default=30.0, help="fan-out window, s (default 30)")
    parser.add_argument("--warmup", type=float, default=5.0, help="s after the first tick, not measured")
    args = parser.parse_args()
    if shutil.which("mosquitto") is None:
        sys.exit("benchmarks/link.py needs mosquitto (apt-get install mosquitto)")
    restore = _quiet_logs(True)
    try:
        with tempfile.TemporaryDirectory(prefix="link-bench-") as name:
            tmp = Path(name)
            out = asyncio.run(command_rtt(tmp, args.commands))
            out.update(fanout(tmp, args.zones, args.seconds, args.warmup))
    finally:
        restore()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
