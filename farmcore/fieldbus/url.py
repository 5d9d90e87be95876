"""Bus URLs (DESIGN.md "Bus addresses") parsed into a frozen `BusConfig`.

One string names a physical bus on the command line and in site files:

    tcp://HOST[:PORT]                   Modbus TCP (port 502 when left out)
    rtu+tcp://HOST:PORT                 RTU frames through a transparent RS485<->TCP gateway
    rtu:///dev/ttyUSB0?baud=9600&parity=N&stopbits=1&bytesize=8

Serial settings default to KS X 3267's 9600 8N1, never to pymodbus' 19200. Every kind takes the optional
query parameters `timeout` (seconds), `retries` and `address_offset` (0, or -1 for vendors that put
register N at PDU address N-1, ksx3267.md §6). `tcp://` also takes `line`: `rs485` (the default: the usual
KS X 3267 nodes sit on an RS485 line behind a Modbus TCP gateway, so poll plans price the 9600-baud wire
time) or `ethernet` (nodes that speak Modbus TCP themselves, such as the twin: wire time is nil, so a node
is read in as few requests as its defined register areas allow). A bad URL raises `BadInput` naming the
URL, the bad part and what is allowed, in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import SplitResult, parse_qsl, urlsplit

from farmcore.errors import BadInput

Kind = Literal["tcp", "rtu+tcp", "rtu"]
KINDS: tuple[Kind, ...] = ("tcp", "rtu+tcp", "rtu")
BAUD_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
PARITIES = ("N", "E", "O")
STOP_BITS = (1, 2)
BYTE_SIZES = (8,)  # Modbus RTU always carries 8 data bits; the key exists so a URL can say so
ADDRESS_OFFSETS = (0, -1)
RETRIES = range(6)
MAX_TIMEOUT_S = 60.0
MODBUS_TCP_PORT = 502

SERIAL_KEYS = ("baud", "parity", "stopbits", "bytesize")
COMMON_KEYS = ("timeout", "retries", "address_offset")
TCP_KEYS = ("line",)
LINES = ("rs485", "ethernet")

# Longest RTU reply (125 registers: address + function + byte count + 250 data + CRC), for the serial timeout.
_MAX_RTU_REPLY_CHARS = 255
# Time a node may take before it starts answering, on top of the reply's wire time.
_NODE_TURNAROUND_S = 0.2
_MIN_SERIAL_TIMEOUT_S = 0.5
_NETWORK_TIMEOUT_S = 1.0
# Modbus over Serial Line v1.02 §2.5.1.1: above 19200 baud the 3.5-character gap is fixed at 1.75 ms.
_FIXED_GAP_S = 0.00175

_EXPECTED = {
    "tcp": "expected tcp://HOST[:PORT]",
    "rtu+tcp": "expected rtu+tcp://HOST:PORT",
    "rtu": "expected rtu:///dev/DEVICE?baud=9600&parity=N&stopbits=1&bytesize=8",
}


@dataclass(frozen=True)
class BusConfig:
    """Everything needed to open one physical bus; `str()` gives back the canonical URL.

    `timeout` None means the kind's default (`timeout_s`). For TCP kinds the serial fields keep their
    KS X 3267 defaults, which describe the usual RS485 leg behind a gateway.
    """

    kind: Kind
    host: str = ""
    port: int = 0
    device: str = ""
    baud: int = 9600
    parity: str = "N"
    stopbits: int = 1
    bytesize: int = 8
    timeout: float | None = None
    retries: int = 1
    address_offset: int = 0
    line: str = "rs485"  # tcp://: what carries the frames past the TCP endpoint (rs485 or ethernet)

    @property
    def is_serial(self) -> bool:
        return self.kind == "rtu"

    @property
    def bits_per_char(self) -> int:
        """Start + data + parity + stop bits of one character on the serial line (10 for 8N1)."""
        return 1 + self.bytesize + (0 if self.parity == "N" else 1) + self.stopbits

    @property
    def char_time_s(self) -> float:
        """Seconds one character occupies on the wire (1.04 ms at 9600 8N1)."""
        return self.bits_per_char / self.baud

    @property
    def frame_gap_s(self) -> float:
        """Silence a master keeps between RTU frames: 3.5 characters, 1.75 ms above 19200 baud."""
        return _FIXED_GAP_S if self.baud > 19200 else 3.5 * self.char_time_s

    @property
    def timeout_s(self) -> float:
        """Reply timeout in seconds.

        Serial default: the longest reply's wire time plus node turnaround (0.5 s at 9600), no more, because
        a silent node holds the whole bus for timeout x (retries + 1).
        """
        if self.timeout is not None:
            return self.timeout
        if not self.is_serial:
            return _NETWORK_TIMEOUT_S
        wire_s = _MAX_RTU_REPLY_CHARS * self.char_time_s
        return max(_MIN_SERIAL_TIMEOUT_S, round(wire_s + _NODE_TURNAROUND_S, 2))

    @property
    def label(self) -> str:
        """The URL without its query: short enough for error lines and frame logs."""
        if self.is_serial:
            return f"rtu://{self.device}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.kind}://{host}:{self.port}"

    def __str__(self) -> str:
        params: list[tuple[str, object]] = []
        if self.is_serial:
            params += [("baud", self.baud), ("parity", self.parity), ("stopbits", self.stopbits),
                       ("bytesize", self.bytesize)]
        if self.timeout is not None:
            params.append(("timeout", self.timeout))
        if self.retries != 1:
            params.append(("retries", self.retries))
        if self.address_offset:
            params.append(("address_offset", self.address_offset))
        if self.line != "rs485":
            params.append(("line", self.line))
        query = "&".join(f"{key}={value}" for key, value in params)
        return f"{self.label}?{query}" if query else self.label


def parse_bus_url(url: str, *, listen: bool = False, **overrides: object) -> BusConfig:
    """Parse a bus URL; `overrides` use the query keys' names, win over the query and are checked alike.

    `listen` is for the side that serves the bus (the twin): there port 0 means "any free port"."""
    parts = urlsplit(url.strip())
    kind = _kind(url, parts.scheme)
    if parts.fragment or parts.username is not None:
        raise _bad(url, "user info or '#' fragment", _EXPECTED[kind])
    params = _query(url, parts.query)
    params.update({key: str(value) for key, value in overrides.items()})
    _check_keys(url, kind, params)
    timeout = _seconds(url, params, "timeout")
    retries = _int_choice(url, params, "retries", RETRIES, 1)
    address_offset = _int_choice(url, params, "address_offset", ADDRESS_OFFSETS, 0)
    if kind == "rtu":
        return BusConfig(
            kind,
            device=_device(url, parts),
            baud=_int_choice(url, params, "baud", BAUD_RATES, 9600),
            parity=_parity(url, params),
            stopbits=_int_choice(url, params, "stopbits", STOP_BITS, 1),
            bytesize=_int_choice(url, params, "bytesize", BYTE_SIZES, 8),
            timeout=timeout,
            retries=retries,
            address_offset=address_offset,
        )
    host, port = _host_port(url, kind, parts, listen)
    line = params.get("line", "rs485")
    if line not in LINES:
        raise _bad(url, f"line {line!r}", f"allowed: {', '.join(LINES)}")
    return BusConfig(
        kind, host=host, port=port, timeout=timeout, retries=retries, address_offset=address_offset, line=line
    )


def _bad(url: str, problem: str, allowed: str) -> BadInput:
    return BadInput(f"bus URL {url!r}: {problem}; {allowed}")


def _kind(url: str, scheme: str) -> Kind:
    for kind in KINDS:
        if scheme.lower() == kind:
            return kind
    shown = f"unknown scheme {scheme!r}" if scheme else "no scheme"
    raise _bad(url, shown, "expected tcp://, rtu+tcp:// or rtu://")


def _query(url: str, query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in params:
            raise _bad(url, f"{key!r} given twice", "give each parameter once")
        params[key] = value
    return params


def _check_keys(url: str, kind: Kind, params: dict[str, str]) -> None:
    allowed = {"rtu": (*SERIAL_KEYS, *COMMON_KEYS), "tcp": (*COMMON_KEYS, *TCP_KEYS)}.get(kind, COMMON_KEYS)
    for key in params:
        if key in SERIAL_KEYS and kind != "rtu":
            raise _bad(url, f"{key!r} applies only to rtu:// serial buses", f"allowed: {', '.join(allowed)}")
        if key not in allowed:
            raise _bad(url, f"unknown parameter {key!r}", f"allowed: {', '.join(allowed)}")


def _host_port(url: str, kind: Kind, parts: SplitResult, listen: bool) -> tuple[str, int]:
    if parts.path not in ("", "/"):
        raise _bad(url, f"unexpected path {parts.path!r}", _EXPECTED[kind])
    if not parts.hostname:
        raise _bad(url, "missing host", _EXPECTED[kind])
    try:
        port = 0 if parts.netloc.endswith(":") else parts.port
    except ValueError:
        port = 0
    if port is None and kind == "tcp":
        port = MODBUS_TCP_PORT
    if port is None:
        raise _bad(url, "missing port (a gateway has no standard port)", _EXPECTED[kind])
    if not port and not (listen and parts.netloc.endswith(":0")):
        raise _bad(url, f"bad port {parts.netloc.rpartition(':')[2]!r}", "expected a port 1-65535")
    return parts.hostname, port


def _device(url: str, parts: SplitResult) -> str:
    if parts.netloc or len(parts.path) < 2 or not parts.path.startswith("/"):
        raise _bad(url, "missing or relative device path", _EXPECTED["rtu"])
    return parts.path


def _parity(url: str, params: dict[str, str]) -> str:
    value = params.get("parity", "N").upper()
    if value not in PARITIES:
        raise _bad(url, f"parity={params['parity']!r}", f"allowed: {', '.join(PARITIES)}")
    return value


def _int_choice(
    url: str, params: dict[str, str], key: str, allowed: range | tuple[int, ...], default: int
) -> int:
    if key not in params:
        return default
    text = params[key]
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value not in allowed:
        shown = f"{allowed[0]}-{allowed[-1]}" if isinstance(allowed, range) else ", ".join(map(str, allowed))
        raise _bad(url, f"{key}={text!r}", f"allowed: {shown}")
    return value


def _seconds(url: str, params: dict[str, str], key: str) -> float | None:
    if key not in params:
        return None
    text = params[key]
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= MAX_TIMEOUT_S:  # also rejects nan and inf
        raise _bad(url, f"{key}={text!r}", f"expected seconds, more than 0 and at most {MAX_TIMEOUT_S:g}")
    return value
