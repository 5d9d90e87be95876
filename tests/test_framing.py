"""Framing: CRC, RTU/MBAP ADUs and PDUs against the KS X 3267 golden frames (ksx3267.md §3.1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farmcore.errors import ModbusExceptionReply
from farmcore.fieldbus.framing import (
    FrameError,
    Request,
    crc16,
    decode_request,
    encode_request,
    exception_response,
    mbap_frame,
    mbap_header,
    mbap_parse,
    read_response,
    rtu_frame,
    rtu_parse,
    rtu_request_size,
    take_rtu_requests,
    write_response,
)

GOLDEN_REQUESTS = [
    (1, Request(3, 1, 8), "01 03 00 01 00 08 15 CC"),  # node info, regs 1..8
    (1, Request(3, 101, 30), "01 03 00 65 00 1E D5 DD"),  # sensor device codes 101..130
    (1, Request(3, 202, 91), "01 03 00 CA 00 5B 24 0F"),  # sensor block 202..292
    (2, Request(3, 201, 98), "02 03 00 C9 00 62 14 2E"),  # actuator block 201..298
    (2, Request(16, 503, 4, (202, 7, 60, 0)), "02 10 01 F7 00 04 08 00 CA 00 07 00 3C 00 00 5E F0"),
]


def h(text: str) -> bytes:
    return bytes.fromhex(text)


@pytest.mark.parametrize(("unit", "req", "wire"), GOLDEN_REQUESTS)
def test_golden_request_frames(unit: int, req: Request, wire: str) -> None:
    assert rtu_frame(unit, encode_request(req)) == h(wire)
    assert rtu_parse(h(wire)) == (unit, encode_request(req))
    assert decode_request(rtu_parse(h(wire))[1]) == req
    assert rtu_request_size(h(wire)) == len(h(wire))


def test_golden_write_reply() -> None:
    req = Request(16, 503, 4, (202, 7, 60, 0))
    assert rtu_frame(2, write_response(req)) == h("02 10 01 F7 00 04 71 F7")


def test_sensor_block_reply_header() -> None:
    regs = [0, 0x5CFA, 0x41BA, 0] + [0] * 87
    pdu = read_response(3, regs)
    assert pdu[:2] == h("03 B6")
    assert pdu[2:10] == h("00 00 5C FA 41 BA 00 00")
    assert len(pdu) == 2 + 182


def test_crc16_check_value() -> None:
    assert crc16(b"123456789") == 0x4B37  # CRC-16/MODBUS catalogue check value
    assert crc16(b"") == 0xFFFF


def test_rtu_parse_rejects_bad_crc_and_short_frames() -> None:
    good = h("01 03 00 01 00 08 15 CC")
    with pytest.raises(FrameError, match="CRC"):
        rtu_parse(good[:-1] + b"\xcd")
    with pytest.raises(FrameError, match="short"):
        rtu_parse(good[:3])


def test_bits_are_packed_lsb_first() -> None:
    # Modbus spec example: write 10 coils from 19 (0x13), bits CD 01
    pdu = h("0F 00 13 00 0A 02 CD 01")
    req = decode_request(pdu)
    assert req == Request(15, 19, 10, (1, 0, 1, 1, 0, 0, 1, 1, 1, 0))
    assert encode_request(req) == pdu
    assert write_response(req) == h("0F 00 13 00 0A")
    assert read_response(1, [1, 0, 1, 1, 0, 0, 1, 1, 1]) == h("01 02 CD 01")


def test_single_writes_echo_the_request() -> None:
    coil_on = h("05 00 AC FF 00")
    assert decode_request(coil_on) == Request(5, 172, 1, (1,))
    assert write_response(decode_request(coil_on)) == coil_on
    assert decode_request(h("05 00 AC 00 00")).values == (0,)
    reg = h("06 00 01 00 03")
    assert decode_request(reg) == Request(6, 1, 1, (3,))
    assert write_response(decode_request(reg)) == reg


@pytest.mark.parametrize(
    ("pdu", "code"),
    [
        ("07", 1),  # read exception status: not supported
        ("2B 0E 01 00", 1),  # read device identification: not supported
        ("83 00 01 00 01", 1),  # an exception function code is no request
        ("03 00 01 00 7E", 3),  # 126 registers
        ("03 00 01 00 00", 3),  # zero registers
        ("01 00 00 07 D1", 3),  # 2001 bits
        ("03 00 01 00", 3),  # truncated
        ("03 00 01 00 01 00", 3),  # trailing byte
        ("05 00 01 12 34", 3),  # coil value neither FF00 nor 0000
        ("10 00 01 00 02 02 00 01", 3),  # byte count 2 for 2 registers
        ("10 00 01 00 01 02 00 01 00", 3),  # data longer than byte count
        ("0F 00 00 07 B1 F7" + " 00" * 247, 3),  # 1969 coils
        ("03 FF FF 00 02", 2),  # runs past address 65535
    ],
)
def test_illegal_requests_name_the_exception_code(pdu: str, code: int) -> None:
    with pytest.raises(ModbusExceptionReply) as info:
        decode_request(h(pdu))
    assert info.value.code == code


def test_request_limits_hold_for_direct_construction() -> None:
    assert Request(3, 0, 125).count == 125
    assert Request(16, 0, 123, (0,) * 123).count == 123
    for bad in (lambda: Request(16, 0, 124, (0,) * 124), lambda: Request(6, 0, 1, (0x10000,))):
        with pytest.raises(ModbusExceptionReply) as info:
            bad()
        assert info.value.code == 3


def test_exception_response() -> None:
    assert exception_response(3, 2) == h("83 02")
    assert rtu_frame(1, exception_response(3, 2)) == h("01 83 02 C0 F1")


def test_mbap_frame_and_header() -> None:
    adu = mbap_frame(0x1234, 1, h("03 00 01 00 08"))
    assert adu == h("12 34 00 00 00 06 01 03 00 01 00 08")
    assert mbap_header(adu[:7]) == (0x1234, 1, 5)
    assert mbap_parse(adu) == (0x1234, 1, h("03 00 01 00 08"))


@pytest.mark.parametrize(
    "header",
    ["00 01 00 01 00 06 01", "00 01 00 00 00 01 01", "00 01 00 00 00 FF 01"],
    ids=["protocol-id", "no-pdu", "too-long"],
)
def test_mbap_header_rejects_non_modbus(header: str) -> None:
    with pytest.raises(FrameError):
        mbap_header(h(header))


def test_mbap_parse_checks_length() -> None:
    with pytest.raises(FrameError, match="length"):
        mbap_parse(h("00 01 00 00 00 06 01 03 00 01"))


def test_rtu_request_size_from_function_code() -> None:
    assert rtu_request_size(h("01")) is None
    assert rtu_request_size(h("01 06")) == 8
    assert rtu_request_size(h("01 11")) == 4  # report server id: answered with exception 1
    assert rtu_request_size(h("02 10 01 F7 00 04")) is None  # byte count not in yet
    assert rtu_request_size(h("02 10 01 F7 00 04 08")) == 17
    assert rtu_request_size(h("01 0F 00 13 00 0A 02")) == 11
    with pytest.raises(FrameError):
        rtu_request_size(h("01 99"))


def test_take_rtu_requests_resyncs_after_garbage() -> None:
    read = h("01 03 00 01 00 08 15 CC")
    write = h("02 10 01 F7 00 04 08 00 CA 00 07 00 3C 00 00 5E F0")
    corrupt = read[:-1] + b"\x00"
    buf = bytearray(h("FF 99 00") + corrupt + read + write + write[:5])
    assert take_rtu_requests(buf) == [rtu_parse(read), rtu_parse(write)]
    assert buf == write[:5]  # incomplete frame kept for the next chunk
    buf += write[5:]
    assert take_rtu_requests(buf) == [rtu_parse(write)]
    assert buf == b""


registers = st.integers(0, 0xFFFF)
bits = st.integers(0, 1)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    fc = draw(st.sampled_from([1, 2, 3, 4, 5, 6, 15, 16]))
    if fc in (1, 2, 3, 4):
        count = draw(st.integers(1, 2000 if fc < 3 else 125))
        values: tuple[int, ...] = ()
    else:
        count = {5: 1, 6: 1, 15: draw(st.integers(1, 1968)), 16: draw(st.integers(1, 123))}[fc]
        values = tuple(draw(st.lists(bits if fc in (5, 15) else registers, min_size=count, max_size=count)))
    address = draw(st.integers(0, 0x10000 - count))
    return Request(fc, address, count, values)


@given(requests(), st.integers(0, 247))
def test_request_round_trip_through_rtu_and_mbap(req: Request, unit: int) -> None:
    adu = rtu_frame(unit, encode_request(req))
    assert rtu_request_size(adu) == len(adu)
    got_unit, pdu = rtu_parse(adu)
    assert (got_unit, decode_request(pdu)) == (unit, req)
    assert mbap_parse(mbap_frame(7, unit, pdu)) == (7, unit, pdu)


@given(st.lists(registers, min_size=1, max_size=125))
def test_register_reply_layout(values: list[int]) -> None:
    pdu = read_response(3, values)
    assert pdu[1] == 2 * len(values)
    assert [int.from_bytes(pdu[i : i + 2], "big") for i in range(2, len(pdu), 2)] == values


@given(st.binary(max_size=64), requests(), st.integers(1, 247))
def test_garbage_never_hides_a_following_frame_for_long(junk: bytes, req: Request, unit: int) -> None:
    """After junk, repeating a frame gets through: take_rtu_requests never stalls or raises."""
    frame = rtu_frame(unit, encode_request(req))
    buf = bytearray(junk)
    found = []
    for _ in range(10 + 400 // len(frame)):  # junk plus the longest possible false frame (259 bytes)
        buf += frame
        found += take_rtu_requests(buf)
        if (unit, encode_request(req)) in found:
            break
    assert (unit, encode_request(req)) in found
