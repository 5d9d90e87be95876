"""Modbus framing of our own: CRC, RTU and MBAP ADUs, request and response PDUs. Pure, no I/O.

Why not pymodbus' framers: the simulator must inject faults at frame level (bad CRC, silence,
exception replies) and must stay silent for foreign unit ids, which needs control of every byte.
A `Request` that exists is a legal Modbus request: building one checks the function code and the
quantity limits and raises `ModbusExceptionReply` with the code a server must answer.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from farmcore.errors import CommError, ModbusExceptionReply

BROADCAST = 0
READ_FCS = frozenset({1, 2, 3, 4})
WRITE_FCS = frozenset({5, 6, 15, 16})
BIT_FCS = frozenset({1, 2, 5, 15})

# Modbus Application Protocol spec v1.1b3, §6: quantity limits per function code
MAX_QUANTITY = {1: 2000, 2: 2000, 3: 125, 4: 125, 5: 1, 6: 1, 15: 1968, 16: 123}

MBAP_HEADER_SIZE = 7
MAX_PDU_SIZE = 253

ILLEGAL_FUNCTION = 1
ILLEGAL_DATA_ADDRESS = 2
ILLEGAL_DATA_VALUE = 3
SERVER_DEVICE_FAILURE = 4

_COIL_ON = 0xFF00

# RTU request sizes (unit + PDU + CRC) of the standard serial-line function codes: fixed ones,
# and those that carry a byte count at a known offset (size = offset + 1 + count + 2).
_RTU_FIXED_SIZE = {1: 8, 2: 8, 3: 8, 4: 8, 5: 8, 6: 8, 7: 4, 8: 8, 11: 4, 12: 4, 17: 4, 22: 10, 24: 6}
_RTU_BYTE_COUNT_AT = {15: 6, 16: 6, 20: 2, 21: 2, 23: 10}


class FrameError(CommError):
    """Bytes that are not a valid frame (bad CRC, bad header, unknown function code)."""


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def crc16(data: bytes) -> int:
    """Modbus CRC-16 (poly 0xA001 reflected, init 0xFFFF); sent low byte first."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc


def rtu_frame(unit: int, pdu: bytes) -> bytes:
    """Unit id + PDU + CRC, the RTU ADU."""
    body = bytes([unit]) + pdu
    return body + crc16(body).to_bytes(2, "little")


def rtu_parse(adu: bytes) -> tuple[int, bytes]:
    """RTU ADU -> (unit, PDU); raises FrameError on a short frame or a bad CRC."""
    if len(adu) < 4:
        raise FrameError(f"RTU frame too short ({len(adu)} bytes)")
    if crc16(adu[:-2]) != int.from_bytes(adu[-2:], "little"):
        raise FrameError(f"RTU frame with bad CRC: {adu.hex(' ')}")
    return adu[0], adu[1:-2]


def rtu_request_size(buf: bytes | bytearray) -> int | None:
    """Size of the request frame at the start of an RTU byte stream, None until enough bytes are in.

    A serial line has no length field, so a server must know each function code's layout to cut
    the stream into frames. Raises FrameError when the second byte is no request function code.
    """
    if len(buf) < 2:
        return None
    fc = buf[1]
    if fc in _RTU_FIXED_SIZE:
        return _RTU_FIXED_SIZE[fc]
    if fc in _RTU_BYTE_COUNT_AT:
        at = _RTU_BYTE_COUNT_AT[fc]
        return at + 1 + buf[at] + 2 if len(buf) > at else None
    raise FrameError(f"no request function code: 0x{fc:02X}")


def take_rtu_requests(buf: bytearray) -> list[tuple[int, bytes]]:
    """Cut every complete request frame off the front of buf, as (unit, PDU).

    Garbage and frames with a bad CRC are dropped one byte at a time until a frame lines up again
    (resync); an incomplete frame stays in buf for the next call.
    """
    frames = []
    while True:
        try:
            size = rtu_request_size(buf)
            if size is None or len(buf) < size:
                return frames
            frames.append(rtu_parse(bytes(buf[:size])))
            del buf[:size]
        except FrameError:
            del buf[0]


def mbap_frame(transaction: int, unit: int, pdu: bytes) -> bytes:
    """Modbus TCP ADU: MBAP header (protocol 0, length = unit + PDU) + PDU."""
    return struct.pack(">HHHB", transaction, 0, len(pdu) + 1, unit) + pdu


def mbap_header(header: bytes) -> tuple[int, int, int]:
    """7-byte MBAP header -> (transaction, unit, PDU size); raises FrameError when it is not Modbus."""
    transaction, protocol, length, unit = struct.unpack(">HHHB", header)
    if protocol != 0:
        raise FrameError(f"MBAP protocol id {protocol}, expected 0")
    if not 2 <= length <= MAX_PDU_SIZE + 1:
        raise FrameError(f"MBAP length {length} outside 2..{MAX_PDU_SIZE + 1}")
    return transaction, unit, length - 1


