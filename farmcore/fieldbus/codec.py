"""Register codec of our own, on `struct`.

Why not pymodbus' `convert_*`: its word-order handling changed between releases (issue #2675),
and KS X 3267 puts the LOW word first (KS X 3267 §4.3.3: 28.8 -> [0x6666, 0x41E6]).
Byte order is the order of the two bytes inside each 16-bit register, word order the order of
the registers inside a 32-bit value; both default to Modbus "big".
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from operator import itemgetter
from typing import Literal

Order = Literal["big", "little"]

# register count and struct format (big-endian, as the bytes of a big/big value) per type
TYPES: dict[str, tuple[int, str]] = {
    "u16": (1, ">H"),
    "i16": (1, ">h"),
    "u32": (2, ">I"),
    "i32": (2, ">i"),
    "f32": (2, ">f"),
}


def size_of(type_: str) -> int:
    """Registers a value of this type occupies."""
    return TYPES[type_][0]


def _swap_bytes(reg: int) -> int:
    return ((reg & 0xFF) << 8) | (reg >> 8)


def _to_wire(regs: Sequence[int], byte_order: Order, word_order: Order) -> bytes:
    """Registers as read -> the bytes of the value in big/big order."""
    words = list(regs)
    if word_order == "little":
        words.reverse()
    if byte_order == "little":
        words = [_swap_bytes(w) for w in words]
    return struct.pack(f">{len(words)}H", *words)


def _from_wire(data: bytes, byte_order: Order, word_order: Order) -> list[int]:
    words = list(struct.unpack(f">{len(data) // 2}H", data))
    if byte_order == "little":
        words = [_swap_bytes(w) for w in words]
    if word_order == "little":
        words.reverse()
    return words


def decode(
    regs: Sequence[int],
    type_: str,
    *,
    byte_order: Order = "big",
    word_order: Order = "big",
    scale: float = 1.0,
    offset: float = 0.0,
) -> float | int:
    """Raw registers -> engineering value (`raw * scale + offset`); integers stay int when unscaled."""
    count, fmt = TYPES[type_]
    if len(regs) != count:
        raise ValueError(f"{type_} takes {count} register(s), got {len(regs)}")
    for r in regs:
        if not 0 <= r <= 0xFFFF:
            raise ValueError(f"register value {r} outside 0..65535")
    (raw,) = struct.unpack(fmt, _to_wire(regs, byte_order, word_order))
    if scale == 1.0 and offset == 0.0:
        return raw
    return raw * scale + offset


class Unpacker:
    """Raw values of consecutive items sharing one byte/word order, in two `struct` calls.

    Gives the same raw values as `decode` item by item (word order becomes a register permutation,
    byte order the pack endianness), so a block read costs one call instead of one per item. Register
    values outside 0..65535 raise `struct.error`; callers fall back to `decode` for its precise error.
    Pickles and copies by its arguments, since `struct.Struct` itself cannot be pickled.
    """

    __slots__ = ("_order", "_pack", "_unpack", "byte_order", "count", "types", "word_order")

    def __init__(self, types: Sequence[str], byte_order: Order = "big", word_order: Order = "big") -> None:
        self.types, self.byte_order, self.word_order = tuple(types), byte_order, word_order
        order: list[int] = []
        for type_ in self.types:
            size = TYPES[type_][0]
            words = range(len(order), len(order) + size)
            order.extend(reversed(words) if word_order == "little" else words)
        self.count = len(order)
        self._order = None if order == sorted(order) else itemgetter(*order)
        self._pack = struct.Struct(f"{'<' if byte_order == 'little' else '>'}{self.count}H").pack
        self._unpack = struct.Struct(">" + "".join(TYPES[t][1][1:] for t in self.types)).unpack

    def __call__(self, regs: Sequence[int]) -> tuple[float | int, ...]:
        if self._order is not None:
            regs = self._order(regs)
        return self._unpack(self._pack(*regs))

    def __reduce__(self) -> tuple[type[Unpacker], tuple[tuple[str, ...], Order, Order]]:
        return Unpacker, (self.types, self.byte_order, self.word_order)


def encode(
    value: float,
    type_: str,
    *,
    byte_order: Order = "big",
    word_order: Order = "big",
    scale: float = 1.0,
    offset: float = 0.0,
) -> list[int]:
    """Engineering value -> raw registers; integers are rounded and range-checked."""
    fmt = TYPES[type_][1]
    raw = (value - offset) / scale if (scale != 1.0 or offset != 0.0) else value
    if type_ != "f32":
        raw = round(raw)
        lo, hi = _int_range(type_)
        if not lo <= raw <= hi:
            raise ValueError(f"{value} does not fit {type_} ({lo}..{hi}) after scale and offset")
    data = struct.pack(fmt, raw)
    return _from_wire(data, byte_order, word_order)


def _int_range(type_: str) -> tuple[int, int]:
    bits = 16 * TYPES[type_][0]
    if type_.startswith("u"):
        return 0, (1 << bits) - 1
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
