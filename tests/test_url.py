"""Bus URL parsing: defaults (KS X 3267 9600 8N1), canonical form, serial timing and one-line errors."""

from __future__ import annotations

import pytest

from farmcore.errors import BadInput
from farmcore.fieldbus.url import BusConfig, parse_bus_url


def test_tcp_with_port() -> None:
    cfg = parse_bus_url("tcp://192.168.0.10:5020")
    assert (cfg.kind, cfg.host, cfg.port) == ("tcp", "192.168.0.10", 5020)
    assert (cfg.timeout_s, cfg.retries, cfg.address_offset) == (1.0, 1, 0)
    assert str(cfg) == "tcp://192.168.0.10:5020"


def test_tcp_defaults_to_port_502() -> None:
    assert parse_bus_url("tcp://plc").port == 502
    assert str(parse_bus_url("tcp://plc")) == "tcp://plc:502"


def test_rtu_over_tcp() -> None:
    cfg = parse_bus_url("rtu+tcp://gw.local:4196?timeout=0.3&retries=0")
    assert (cfg.kind, cfg.host, cfg.port, cfg.timeout_s, cfg.retries) == ("rtu+tcp", "gw.local", 4196, 0.3, 0)
    assert not cfg.is_serial


def test_serial_defaults_are_ks_x_3267_not_pymodbus() -> None:
    cfg = parse_bus_url("rtu:///dev/ttyUSB0")
    assert (cfg.device, cfg.baud, cfg.parity, cfg.stopbits, cfg.bytesize) == ("/dev/ttyUSB0", 9600, "N", 1, 8)
    assert str(cfg) == "rtu:///dev/ttyUSB0?baud=9600&parity=N&stopbits=1&bytesize=8"
    assert cfg.label == "rtu:///dev/ttyUSB0"


def test_serial_settings_and_options() -> None:
    cfg = parse_bus_url("rtu:///dev/ttyS1?baud=19200&parity=e&stopbits=2&address_offset=-1&timeout=0.8")
    assert (cfg.baud, cfg.parity, cfg.stopbits, cfg.address_offset, cfg.timeout_s) == (19200, "E", 2, -1, 0.8)


def test_ipv6_host_keeps_brackets() -> None:
    cfg = parse_bus_url("tcp://[::1]:1502")
    assert cfg.host == "::1"
    assert str(cfg) == "tcp://[::1]:1502"


@pytest.mark.parametrize(
    "url",
    [
        "tcp://10.0.0.5:502",
        "tcp://10.0.0.5:502?timeout=0.25&retries=3&address_offset=-1",
        "rtu+tcp://gw:8899",
        "rtu:///dev/ttyUSB0?baud=38400&parity=O&stopbits=2&bytesize=8&retries=0",
    ],
)
def test_canonical_url_round_trips(url: str) -> None:
    cfg = parse_bus_url(url)
    assert str(cfg) == url
    assert parse_bus_url(str(cfg)) == cfg


def test_overrides_win_and_are_checked() -> None:
    cfg = parse_bus_url("tcp://plc:502?timeout=2", timeout=0.4, retries=0)
    assert (cfg.timeout_s, cfg.retries) == (0.4, 0)
    with pytest.raises(BadInput, match="timeout='-1'"):
        parse_bus_url("tcp://plc:502", timeout=-1)


def test_char_timing_8n1_and_8e2() -> None:
    cfg = parse_bus_url("rtu:///dev/ttyUSB0")
    assert cfg.bits_per_char == 10
    assert cfg.char_time_s == pytest.approx(10 / 9600)
    assert cfg.frame_gap_s == pytest.approx(3.5 * 10 / 9600)
    slow = parse_bus_url("rtu:///dev/ttyUSB0?baud=2400&parity=E&stopbits=2")
    assert slow.bits_per_char == 12
    assert slow.char_time_s == pytest.approx(12 / 2400)


def test_fast_lines_use_the_fixed_gap() -> None:
    assert parse_bus_url("rtu:///dev/ttyUSB0?baud=115200").frame_gap_s == pytest.approx(0.00175)