def mbap_parse(adu: bytes) -> tuple[int, int, bytes]:
    """Whole Modbus TCP ADU -> (transaction, unit, PDU)."""
    if len(adu) < MBAP_HEADER_SIZE:
        raise FrameError(f"MBAP frame too short ({len(adu)} bytes)")
    transaction, unit, size = mbap_header(adu[:MBAP_HEADER_SIZE])
    pdu = adu[MBAP_HEADER_SIZE:]
    if len(pdu) != size:
        raise FrameError(f"MBAP length says {size} PDU bytes, got {len(pdu)}")
    return transaction, unit, pdu


@dataclass(frozen=True)
class Request:
    """One decoded request; `values` holds written registers or bits (0/1), empty for reads."""

    fc: int
    address: int
    count: int
    values: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.fc not in MAX_QUANTITY:
            raise ModbusExceptionReply(ILLEGAL_FUNCTION, f"function code {self.fc}")
        if not 1 <= self.count <= MAX_QUANTITY[self.fc]:
            raise ModbusExceptionReply(ILLEGAL_DATA_VALUE, f"quantity {self.count} for FC{self.fc}")
        expected = 0 if self.fc in READ_FCS else self.count
        top = 1 if self.fc in BIT_FCS else 0xFFFF
        if len(self.values) != expected or any(not 0 <= v <= top for v in self.values):
            raise ModbusExceptionReply(ILLEGAL_DATA_VALUE, f"values for FC{self.fc}")
        if not 0 <= self.address <= 0xFFFF or self.address + self.count > 0x10000:
            raise ModbusExceptionReply(ILLEGAL_DATA_ADDRESS, f"address {self.address}+{self.count}")


def _pack_bits(bits: Sequence[int]) -> bytes:
    """Bits LSB first in each byte, as Modbus sends coils and discrete inputs."""
    out = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        if bit:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)


def _unpack_bits(data: bytes, count: int) -> tuple[int, ...]:
    return tuple((data[i // 8] >> (i % 8)) & 1 for i in range(count))


def _pack_values(fc: int, values: Sequence[int]) -> bytes:
    """Data bytes of a bit or register list, preceded by their byte count."""
    data = _pack_bits(values) if fc in BIT_FCS else struct.pack(f">{len(values)}H", *values)
    return bytes([len(data)]) + data


def encode_request(req: Request) -> bytes:
    """Request -> PDU (the client side; the simulator's tests use it to build frames)."""
    if req.fc in READ_FCS:
        return struct.pack(">BHH", req.fc, req.address, req.count)
    if req.fc == 5:
        return struct.pack(">BHH", 5, req.address, _COIL_ON if req.values[0] else 0)
    if req.fc == 6:
        return struct.pack(">BHH", 6, req.address, req.values[0])
    return struct.pack(">BHH", req.fc, req.address, req.count) + _pack_values(req.fc, req.values)


def decode_request(pdu: bytes) -> Request:
    """Request PDU -> Request; raises ModbusExceptionReply with the code the server must answer."""
    fc, body = pdu[0], pdu[1:]
    if fc not in MAX_QUANTITY:
        raise ModbusExceptionReply(ILLEGAL_FUNCTION, f"function code {fc}")
    try:
        if fc in READ_FCS:
            return Request(fc, *struct.unpack(">HH", body))
        if fc in (5, 6):
            return _decode_single_write(fc, *struct.unpack(">HH", body))
        address, count, size = struct.unpack(">HHB", body[:5])
    except struct.error:
        raise ModbusExceptionReply(ILLEGAL_DATA_VALUE, f"FC{fc} request of {len(pdu)} bytes") from None
    data = body[5:]
    needed = (count + 7) // 8 if fc == 15 else 2 * count
    if not size == len(data) == needed:
        raise ModbusExceptionReply(ILLEGAL_DATA_VALUE, f"FC{fc} byte count {size} for quantity {count}")
    values = _unpack_bits(data, count) if fc == 15 else struct.unpack(f">{count}H", data)
    return Request(fc, address, count, tuple(values))


def _decode_single_write(fc: int, address: int, value: int) -> Request:
    if fc == 5:
        if value not in (0, _COIL_ON):
            raise ModbusExceptionReply(ILLEGAL_DATA_VALUE, f"coil value 0x{value:04X}")
        value = 1 if value else 0
    return Request(fc, address, 1, (value,))


def read_response(fc: int, values: Sequence[int]) -> bytes:
    """Reply PDU to a read: bits for FC 1/2, registers for FC 3/4."""
    return bytes([fc]) + _pack_values(fc, values)


def write_response(req: Request) -> bytes:
    """Reply PDU to a write: FC 5/6 echo address and value, FC 15/16 address and quantity."""
    if req.fc in (5, 6):
        return encode_request(req)
    return struct.pack(">BHH", req.fc, req.address, req.count)


def exception_response(fc: int, code: int) -> bytes:
    """Exception reply PDU: function code with the high bit set, then the exception code."""
    return bytes([fc | 0x80, code])
