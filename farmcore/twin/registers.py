"""Register-backed simulated devices and the unit-id map the Modbus server serves.

A `RegisterDevice` answers like a real node: reads that touch an undefined address and writes to
an address that is not writable get exception 2. Device behaviour (e.g. KS X 3267 command
semantics) goes into subclasses through `on_write`; the plant model changes values with `set`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from farmcore.errors import ModbusExceptionReply
from farmcore.fieldbus.framing import (
    BROADCAST,
    ILLEGAL_DATA_ADDRESS,
    READ_FCS,
    Request,
    exception_response,
    read_response,
    write_response,
)

Table = Literal["coils", "discrete_inputs", "holding", "input"]
TABLES: tuple[Table, ...] = ("coils", "discrete_inputs", "holding", "input")
BIT_TABLES = frozenset({"coils", "discrete_inputs"})
TABLE_OF_FC: dict[int, Table] = {
    1: "coils",
    2: "discrete_inputs",
    3: "holding",
    4: "input",
    5: "coils",
    6: "holding",
    15: "coils",
    16: "holding",
}


class RegisterDevice:
    """One simulated node: four address tables holding only the declared addresses."""

    def __init__(self) -> None:
        self._cells: dict[Table, dict[int, int]] = {t: {} for t in TABLES}
        self._writable: dict[Table, set[int]] = {t: set() for t in TABLES}

    def define(
        self,
        table: Table,
        start: int,
        count: int,
        values: int | Sequence[int] = 0,
        writable: bool = False,
    ) -> None:
        """Declare `count` addresses from `start`; `values` is one fill value or one value per address."""
        cells = [values] * count if isinstance(values, int) else list(values)
        if count < 1 or len(cells) != count:
            raise ValueError(f"{table} {start}: {len(cells)} values for {count} addresses")
        if start < 0 or start + count > 0x10000:
            raise ValueError(f"{table} {start}+{count} outside 0..65535")
        taken = self._cells[table].keys() & set(range(start, start + count))
        if taken:
            raise ValueError(f"{table} {min(taken)} already defined")
        _check_values(table, cells)
        self._cells[table].update(zip(range(start, start + count), cells, strict=True))
        if writable:
            self._writable[table].update(range(start, start + count))

    def read(self, table: Table, address: int, count: int = 1) -> list[int]:
        """Values of `count` addresses; exception 2 when any of them is undefined."""
        cells = self._cells[table]
        try:
            return [cells[a] for a in range(address, address + count)]
        except KeyError as exc:
            raise ModbusExceptionReply(ILLEGAL_DATA_ADDRESS, f"{table} {exc.args[0]} undefined") from None

    def set(self, table: Table, address: int, values: Sequence[int]) -> None:
        """Simulation side: change values regardless of writability, without `on_write`."""
        cells = self._cells[table]
        addresses = range(address, address + len(values))
        for a in addresses:
            if a not in cells:
                raise KeyError(f"{table} {a} undefined")
        _check_values(table, values)
        cells.update(zip(addresses, values, strict=True))

    def write(self, table: Table, address: int, values: Sequence[int]) -> None:
        """Master side: exception 2 unless every address is writable; `on_write` may refuse."""
        addresses = range(address, address + len(values))
        if not self._writable[table].issuperset(addresses):
            raise ModbusExceptionReply(ILLEGAL_DATA_ADDRESS, f"{table} {address}+{len(values)} not writable")
        code = self.on_write(table, address, list(values))
        if code is not None:
            raise ModbusExceptionReply(code, f"{table} {address} write refused")
        self._cells[table].update(zip(addresses, values, strict=True))

    def on_write(self, table: Table, address: int, values: list[int]) -> int | None:
        """Hook for device behaviour, called before a master's write is stored.

        Return an exception code to refuse the write (nothing is stored), or None to store it.
        """
        return None

    def handle(self, req: Request) -> bytes:
        """Reply PDU for one request, an exception reply when the device refuses it."""
        table = TABLE_OF_FC[req.fc]
        try:
            if req.fc in READ_FCS:
                return read_response(req.fc, self.read(table, req.address, req.count))
            self.write(table, req.address, req.values)
            return write_response(req)
        except ModbusExceptionReply as exc:
            return exception_response(req.fc, exc.code)


def _check_values(table: Table, values: Iterable[int]) -> None:
    top = 1 if table in BIT_TABLES else 0xFFFF
    bad = [v for v in values if not 0 <= v <= top]
    if bad:
        raise ValueError(f"{table} value {bad[0]} outside 0..{top}")


class UnitMap:
    """The server's Handler for one bus: unit id -> device; foreign ids stay silent."""

    def __init__(self, devices: Mapping[int, RegisterDevice]) -> None:
        """Unit ids 1..247 on a serial bus; Modbus TCP nodes may also use 248..255 (e.g. 255)."""
        bad = [u for u in devices if not 1 <= u <= 255]
        if bad:
            raise ValueError(f"unit id {bad[0]} outside 1..255 (0 is broadcast)")
        self.devices = dict(devices)

    def serves(self, unit: int) -> bool:
        """Only mapped units answer; the server stays silent for the rest."""
        return unit in self.devices

    def handle(self, unit: int, req: Request) -> bytes | None:
        """Reply PDU of the addressed device; None (silence) for unknown units and broadcasts."""
        if unit == BROADCAST:
            for device in self.devices.values():
                device.handle(req)
            return None
        device = self.devices.get(unit)
        return None if device is None else device.handle(req)