def test_serial_timeout_covers_the_longest_reply() -> None:
    at_9600 = parse_bus_url("rtu:///dev/ttyUSB0").timeout_s
    at_1200 = parse_bus_url("rtu:///dev/ttyUSB0?baud=1200").timeout_s
    assert at_9600 == 0.5
    assert at_1200 > 255 * 10 / 1200  # 125 registers take 2.1 s on the wire at 1200 baud


def test_direct_construction_has_the_same_defaults() -> None:
    assert BusConfig("rtu", device="/dev/ttyUSB0") == parse_bus_url("rtu:///dev/ttyUSB0")


@pytest.mark.parametrize(
    ("url", "part", "allowed"),
    [
        ("udp://x:502", "unknown scheme 'udp'", "tcp://, rtu+tcp:// or rtu://"),
        ("localhost:502", "unknown scheme 'localhost'", "tcp://"),
        ("/dev/ttyUSB0", "no scheme", "rtu://"),
        ("tcp://:502", "missing host", "tcp://HOST"),
        ("tcp://x:", "bad port ''", "1-65535"),
        ("tcp://x:abc", "bad port 'abc'", "1-65535"),
        ("tcp://x:70000", "bad port '70000'", "1-65535"),
        ("tcp://x:0", "bad port '0'", "1-65535"),
        ("rtu+tcp://gw", "missing port", "rtu+tcp://HOST:PORT"),
        ("tcp://x:502/path", "unexpected path '/path'", "tcp://HOST"),
        ("tcp://user@x:502", "user info", "tcp://HOST"),
        ("rtu://COM3", "device path", "rtu:///dev/DEVICE"),
        ("rtu:///", "device path", "rtu:///dev/DEVICE"),
        ("rtu:///dev/ttyUSB0?baud=9601", "baud='9601'", "9600"),
        ("rtu:///dev/ttyUSB0?parity=X", "parity='X'", "N, E, O"),
        ("rtu:///dev/ttyUSB0?stopbits=3", "stopbits='3'", "1, 2"),
        ("rtu:///dev/ttyUSB0?bytesize=7", "bytesize='7'", "8"),
        ("rtu:///dev/ttyUSB0?baud=", "baud=''", "9600"),
        ("tcp://x:502?baud=9600", "'baud' applies only to rtu://", "timeout"),
        ("tcp://x:502?speed=1", "unknown parameter 'speed'", "timeout, retries, address_offset"),
        ("tcp://x:502?timeout=0", "timeout='0'", "seconds"),
        ("tcp://x:502?timeout=nan", "timeout='nan'", "seconds"),
        ("tcp://x:502?timeout=soon", "timeout='soon'", "seconds"),
        ("tcp://x:502?retries=9", "retries='9'", "0-5"),
        ("tcp://x:502?address_offset=1", "address_offset='1'", "0, -1"),
        ("tcp://x:502?retries=1&retries=2", "'retries' given twice", "once"),
    ],
)
def test_bad_urls_say_what_and_what_is_allowed(url: str, part: str, allowed: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_bus_url(url)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"bus URL {url!r}: ")
    assert part in message
    assert allowed in message.split(part, 1)[1]
    assert caught.value.exit_code == 2


def test_tcp_line_says_whether_an_rs485_leg_is_behind_the_gateway() -> None:
    from farmcore.fieldbus.node import line_cost_for

    class FakeBus:
        def __init__(self, url: str) -> None:
            self.config = parse_bus_url(url)

    assert parse_bus_url("tcp://h:502").line == "rs485"
    native = parse_bus_url("tcp://h:502?line=ethernet")
    assert native.line == "ethernet" and str(native) == "tcp://h:502?line=ethernet"
    assert line_cost_for(FakeBus("tcp://h:502")).baud == 9600
    assert line_cost_for(FakeBus("tcp://h:502?line=ethernet")).baud > 1_000_000
    with pytest.raises(BadInput, match="line 'wifi'; allowed: rs485, ethernet"):
        parse_bus_url("tcp://h:502?line=wifi")
    with pytest.raises(BadInput, match="unknown parameter 'line'"):
        parse_bus_url("rtu+tcp://h:502?line=ethernet")
