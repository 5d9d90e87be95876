"""A bounded ring buffer of raw TX/RX frames per bus.

Why: KOAT certification and field debugging want the bytes that went over the wire, in hex
(ksx3267.md §8.3, §14). The buffer is bounded so a long-running daemon never grows.
On Modbus TCP the frames include the 7-byte MBAP header.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TypeVar

Direction = Literal["TX", "RX"]
DEFAULT_SIZE = 500

_Pdu = TypeVar("_Pdu")


@dataclass(frozen=True)
class Frame:
    """One frame as sent or received, stamped in UTC."""

    time_utc: datetime
    bus: str
    direction: Direction
    data: bytes

    @property
    def hex(self) -> str:
        """Upper-case hex bytes separated by spaces, e.g. `01 03 00 01 00 08 15 CC`."""
        return self.data.hex(" ").upper()

    def as_dict(self) -> dict[str, str]:
        return {
            "time_utc": self.time_utc.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "bus": self.bus,
            "direction": self.direction,
            "hex": self.hex,
        }


class FrameLog:
    """The last `size` frames of one or more buses, oldest first."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if size < 1:
            raise ValueError("a frame log holds at least one frame")
        self._frames: deque[Frame] = deque(maxlen=size)

    def add(self, bus: str, direction: Direction, data: bytes, time_utc: datetime | None = None) -> Frame:
        frame = Frame(time_utc or datetime.now(UTC), bus, direction, bytes(data))
        self._frames.append(frame)
        return frame

    def recent(self, n: int | None = None, bus: str | None = None) -> list[Frame]:
        """The last `n` frames (all when None), optionally of one bus only, oldest first."""
        frames = [f for f in self._frames if bus is None or f.bus == bus]
        return frames if n is None else frames[max(len(frames) - n, 0) :]

    def as_dicts(self, n: int | None = None, bus: str | None = None) -> list[dict[str, str]]:
        """`recent()` ready for `json.dumps`."""
        return [frame.as_dict() for frame in self.recent(n, bus)]

    def clear(self) -> None:
        self._frames.clear()

    def __len__(self) -> int:
        return len(self._frames)

    def __iter__(self) -> Iterator[Frame]:
        return iter(list(self._frames))


class PacketTracer:
    """pymodbus `trace_packet` / `trace_pdu` hooks that feed a `FrameLog` for one bus and count bytes.

    pymodbus calls `trace_packet(False, ...)` with its whole pending receive buffer, again after every
    chunk (a serial reply often arrives in pieces). So received bytes are held until a PDU has been
    decoded from them (`trace_pdu`), the next frame is sent, or the transaction ends (`flush`), and
    are logged once. Both hooks return their argument unchanged, as pymodbus requires.
    """

    def __init__(self, log: FrameLog, bus: str) -> None:
        self.log = log
        self.bus = bus
        self.tx_bytes = 0
        self.rx_bytes = 0
        self._rx = b""
        self._rx_time: datetime | None = None

    def trace_packet(self, sending: bool, data: bytes) -> bytes:
        if sending:
            self.flush()
            self.tx_bytes += len(data)
            self.log.add(self.bus, "TX", data)
        else:
            if not data.startswith(self._rx):  # not the held buffer grown: a fresh start
                self.flush()
            self._rx = bytes(data)
            self._rx_time = datetime.now(UTC)
        return data

    def trace_pdu(self, sending: bool, pdu: _Pdu) -> _Pdu:
        if not sending:
            self.flush()
        return pdu

    def flush(self) -> None:
        """Log the held received bytes, if any, as one RX frame."""
        if self._rx:
            self.rx_bytes += len(self._rx)
            self.log.add(self.bus, "RX", self._rx, self._rx_time)
            self._rx = b""
