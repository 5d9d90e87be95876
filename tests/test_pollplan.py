"""Poll plans: the cost model against hand-counted frames, the merge rules, and optimality by brute force."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from farmcore.fieldbus.pollplan import (
    LineCost,
    Request,
    Span,
    per_point,
    plan,
    slice_registers,
    total_bytes,
    wire_time_s,
)

CHAR_9600_8N1 = 10 / 9600


def ranges(requests: list[Request]) -> list[tuple[int, int, int]]:
    return [(r.fc, r.start, r.count) for r in requests]


# --- cost model ---------------------------------------------------------------------------------------


def test_bytes_match_the_reference_frames() -> None:
    # ksx3267.md §3.1: "01 03 00 CA 00 5B 24 0F" (8) + "01 03 B6" + 182 data bytes + CRC (187)
    assert LineCost().bytes(3, 91) == 8 + 187
    # node info regs 1..8: "01 03 00 01 00 08 15 CC" + reply 01 03 10 <16 bytes> CRC
    assert LineCost().bytes(3, 8) == 8 + 21
    assert LineCost().bytes(4, 1) == 8 + 7


@pytest.mark.parametrize(("bits", "data_bytes"), [(1, 1), (8, 1), (9, 2), (16, 2), (17, 3), (2000, 250)])
def test_bit_reads_cost_whole_bytes(bits: int, data_bytes: int) -> None:
    assert LineCost().bytes(1, bits) == 8 + 5 + data_bytes
    assert LineCost().bytes(2, bits) == 8 + 5 + data_bytes


def test_transaction_time_counts_frames_silences_and_turnaround() -> None:
    # one register: 8 + 7 characters of frames + 2 × 3.5 characters of silence = 22 characters
    assert LineCost().transaction_s(3, 1) == pytest.approx(22 * CHAR_9600_8N1)
    assert LineCost(bits_per_char=11).transaction_s(3, 1) == pytest.approx(22 * 11 / 9600)
    assert LineCost(turnaround_s=0.005).transaction_s(3, 1) == pytest.approx(22 * CHAR_9600_8N1 + 0.005)
    # above 19200 baud the silent interval is a fixed 1.75 ms (Modbus over Serial Line §2.5.1.1)
    assert LineCost(baud=38400).transaction_s(3, 1) == pytest.approx(15 * 10 / 38400 + 2 * 0.00175)
    assert LineCost(baud=19200).transaction_s(3, 1) == pytest.approx(22 * 10 / 19200)


def test_cost_refuses_what_the_protocol_does_not_allow() -> None:
    with pytest.raises(ValueError):
        LineCost().bytes(3, 126)
    with pytest.raises(ValueError):
        LineCost().bytes(1, 2001)
    with pytest.raises(ValueError):
        LineCost().bytes(3, 0)
    with pytest.raises(ValueError):
        LineCost().bytes(16, 1)
    with pytest.raises(ValueError):
        LineCost(bits_per_char=9)
    with pytest.raises(ValueError):
        LineCost(baud=0)
    with pytest.raises(ValueError):
        LineCost(turnaround_s=-0.001)


def test_wire_time_and_bytes_add_up_per_request() -> None:
    requests = [Request(3, 0, 1, ()), Request(1, 0, 9, ())]
    assert total_bytes(requests) == 15 + 15
    assert wire_time_s(requests) == pytest.approx(44 * CHAR_9600_8N1)
    assert wire_time_s([]) == 0
    slow = LineCost(baud=1200)
    assert wire_time_s(requests, slow) == pytest.approx(8 * wire_time_s(requests))


# --- merge rules --------------------------------------------------------------------------------------


def test_adjacent_and_overlapping_spans_merge_without_readable_areas() -> None:
    spans = [Span(3, 10, 2, "a"), Span(3, 12, 3, "b"), Span(3, 14, 4, "c"), Span(3, 11, 1, "d")]
    (request,) = plan(spans)
    assert (request.start, request.count) == (10, 8)
    assert [s.key for s in request.spans] == ["a", "d", "b", "c"]


def test_no_gap_is_read_without_readable_areas() -> None:
    assert ranges(plan([Span(3, 0, 1, "a"), Span(3, 2, 1, "b")])) == [(3, 0, 1), (3, 2, 1)]


@pytest.mark.parametrize(("gap", "requests"), [(1, 1), (9, 1), (10, 1), (11, 2), (40, 2)])
def test_gap_merges_up_to_the_break_even(gap: int, requests: int) -> None:
    # Two 1-register reads: 2 × (8 + 7 + 7) = 44 characters. One read over the gap:
    # 8 + 5 + 2 × (gap + 2) + 7 = 24 + 2 × gap characters: equal at gap = 10 (20 characters of fixed
    # overhead = 10 registers). A tie goes to fewer requests.
    spans = [Span(3, 100, 1, "a"), Span(3, 101 + gap, 1, "b")]
    result = plan(spans, readable=[(3, 0, 1000)])
    assert len(result) == requests
    assert wire_time_s(result) == pytest.approx(min(44, 24 + 2 * gap) * CHAR_9600_8N1)


@pytest.mark.parametrize(("gap", "requests"), [(12, 1), (13, 2)])
def test_node_turnaround_moves_the_break_even(gap: int, requests: int) -> None:
    # 5 ms at 9600 8N1 is 4.8 characters per request, 2.4 registers: break-even at 12.4
    spans = [Span(3, 0, 1, "a"), Span(3, 1 + gap, 1, "b")]
    assert len(plan(spans, readable=[(3, 0, 100)], cost=LineCost(turnaround_s=0.005))) == requests


@pytest.mark.parametrize(("gap", "requests"), [(175, 1), (176, 2)])
def test_bit_gap_break_even(gap: int, requests: int) -> None:
    # Two 1-bit reads: 2 × (8 + 5 + 1 + 7) = 42. One read of gap + 1 bits: 20 + ceil((gap + 1) / 8)
    # characters: 42 up to 176 bits, 43 from 177 bits on.
    spans = [Span(1, 0, 1, "a"), Span(1, gap, 1, "b")]
    assert len(plan(spans, readable=[(1, 0, 1000)])) == requests


@pytest.mark.parametrize(
    "readable",
    [
        [],
        [(3, 0, 4)],
        [(3, 0, 4), (3, 6, 10)],  # the gap register 5 is not readable
        [(4, 0, 10)],  # the gap is readable with FC4 only
    ],
)
def test_gaps_outside_readable_areas_never_merge(readable: list[tuple[int, int, int]]) -> None:
    spans = [Span(3, 3, 2, "a"), Span(3, 6, 2, "b")]
    assert ranges(plan(spans, readable=readable)) == [(3, 3, 2), (3, 6, 2)]


def test_touching_readable_areas_join() -> None:
    spans = [Span(3, 3, 2, "a"), Span(3, 7, 2, "b")]
    assert ranges(plan(spans, readable=[(3, 0, 5), (3, 6, 6)])) == [(3, 3, 6)]


def test_register_limit() -> None:
    assert ranges(plan([Span(3, 0, 100, "a"), Span(3, 100, 25, "b")])) == [(3, 0, 125)]
    assert ranges(plan([Span(3, 0, 100, "a"), Span(3, 100, 26, "b")])) == [(3, 0, 100), (3, 100, 26)]
    small = [Span(3, 0, 5, "a"), Span(3, 5, 5, "b"), Span(3, 10, 1, "c")]
    assert ranges(plan(small)) == [(3, 0, 11)]
    assert ranges(plan(small, max_registers=10)) == [(3, 0, 10), (3, 10, 1)]


def test_bit_limit() -> None:
    assert ranges(plan([Span(1, 0, 1000, "a"), Span(1, 1000, 1000, "b")])) == [(1, 0, 2000)]
    assert len(plan([Span(1, 0, 1000, "a"), Span(1, 1000, 1001, "b")])) == 2
    assert len(plan([Span(2, 0, 8, "a"), Span(2, 8, 8, "b")], max_bits=15)) == 2


def test_different_function_codes_never_merge() -> None:
    spans = [
        Span(4, 2, 2, "ir"),
        Span(3, 2, 2, "hr2"),
        Span(2, 0, 8, "di"),
        Span(3, 0, 2, "hr0"),
        Span(1, 0, 8, "co"),
    ]
    result = plan(spans, readable=[(fc, 0, 100) for fc in (1, 2, 3, 4)])
    assert ranges(result) == [(1, 0, 8), (2, 0, 8), (3, 0, 4), (4, 2, 2)]


def test_output_is_sorted_and_independent_of_input_order() -> None:
    rng = random.Random(7)
    spans = [Span(rng.choice((1, 3)), start, rng.randint(1, 6), start) for start in range(0, 600, 7)]
    expected = plan(spans, readable=[(3, 0, 300), (1, 200, 700)])
    assert [(r.fc, r.start) for r in expected] == sorted((r.fc, r.start) for r in expected)
    for _ in range(5):
        rng.shuffle(spans)
        assert plan(spans, readable=[(3, 0, 300), (1, 200, 700)]) == expected


def test_duplicate_spans_share_a_request() -> None:
    span = Span(3, 10, 2, "t")
    (request,) = plan([span, Span(3, 15, 1, "x"), span], readable=[(3, 0, 40)])
    assert request.spans.count(span) == 2


def test_nothing_to_read() -> None:
    assert plan([]) == []
    assert per_point([]) == []


def test_span_longer_than_the_limit_is_split_and_keeps_its_key() -> None:
    big = Span(3, 1000, 300, "big")
    result = plan([big])
    assert ranges(result) == [(3, 1000, 125), (3, 1125, 125), (3, 1250, 50)]
    assert all(s.key == "big" for r in result for s in r.spans)
    values = {r: [a % 65536 for a in range(r.start, r.end + 1)] for r in result}
    joined = [v for r in result for s in r.spans for v in slice_registers(r, values[r], s)]
    assert joined == list(range(1000, 1300))
    assert ranges(per_point([big])) == ranges(result)


def test_ks_x_3267_sparse_sensor_node() -> None:
    # Sensor node default map (ksx3267.md §5.1): node status 202; slot i = [value f32, status] at
    # 203 + 3(i - 1). Slots 1, 4, 14 and 18 populated; the node defines the whole block 202..292.
    spans = [Span(3, 202, 1, "node")] + [Span(3, 203 + 3 * (i - 1), 3, i) for i in (1, 4, 14, 18)]
    result = plan(spans, readable=[(3, 202, 292)])
    # gap 206..211 (6) is read, 215..241 (27) is not, 245..253 (9) is read
    assert ranges(result) == [(3, 202, 13), (3, 242, 15)]
    assert [[s.key for s in r.spans] for r in result] == [["node", 1, 4], [14, 18]]
    # 46 + 50 characters, against 22 + 4 × 26 one per value and 202 for the whole block
    assert wire_time_s(result) == pytest.approx(96 * CHAR_9600_8N1)
    assert wire_time_s(per_point(spans)) == pytest.approx(126 * CHAR_9600_8N1)
    assert LineCost().transaction_s(3, 91) == pytest.approx(202 * CHAR_9600_8N1)


def test_per_point_is_one_request_per_span_in_given_order() -> None:
    spans = [Span(3, 5, 2, "b"), Span(3, 0, 2, "a"), Span(3, 7, 1, "c")]
    assert [(r.start, r.count, r.spans) for r in per_point(spans)] == [
        (s.start, s.count, (s,)) for s in spans
    ]


def test_bad_input_is_refused() -> None:
    for args in [(5, 0, 1), (3, 0, 0), (3, -1, 1), (3, 65535, 2)]:
        with pytest.raises(ValueError):
            Span(*args, key="x")
    with pytest.raises(ValueError):
        plan([Span(3, 0, 1, "x")], max_registers=126)
    with pytest.raises(ValueError):
        plan([Span(1, 0, 1, "x")], max_bits=0)
    with pytest.raises(ValueError):
        plan([Span(3, 0, 1, "x")], readable=[(3, 5, 4)])


# --- slicing replies ----------------------------------------------------------------------------------


def test_slice_registers() -> None:
    request = Request(3, 202, 13, ())
    reply = list(range(500, 513))
    assert slice_registers(request, reply, Span(3, 202, 1, "node")) == [500]
    assert slice_registers(request, reply, Span(3, 212, 3, 4)) == [510, 511, 512]
    with pytest.raises(ValueError):
        slice_registers(request, reply, Span(3, 213, 3, "past the end"))
    with pytest.raises(ValueError):
        slice_registers(request, reply, Span(4, 202, 1, "other fc"))
    with pytest.raises(ValueError):
        slice_registers(request, reply[:-1], Span(3, 202, 1, "short reply"))


def test_slice_bits_accepts_the_padding_of_the_last_byte() -> None:
    request = Request(1, 16, 10, ())
    bits = [True, False] * 8  # 10 bits arrive as two whole bytes
    assert slice_registers(request, bits, Span(1, 24, 2, "x")) == [True, False]
    with pytest.raises(ValueError):
        slice_registers(request, [*bits, False], Span(1, 24, 2, "x"))


# --- optimality against brute force -------------------------------------------------------------------


def brute_force(
    spans: list[Span], readable: list[tuple[int, int, int]], cost: LineCost, limits: dict[int, int]
) -> float:
    """Least wire time over every partition of the spans into requests (not only runs of neighbours).

    A block that is too long or reads an undefined address stays so when spans join it, so those
    branches are cut; every allowed partition is still visited.
    """
    allowed = {fc: set() for fc in limits}
    for s in spans:
        allowed[s.fc].update(range(s.start, s.end + 1))
    for fc, start, end in readable:
        allowed[fc].update(range(start, end + 1))
    best = math.inf
    blocks: list[tuple[int, int, int]] = []

    def place(k: int) -> None:
        nonlocal best
        if k == len(spans):
            best = min(best, sum(cost.transaction_s(fc, hi - lo + 1) for fc, lo, hi in blocks))
            return
        s = spans[k]
        for index, (fc, lo, hi) in enumerate(blocks):
            lo2, hi2 = min(lo, s.start), max(hi, s.end)
            if fc == s.fc and hi2 - lo2 < limits[fc] and allowed[fc].issuperset(range(lo2, hi2 + 1)):
                blocks[index] = (fc, lo2, hi2)
                place(k + 1)
                blocks[index] = (fc, lo, hi)
        blocks.append((s.fc, s.start, s.end))
        place(k + 1)
        blocks.pop()

    place(0)
    return best


@st.composite
def problems(draw: st.DrawFn) -> tuple[list[Span], list[tuple[int, int, int]] | None, LineCost, int, int]:
    max_registers = draw(st.integers(2, 30))
    max_bits = draw(st.integers(8, 300))
    spans = []
    for key in range(draw(st.integers(1, 9))):
        fc = draw(st.sampled_from((1, 3)))
        if fc == 3:
            count, start = draw(st.integers(1, min(8, max_registers))), draw(st.integers(0, 60))
        else:
            count, start = draw(st.integers(1, min(40, max_bits))), draw(st.integers(0, 400))
        spans.append(Span(fc, start, count, key))
    areas = st.one_of(
        st.tuples(st.just(3), st.integers(0, 60), st.integers(0, 60)),
        st.tuples(st.just(1), st.integers(0, 400), st.integers(0, 200)),
    ).map(lambda a: (a[0], a[1], a[1] + a[2]))
    everything = [(3, 0, 100), (1, 0, 500)]
    readable = draw(st.none() | st.just(everything) | st.lists(areas, min_size=1, max_size=4))
    cost = LineCost(
        baud=draw(st.sampled_from((9600, 19200, 115200))),
        bits_per_char=draw(st.sampled_from((10, 11))),
        turnaround_s=draw(st.sampled_from((0.0, 0.001, 0.02))),
    )
    return spans, readable, cost, max_registers, max_bits


@settings(max_examples=300, deadline=None)
@given(problems())
def test_plan_is_optimal_and_valid(problem: tuple) -> None:
    spans, readable, cost, max_registers, max_bits = problem
    limits = {1: max_bits, 3: max_registers}
    result = plan(spans, readable=readable, cost=cost, max_registers=max_registers, max_bits=max_bits)

    assert math.isclose(
        wire_time_s(result, cost), brute_force(spans, readable or [], cost, limits), rel_tol=1e-9
    )
    assert wire_time_s(result, cost) <= wire_time_s(per_point(spans), cost) * (1 + 1e-9)

    # every span is served by exactly one request, which contains it
    assert Counter(s for r in result for s in r.spans) == Counter(spans)
    for r in result:
        assert r.count <= limits[r.fc]
        assert all(s.fc == r.fc and r.start <= s.start and s.end <= r.end for s in r.spans)
        assert r.start == min(s.start for s in r.spans) and r.end == max(s.end for s in r.spans)

    # every address read is requested or readable
    for r in result:
        for address in range(r.start, r.end + 1):
            assert any(s.fc == r.fc and s.start <= address <= s.end for s in spans) or any(
                fc == r.fc and start <= address <= end for fc, start, end in readable or []
            )

    assert [(r.fc, r.start) for r in result] == sorted((r.fc, r.start) for r in result)
