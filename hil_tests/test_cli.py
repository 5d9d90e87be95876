"""The technician command line as a technician runs it: real processes, real sockets, a socat serial line.

`farmctl twin` serves the simulated site in its own process; `farmctl` commands and `mbpoll` (libmodbus,
an independent client) talk to it over Modbus TCP and over RTU on a pseudo-terminal pair.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

FARMCTL = [sys.executable, "-m", "farmctl.cli"]
needs_socat = pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed")
needs_mbpoll = pytest.mark.skipif(shutil.which("mbpoll") is None, reason="mbpoll is not installed")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    state = tmp_path_factory.mktemp("state")
    return {**os.environ, "FARMCTL_STATE_DIR": str(state), "FARMCTL_LANG": "en"}


def run(env: dict[str, str], *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FARMCTL, *args], env=env, capture_output=True, text=True, timeout=timeout)


def _start_twin(env: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([*FARMCTL, "twin", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "listening: tcp://127.0.0.1:PORT (Modbus TCP)"
    match = re.search(r"tcp://127\.0\.0\.1:(\d+)", line)
    if not match:
        proc.kill()
        pytest.fail(f"twin did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    return proc, f"tcp://127.0.0.1:{match.group(1)}"


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        assert proc.wait(10) == 0  # SIGTERM is a clean stop for the twin
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.fixture(scope="module")
def tcp_site(env: dict[str, str]) -> Iterator[str]:
    proc, url = _start_twin(env, "--tcp", "127.0.0.1:0")
    yield url
    _stop(proc)


@pytest.fixture(scope="module")
def serial_site(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("socat") is None:
        pytest.skip("socat is not installed")
    folder = tmp_path_factory.mktemp("tty")
    node_end, controller_end = folder / "tty-node", folder / "tty-controller"
    ends = [f"pty,raw,echo=0,link={node_end}", f"pty,raw,echo=0,link={controller_end}"]
    socat = subprocess.Popen(["socat", *ends], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while not (node_end.exists() and controller_end.exists()):
        assert time.monotonic() < deadline, "socat made no pty pair"
        time.sleep(0.05)
    proc, _url = _start_twin(env, "--tcp", "127.0.0.1:0", "--serial", str(node_end), "--baud", "9600")
    yield str(controller_end)
    _stop(proc)
    socat.terminate()
    socat.wait(5)


def ok_json(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # --json: one document on stdout and nothing else


def one_error_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


# --------------------------------------------------------------------------- Modbus TCP


def test_scan_over_tcp_lists_only_the_ks_nodes(env: dict[str, str], tcp_site: str) -> None:
    doc = ok_json(run(env, "bus", "scan", "--bus", tcp_site, "--units", "1-8", "--json"))
    assert doc["bus"] == tcp_site
    nodes = {n["unit"]: n for n in doc["nodes"]}
    assert sorted(nodes) == [1, 2, 3]
    assert nodes[1]["product_type"] == 1 and nodes[1]["protocol_version"] == 10 and nodes[1]["channels"] == 30
    assert nodes[1]["profile"] == "ksx3267:2022/sensor-default"
    assert {"slot": 13, "code": 11} in nodes[1]["devices"]  # CO2
    assert nodes[2]["profile"] == "ksx3267:2022/actuator-default"
    assert [d["code"] for d in nodes[2]["devices"]] == [102] * 4 + [112] * 4
    assert nodes[3]["protocol_version"] == 20 and {"slot": 21, "code": 202} in nodes[3]["devices"]


def test_read_over_tcp_gives_values_units_status_quality(env: dict[str, str], tcp_site: str) -> None:
    doc = ok_json(run(env, "read", "--bus", tcp_site, "--unit", "1", "--json"))
    assert doc["unit"] == 1
    assert doc["node"]["product_type"] == 1 and doc["node"]["status"] == 0
    temp = next(d for d in doc["devices"] if d["slot"] == 1)
    assert temp["code"] == 1 and temp["kind"] == "sensor"
    assert temp["quantity"] == "air_temperature" and temp["unit"] == "degC"
    assert temp["value"] == pytest.approx(23.5) and temp["status"] == 0 and temp["status_name"] == "READY"
    assert temp["quality"] == "good"


def test_read_table_by_default(env: dict[str, str], tcp_site: str) -> None:
    result = run(env, "read", "--bus", tcp_site, "--unit", "1")
    assert result.returncode == 0, result.stderr
    assert "air_temperature" in result.stdout and "23.50" in result.stdout
    korean = run({**env, "FARMCTL_LANG": "ko"}, "read", "--bus", tcp_site, "--unit", "1")
    assert "측정항목" in korean.stdout


def test_actuate_timed_on_then_read_back_over_tcp(env: dict[str, str], tcp_site: str) -> None:
    first = ok_json(run(env, "actuate", "--bus", tcp_site, "--unit", "2", "--slot", "2", "timed-on",
                        "--time", "30", "--json"))
    assert first["verified"] is True and first["status"] == 201 and first["operation"] == "TIMED_ON"
    doc = ok_json(run(env, "read", "--bus", tcp_site, "--unit", "2", "--json"))
    fan = next(d for d in doc["devices"] if d["slot"] == 2)
    assert fan["kind"] == "switch" and fan["status"] == 201 and fan["status_name"] == "ON"
    assert fan["opid"] == first["opid"] and 0 < fan["remaining_s"] <= 30
    second = ok_json(run(env, "actuate", "--bus", tcp_site, "--unit", "2", "--slot", "2", "off", "--json"))
    assert second["verified"] is True and second["status"] == 0
    assert second["opid"] > first["opid"]  # a new OPID for every command, across processes


def test_level_two_operation_is_refused_before_sending(env: dict[str, str], tcp_site: str) -> None:
    result = run(env, "actuate", "--bus", tcp_site, "--unit", "2", "--slot", "17", "position",
                 "--position", "50")
    line = one_error_line(result, 2)
    assert "level-2" in line and "level 1" in line


def test_vendor_relay_board_timed_open(env: dict[str, str], tcp_site: str) -> None:
    start = time.monotonic()
    doc = ok_json(run(env, "actuate", "--bus", tcp_site, "--unit", "6", "--slot", "2", "timed-open",
                      "--time", "1", "--profile", "vendor:relay8-opener", "--json"))
    assert doc["verified"] is True and doc["status"] == 301
    assert time.monotonic() - start >= 1.0  # the command line waits out the emulated timer
    relays = ok_json(run(env, "read", "--bus", tcp_site, "--unit", "6", "--profile", "vendor:relay8-opener",
                         "--json"))
    assert next(d for d in relays["devices"] if d["slot"] == 1)["bits"][:2] == [0, 0]  # stopped at the end


def test_frames_show_the_hex_of_recent_commands(env: dict[str, str], tcp_site: str) -> None:
    doc = ok_json(run(env, "frames", "--bus", tcp_site, "--unit", "1", "--last", "4", "--json"))
    assert [f["direction"] for f in doc["frames"]][-2:] == ["TX", "RX"]
    # the node-information request, after the 7-byte MBAP header: unit 1, FC3, register 1, count 8
    assert doc["frames"][-2]["hex"].endswith("01 03 00 01 00 08")


# --------------------------------------------------------------------------- serial RTU on socat


@needs_socat
def test_scan_read_actuate_over_rtu(env: dict[str, str], serial_site: str) -> None:
    bus = f"rtu://{serial_site}?baud=9600"
    doc = ok_json(run(env, "bus", "scan", "--bus", bus, "--units", "1-3", "--json"))
    assert [n["unit"] for n in doc["nodes"]] == [1, 2, 3]
    read = ok_json(run(env, "read", "--bus", bus, "--unit", "1", "--json"))
    assert next(d for d in read["devices"] if d["slot"] == 4)["value"] == pytest.approx(68.0)
    act = ok_json(run(env, "actuate", "--bus", bus, "--unit", "2", "--slot", "18", "timed-open",
                      "--time", "5", "--json"))
    assert act["verified"] is True and act["status"] == 301
    frames = ok_json(run(env, "frames", "--bus", bus, "--last", "50", "--json"))["frames"]
    assert any(f["hex"] == "01 03 00 01 00 08 15 CC" for f in frames)  # golden node-info frame, with CRC


# --------------------------------------------------------------------------- mbpoll, an independent client


@needs_mbpoll
def test_mbpoll_reads_the_simulated_node_over_tcp(tcp_site: str) -> None:
    port = tcp_site.rsplit(":", 1)[1]
    info = subprocess.run(["mbpoll", "-m", "tcp", "-p", port, "-a", "1", "-0", "-r", "1", "-c", "8",
                           "-t", "4", "-1", "-q", "127.0.0.1"], capture_output=True, text=True, timeout=10)
    assert info.returncode == 0, info.stdout + info.stderr
    values = dict(re.findall(r"\[(\d+)\]:\s+(-?\d+)", info.stdout))
    assert values["3"] == "1" and values["5"] == "10" and values["6"] == "30"  # type, protocol, channels
    temp = subprocess.run(["mbpoll", "-m", "tcp", "-p", port, "-a", "1", "-0", "-r", "203", "-c", "1",
                           "-t", "4:float", "-1", "-q", "127.0.0.1"],
                          capture_output=True, text=True, timeout=10)
    assert temp.returncode == 0, temp.stdout + temp.stderr
    assert float(re.search(r"\[203\]:\s+(\S+)", temp.stdout).group(1)) == pytest.approx(23.5)


@needs_mbpoll
@needs_socat
def test_mbpoll_reads_a_float_over_rtu(serial_site: str) -> None:
    result = subprocess.run(["mbpoll", "-m", "rtu", "-b", "9600", "-P", "none", "-a", "1", "-0", "-r", "239",
                             "-c", "1", "-t", "4:float", "-1", "-q", serial_site],
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stdout + result.stderr
    assert float(re.search(r"\[239\]:\s+(\S+)", result.stdout).group(1)) == pytest.approx(520.0)  # CO2


# --------------------------------------------------------------------------- bad input


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_bus_exits_1_with_one_line_within_the_timeout(env: dict[str, str]) -> None:
    start = time.monotonic()
    result = run(env, "read", "--bus", f"tcp://127.0.0.1:{_closed_port()}?timeout=1", "--unit", "1", "--json")
    elapsed = time.monotonic() - start
    line = one_error_line(result, 1)
    assert result.stdout == ""
    assert "cannot connect" in line
    assert elapsed < 1 + 5  # the timeout plus starting Python, never a hang


def test_missing_serial_port_exits_1(env: dict[str, str], tmp_path: Path) -> None:
    line = one_error_line(run(env, "read", "--bus", f"rtu://{tmp_path}/ttyUSB9", "--unit", "1"), 1)
    assert "ttyUSB9" in line


def test_malformed_profile_names_file_and_field(env: dict[str, str], tcp_site: str, tmp_path: Path) -> None:
    bad = tmp_path / "probe.toml"
    bad.write_text('[profile]\nid = "x"\nkind = "vendor"\n[[points]]\nid = "t"\nfc = 3\nregister = 1\n'
                   'type = "f64"\n')
    line = one_error_line(run(env, "read", "--bus", tcp_site, "--unit", "5", "--profile", str(bad)), 2)
    assert str(bad) in line and "points[0].type" in line


@pytest.mark.parametrize(("args", "words"), [
    (["read", "--bus", "tcp://127.0.0.1:1"], "Missing option '--unit'."),
    (["read", "--bus", "tcp//nohost", "--unit", "1"], "tcp//nohost"),
    (["read", "--bus", "rtu:///dev/ttyS0?baud=12345", "--unit", "1"], "baud"),
    (["bus", "scan", "--bus", "tcp://127.0.0.1:1", "--units", "0-5"], "1 to 247"),
    (["actuate", "--bus", "tcp://127.0.0.1:1", "--unit", "2", "--slot", "1", "spin"], "spin"),
])
def test_bad_usage_exits_2_with_one_line(env: dict[str, str], args: list[str], words: str) -> None:
    line = one_error_line(run(env, *args), 2)
    assert line.startswith("farmctl: error: ") and words in line


def test_a_vendor_device_without_profile_is_a_device_error(env: dict[str, str], tcp_site: str) -> None:
    line = one_error_line(run(env, "read", "--bus", tcp_site, "--unit", "4"), 1)
    assert "unit 4" in line and "Modbus exception 2" in line
    # not only the exception: what to do about it, and with what
    assert "a vendor device needs --profile (shipped: vendor:do-probe, vendor:relay8-opener, vendor:xy-md02)" in line
    assert line.startswith("farmctl: error: ")


def test_the_readme_demo_runs(env: dict[str, str], tmp_path: Path) -> None:
    """`farmctl demo` (the README's main command): twin site + greenhouse daemon + SQLite historian."""
    result = run(env, "demo", "--for", "8", "--speed", "600", "--no-live", "--state-dir", str(tmp_path),
                 "--start", "2026-01-15T10:00", timeout=90)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    for zone in ("gh1", "gh2", "gh3"):
        assert f"] {zone} " in result.stdout
    assert "tomato-gb@1" in result.stdout and "history: farmctl history export" in result.stdout
    assert max(len(row) for row in result.stdout.split("\nhistory:")[0].splitlines()) <= 80  # the plain screen
    assert "gh2: all 11 actuators in their stop state" in result.stdout  # the stop check after the run
    exported = run(env, "history", "export", "--historian", f"sqlite:///{tmp_path / 'history.db'}", "--zone",
                   "gh2", "--from", "2026-01-15T00:00Z", "--to", "2026-01-16T00:00Z", "--names",
                   "air_temperature,heater.target")
    assert exported.returncode == 0, exported.stderr
    assert len(exported.stdout.splitlines()) > 10, "the demo's daemon wrote history"


def test_the_demo_runs_the_winter_site(env: dict[str, str], tmp_path: Path) -> None:
    """`farmctl demo --site`: the winter example site (water curtain, hot-water loop) on the twin's clock; before,
    only the demo site could run faster than real time, and a twin at --speed 60 against `farmctl run` decided
    by the wall clock."""
    site = Path(__file__).resolve().parents[1] / "farmcore" / "twin" / "sites" / "gyeongbuk-winter.toml"
    result = run(env, "demo", "--site", str(site), "--for", "8", "--speed", "600", "--no-live", "--state-dir",
                 str(tmp_path), "--start", "2026-12-15T02:00", "--mqtt-port", "0", timeout=90)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "] gh1 " in result.stdout
    assert "water curtain on" in result.stdout and "gh1: all 9 actuators in their stop state" in result.stdout


def test_the_bench_tour_runs(env: dict[str, str]) -> None:
    """`farmctl demo --bench`: scan, read and drive a commissioning bench with the technician commands."""
    result = run(env, "demo", "--bench", timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("$ farmctl ") >= 7
    assert "verified=True" in result.stdout and "air_temperature" in result.stdout
    assert "Traceback" not in result.stderr
