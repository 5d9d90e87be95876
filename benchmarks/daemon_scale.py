"""One site daemon driving N greenhouse zones over Modbus TCP: CPU per zone-tick and tick lateness.

Prints one JSON line. Set-up: a generated site (benchmarks/daemon_scale_site.py) of N tomato zones, each
a KS X 3267 sensor node (5 sensors) and actuator node (7 actuators), spread over one Modbus TCP bus per
`--zones-per-bus` zones, plus a weather station; `[runtime] tick_s = --tick`. The digital twin serves the
site in another process (`farmctl twin --site FILE --speed 1`); the daemon (farmcore.runtime.daemon.
SiteDaemon with farmctl's greenhouse controller, no historian, INFO logs formatted as `farmctl run` does
and written to /dev/null) runs in this process. After the start (node discovery, start states) and
`--warmup` seconds (and, if needed, a wait that puts the zones' recipe jobs, which all fire at the same
instant every `[runtime] recipe_check_s` = 60 s, in the middle of the window: one tick in 60 meets them in a
long run, so they set the long-run p99), the measured window of `--seconds` gives:

- cpu_ms_per_zone_tick: this process's CPU time (user + system, every thread) over the window divided
  by ticks x zones. Target (issue "daemon scale"): <= 1 ms at 200 zones with a 1 s tick;
- p99_lateness_ms: 99th percentile of how late each tick started against its grid (SiteDaemon.lateness_s).
  Target: <= 100 ms;
- extras: ticks_missed (grid slots skipped because a tick overran: the daemon then restarts its grid, so
  an overrun shows here and not in the lateness), overruns (ticks longer than tick_s), requests_per_tick
  (Modbus transactions, all buses), tick_wall_ms_mean/max (wall time of one tick), read_wall_ms_mean
  (its read-all phase), tick_cpu_ms_mean, read_cpu_ms_per_zone_tick and decide_cpu_ms_per_zone_tick (the
  tick's CPU split into reading every node, requests and decoding, and the rest: tracks, recipe, controller,
  safety, commands; CPU outside ticks, e.g. scheduler jobs, is in neither), window_s, recipe_job_bursts
  (recipe-job instants inside the window), start_s (daemon start to its first tick done), twin_cpu_share
  (CPU of the twin process per wall second: it shares the machine, and on a loaded machine the wall-time
  figures mean little).

The daemon opens `tcp://` buses with the lean farmcore.fieldbus.fasttcp client (production). `--client
pymodbus` swaps every bus for the pymodbus-based farmcore.fieldbus.bus.Bus (patching `open_fast_bus` of the
daemon module in this process only), for comparison; `--client both` runs both, one after the other, against
the same twin, and reports the fasttcp (production) figures at the top level and both under `clients`.
`--profile FILE` writes a cProfile of the measured window (pstats format, CPU time: process_time timer).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daemon_scale_site import bus_count, site_toml  # noqa: E402

from farmcore.historian.sqlite import SqliteHistorian  # noqa: E402
from farmcore.runtime import reading as reading_module  # noqa: E402
from farmcore.runtime.cli import JsonLines  # noqa: E402
from farmcore.runtime.daemon import SiteDaemon  # noqa: E402
from farmctl.cli import CONTROLLERS  # noqa: E402


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of another process (Linux /proc), 0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def twin_process(site: Path, ports: list[int], log: Path) -> Any:
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "farmctl.cli", "twin", "--site", str(site), "--speed", "1"],
            stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    try:
        deadline = time.monotonic() + 60
        for port in ports:
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError(f"the twin did not start: {log.read_text()[-2000:]}") from None
                    time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _quiet_logs(enabled: bool) -> Callable[[], None]:
    """INFO JSON lines as `farmctl run` writes them, but to /dev/null (their cost counts, not their bytes)."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    sink = open(os.devnull, "w")  # noqa: SIM115
    handler = logging.StreamHandler(sink)
    handler.setFormatter(JsonLines())
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if enabled else logging.WARNING)
    for noisy in ("apscheduler", "pymodbus"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    def restore() -> None:
        root.handlers[:], level = saved
        root.setLevel(level)
        sink.close()

    return restore


def _timed(fn: Callable[[], Awaitable[None]], walls: list[float], cpus: list[float] | None = None,
           ) -> Callable[[], Awaitable[None]]:
    async def wrapper() -> None:
        w, c = time.perf_counter(), time.process_time()
        await fn()
        walls.append(time.perf_counter() - w)
        if cpus is not None:
            cpus.append(time.process_time() - c)

    return wrapper


def _p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class LocalBroker:
    """A mosquitto for the run, configured by `farmctl broker config` for the site (accounts, per-zone ACLs)."""

    def __init__(self, site: Path, folder: Path) -> None:
        import getpass

        from farmcore.link.broker import write_config
        from farmcore.site import load_site

        self.port = _free_ports(1)[0]
        paths = write_config(load_site(site), folder, listen=f"127.0.0.1:{self.port}", run_as=getpass.getuser())
        self.credentials = paths.credentials
        self.proc = subprocess.Popen(["mosquitto", "-c", str(paths.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("mosquitto did not start") from None
                time.sleep(0.05)

    def url(self, account: str) -> str:
        return f"mqtt://{account}@127.0.0.1:{self.port}?password_file={self.credentials / account}"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


async def measure(site: Path, state_dir: Path, twin_pid: int, *, client: str, warmup_s: float, seconds: float,
                  profile: Path | None, mqtt: str | None = None, history: bool = False,
                  heaters_on: bool = False) -> dict[str, Any]:
    saved_open = reading_module.open_fast_bus
    if client == "pymodbus":
        from farmcore.fieldbus.bus import open_bus

        reading_module.open_fast_bus = open_bus  # type: ignore[assignment]
    try:
        historian = SqliteHistorian(state_dir / "history.db") if history else None
        daemon = SiteDaemon(site, controllers=CONTROLLERS, state_dir=state_dir, historian=historian, mqtt=mqtt)
        tick_walls: list[float] = []
        tick_cpus: list[float] = []
        read_walls: list[float] = []
        read_cpus: list[float] = []
        daemon.tick = _timed(daemon.tick, tick_walls, tick_cpus)  # type: ignore[method-assign]
        daemon._read_all = _timed(daemon._read_all, read_walls, read_cpus)  # type: ignore[method-assign]
        started = time.perf_counter()
        task = asyncio.create_task(daemon.run())
        while daemon.ticks < 1 or (daemon.link is not None and daemon.link.connected < len(daemon.zones)):
            if task.done():
                await task
                raise RuntimeError("the daemon stopped before its first tick")
            await asyncio.sleep(0.05)
        start_s = time.perf_counter() - started
        if heaters_on:  # every heater on for the whole run: what its dead-man lease costs on the bus
            for zone in daemon.zones:
                daemon.set_override(zone, "heater", True, 24 * 3600, "benchmark", "benchmark")
        await asyncio.sleep(warmup_s)
        # The recipe jobs of every zone fire together on the wall-clock grid of recipe_check_s: put one such
        # burst inside the window (mid-way), as one in every recipe_check_s ticks has it in a long run.
        every = daemon.site.runtime.recipe_check_s
        if every <= max(120.0, seconds):  # a long recipe_check_s is not waited for
            to_next = every - time.time() % every
            if not seconds / 4 < to_next < 3 * seconds / 4:
                await asyncio.sleep((to_next - seconds / 2) % every)

        def requests() -> int:
            return sum(bus.stats.requests for bus in daemon.reader.buses.values())

        def errors() -> int:
            return sum(bus.stats.errors for bus in daemon.reader.buses.values())

        ticks0, lat0, walls0, reads0, req0, err0 = (daemon.ticks, len(daemon.lateness_s), len(tick_walls),
                                                    len(read_walls), requests(), errors())
        commits0 = len(daemon.recorder.commit_s)
        twin0 = _proc_cpu_s(twin_pid)
        profiler = cProfile.Profile(time.process_time) if profile else None
        wall0, cpu0 = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        await asyncio.sleep(seconds)
        if profiler:
            profiler.disable()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        bursts = int(time.time() // every - (time.time() - wall) // every)
        twin_cpu = _proc_cpu_s(twin_pid) - twin0
        ticks = daemon.ticks - ticks0
        lateness = daemon.lateness_s[lat0:lat0 + ticks]
        walls, cpus, reads, read_cpu = tick_walls[walls0:], tick_cpus[walls0:], read_walls[reads0:], read_cpus[reads0:]
        reqs, errs = requests() - req0, errors() - err0
        zones = len(daemon.zones)
        tick_s = daemon.site.runtime.tick_s
        commits = list(daemon.recorder.commit_s)[commits0:]
        leased = [d for r in daemon.zones.values() for d in r.run.drivers.values() if getattr(d, "lease_s", None)]
        leased_on = sum(1 for d in leased if d.commanded)
        opid_writes = daemon.reader.opids.reservations
        points = historian.stats()["written"] if historian is not None else None
        daemon.request_stop()
        await task
        if historian is not None:
            historian.close()
        if profiler and profile:
            profiler.dump_stats(profile)
    finally:
        reading_module.open_fast_bus = saved_open
    return {
        "zones": zones,
        "ticks": ticks,
        "cpu_ms_per_zone_tick": round(cpu / max(1, ticks * zones) * 1000, 3),
        "p99_lateness_ms": round(_p(lateness, 0.99) * 1000, 1),
        "max_lateness_ms": round(max(lateness, default=float("nan")) * 1000, 1),
        "cpu_share": round(cpu / wall, 3),
        "ticks_missed": max(0, round(wall / tick_s) - ticks),
        "overruns": sum(1 for w in walls if w > tick_s),
        "requests_per_tick": round(reqs / max(1, ticks), 1),
        "bus_errors": errs,
        "cpu_us_per_request": round(cpu / max(1, reqs) * 1e6, 1),
        "tick_wall_ms_mean": round(sum(walls) / max(1, len(walls)) * 1000, 1),
        "tick_wall_ms_max": round(max(walls, default=float("nan")) * 1000, 1),
        "tick_cpu_ms_mean": round(sum(cpus) / max(1, len(cpus)) * 1000, 1),
        "read_wall_ms_mean": round(sum(reads) / max(1, len(reads)) * 1000, 1),
        "read_cpu_ms_per_zone_tick": round(sum(read_cpu) / max(1, len(read_cpu) * zones) * 1000, 3),
        "decide_cpu_ms_per_zone_tick": round((sum(cpus) - sum(read_cpu)) / max(1, len(cpus) * zones) * 1000, 3),
        "window_s": round(wall, 2),
        "recipe_job_bursts": bursts,
        "start_s": round(start_s, 2),
        "twin_cpu_share": round(twin_cpu / wall, 3),
        "dead_man_switches": len(leased), "dead_man_on_at_end": leased_on, "opid_fsync_writes_total": opid_writes,
        **({"commits": len(commits), "commit_ms_mean": round(sum(commits) / max(1, len(commits)) * 1000, 2),
            "commit_ms_p99": round(_p(commits, 0.99) * 1000, 2), "commit_ms_max": round(max(commits) * 1000, 2),
            "commit_failures": daemon.recorder.commit_failures, "historian_points_written": points} if commits else {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones", type=int, default=200, help="greenhouse zones (default 200)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window, s (default 30)")
    parser.add_argument("--warmup", type=float, default=5.0, help="s after the first tick, not measured (default 5)")
    parser.add_argument("--tick", type=float, default=1.0, help="[runtime] tick_s (default 1)")
    parser.add_argument("--zones-per-bus", type=int, default=40, help="zones per Modbus TCP bus (default 40)")
    parser.add_argument("--client", choices=("pymodbus", "fasttcp", "both"), default="fasttcp",
                        help="bus under the daemon: the lean farmcore.fieldbus.fasttcp (production, default), "
                        "farmcore.fieldbus.bus (pymodbus), or both in turn")
    parser.add_argument("--no-log", action="store_true", help="daemon logs at WARNING instead of INFO")
    parser.add_argument("--mqtt", help="link the zones to this MQTT broker, or `local` for a mosquitto started for "
                        "the run with the site's accounts and ACLs (state, alarms, events: their cost "
                        "counts); default: no link")
    parser.add_argument("--state-interval", type=float, default=1.0, help="[runtime] state_interval_s (with --mqtt)")
    parser.add_argument("--no-dead-man", action="store_true", help="heater, CO2 valve and irrigation pump without "
                        "their default dead-man lease (plain on/off): the lease's extra requests by difference")
    parser.add_argument("--heaters-on", action="store_true", help="override every heater on for the run (the "
                        "dead-man lease renews each one every tick)")
    parser.add_argument("--history", action="store_true", help="with the embedded SQLite historian: every tick's "
                        "points committed before anything of the tick is published (commit_ms_* figures)")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the measured window here "
                        "(with --client both: FILE.pymodbus, FILE.fasttcp)")
    args = parser.parse_args()

    clients = ["fasttcp", "pymodbus"] if args.client == "both" else [args.client]
    restore_logs = _quiet_logs(not args.no_log)
    try:
        with tempfile.TemporaryDirectory(prefix="daemon-scale-") as tmp_name:
            tmp = Path(tmp_name)
            ports = _free_ports(bus_count(args.zones, args.zones_per_bus))
            site = tmp / "site.toml"
            text = site_toml(args.zones, ports, zones_per_bus=args.zones_per_bus, tick_s=args.tick)
            if args.no_dead_man:
                for role in ("heater", "co2_valve", "irrigation_pump"):
                    text = text.replace(f'role = "{role}", ', f'role = "{role}", dead_man = false, ')
            site.write_text(text.replace("[runtime]\n", f"[runtime]\nstate_interval_s = {args.state_interval}\n"))
            results: dict[str, dict[str, Any]] = {}
            broker = LocalBroker(site, tmp / "broker") if args.mqtt == "local" else None
            mqtt_url = broker.url("farmctl-daemon-scale") if broker is not None else args.mqtt
            try:
                with twin_process(site, ports, tmp / "twin.log") as twin:
                    for client in clients:
                        profile = None
                        if args.profile:
                            profile = args.profile if len(clients) == 1 else args.profile.with_name(
                                f"{args.profile.name}.{client}")
                        results[client] = asyncio.run(measure(
                            site, tmp / f"state-{client}", twin.pid, client=client, warmup_s=args.warmup,
                            seconds=args.seconds, profile=profile, mqtt=mqtt_url, history=args.history,
                            heaters_on=args.heaters_on))
            finally:
                if broker is not None:
                    broker.close()
    finally:
        restore_logs()
    first = results[clients[0]]
    out: dict[str, Any] = {"zones": first["zones"], "tick_s": args.tick, "buses": len(ports),
                           "client": clients[0], "mqtt": args.mqtt is not None, "history": args.history,
                           "dead_man": not args.no_dead_man, "heaters_on": args.heaters_on,
                           "state_interval_s": args.state_interval if args.mqtt else None,
                           **{k: v for k, v in first.items() if k != "zones"}}
    if len(clients) > 1:
        out["clients"] = results
    print(json.dumps(out))


if __name__ == "__main__":
    main()
