"""Poll plans: which read requests to send so that a node's wanted registers cost the least wire time.

A half-duplex RS485 bus carries one transaction at a time (KS X 3267 §4.1), so every request costs
a fixed overhead (framing, CRC, two silent intervals, the node's turnaround) besides its data.
Merging nearby spans into one request saves that overhead but reads the registers in between,
which is only allowed where the node defines them: elsewhere it answers exception 0x02.
`plan()` finds the cheapest set of requests under `LineCost`; `per_point()` is the naive
one-request-per-value baseline it is measured against.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

BIT_FCS = (1, 2)  # Read Coils, Read Discrete Inputs: count is in bits
REGISTER_FCS = (3, 4)  # Read Holding Registers, Read Input Registers: count is in 16-bit registers
MAX_REGISTERS = 125  # Modbus Application Protocol V1.1b3 §6.3/§6.4: quantity 1..0x7D
MAX_BITS = 2000  # Modbus Application Protocol V1.1b3 §6.1/§6.2: quantity 1..0x7D0
ADDRESSES = 0x10000  # a PDU address is 16 bits


@dataclass(frozen=True)
class Span:
    """Something a caller wants read; `key` lets it find its data back in the replies."""

    fc: int
    start: int
    count: int
    key: Hashable

    def __post_init__(self) -> None:
        if self.fc not in BIT_FCS + REGISTER_FCS:
            raise ValueError(f"fc {self.fc} is not a read function (1, 2, 3 or 4)")
        if self.count < 1 or self.start < 0 or self.start + self.count > ADDRESSES:
            raise ValueError(f"span {self.start}+{self.count} is outside the addresses 0..65535")

    @property
    def end(self) -> int:
        """Last address read (inclusive)."""
        return self.start + self.count - 1


@dataclass(frozen=True)
class Request:
    """One read transaction and the spans it serves."""

    fc: int
    start: int
    count: int
    spans: tuple[Span, ...]

    @property
    def end(self) -> int:
        """Last address read (inclusive)."""
        return self.start + self.count - 1


@dataclass(frozen=True)
class LineCost:
    """Wire time of one Modbus RTU read transaction.

    Per transaction (Modbus over Serial Line V1.02 §2.5.1; Modbus Application Protocol V1.1b3 §6.1-§6.4):

    * request frame, FC1-4: unit, fc, address (2), quantity (2), CRC (2) = 8 characters;
    * response frame: unit, fc, byte count, data, CRC (2) = 5 characters + data, where data is
      2 bytes per register (FC3/4) or ceil(bits / 8) bytes (FC1/2);
    * a silent interval of 3.5 characters after each of the two frames (V1.02 §2.5.1.1); above
      19200 baud that section fixes it at 1.75 ms instead, so it does not shrink with the baud rate;
    * the node's turnaround, from the end of the request to its first reply character. It is a
      property of the node, not of the protocol, hence a parameter (default 0: not modelled).

    A character is `bits_per_char` bits long: start + 8 data + parity/stop, so 10 for 8N1 (the
    KS X 3267 de-facto setting) and 11 for 8E1, 8O1 or 8N2.

    At 9600 8N1 the fixed part is 8 + 5 + 7 = 20 characters, the price of 10 registers: merging
    two spans pays off while the registers read in between them are fewer than 10.
    """

    baud: int = 9600
    bits_per_char: int = 10
    turnaround_s: float = 0.0

    def __post_init__(self) -> None:
        if self.baud <= 0:
            raise ValueError(f"baud must be positive, got {self.baud}")
        if self.bits_per_char not in (10, 11):
            raise ValueError(f"an RTU character is 10 or 11 bits, got {self.bits_per_char}")
        if self.turnaround_s < 0:
            raise ValueError(f"turnaround_s must not be negative, got {self.turnaround_s}")

    @property
    def char_s(self) -> float:
        """Time on the wire of one character."""
        return self.bits_per_char / self.baud

    @property
    def overhead_chars(self) -> float:
        """Silent intervals and turnaround of one transaction, in character times."""
        silent = 3.5 if self.baud <= 19200 else 0.00175 / self.char_s
        return 2 * silent + self.turnaround_s / self.char_s

    def bytes(self, fc: int, count: int) -> int:
        """Request plus response bytes of reading `count` registers (or bits) with `fc`."""
        if fc in BIT_FCS:
            if not 1 <= count <= MAX_BITS:
                raise ValueError(f"FC{fc} reads 1..{MAX_BITS} bits, not {count}")
            data = (count + 7) // 8
        elif fc in REGISTER_FCS:
            if not 1 <= count <= MAX_REGISTERS:
                raise ValueError(f"FC{fc} reads 1..{MAX_REGISTERS} registers, not {count}")
            data = 2 * count
        else:
            raise ValueError(f"fc {fc} is not a read function (1, 2, 3 or 4)")
        return 8 + 5 + data

    def chars(self, fc: int, count: int) -> float:
        """Whole transaction in character times; what `plan()` minimises."""
        return self.bytes(fc, count) + self.overhead_chars

    def transaction_s(self, fc: int, count: int) -> float:
        """Whole transaction in seconds."""
        return self.chars(fc, count) * self.char_s


DEFAULT_LINE = LineCost()  # 9600 8N1, the KS X 3267 and KOAT test setting


def wire_time_s(requests: Iterable[Request], cost: LineCost = DEFAULT_LINE) -> float:
    """Bus time of sending these requests one after the other."""
    return sum(cost.transaction_s(r.fc, r.count) for r in requests)


def total_bytes(requests: Iterable[Request], cost: LineCost = DEFAULT_LINE) -> int:
    """Request plus response bytes of these requests."""
    return sum(cost.bytes(r.fc, r.count) for r in requests)


def _limit(fc: int, max_registers: int, max_bits: int) -> int:
    return max_bits if fc in BIT_FCS else max_registers


def _check_limits(max_registers: int, max_bits: int) -> None:
    if not 1 <= max_registers <= MAX_REGISTERS:
        raise ValueError(f"max_registers must be 1..{MAX_REGISTERS}, got {max_registers}")
    if not 1 <= max_bits <= MAX_BITS:
        raise ValueError(f"max_bits must be 1..{MAX_BITS}, got {max_bits}")


def _pieces(span: Span, limit: int) -> list[Span]:
    """A span longer than one request allows, cut into pieces from its start; pieces keep its key."""
    if span.count <= limit:
        return [span]
    return [
        Span(span.fc, start, min(limit, span.end - start + 1), span.key)
        for start in range(span.start, span.end + 1, limit)
    ]


def per_point(
    spans: Iterable[Span], max_registers: int = MAX_REGISTERS, max_bits: int = MAX_BITS
) -> list[Request]:
    """One request per span, in the given order: what one-entity-one-read configurations send."""
    _check_limits(max_registers, max_bits)
    return [
        Request(p.fc, p.start, p.count, (p,))
        for s in spans
        for p in _pieces(s, _limit(s.fc, max_registers, max_bits))
    ]


def _merge(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of inclusive intervals as sorted, disjoint, non-adjacent intervals."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1] + 1:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def plan(
    spans: Iterable[Span],
    readable: Iterable[tuple[int, int, int]] | None = None,
    cost: LineCost = DEFAULT_LINE,
    max_registers: int = MAX_REGISTERS,
    max_bits: int = MAX_BITS,
) -> list[Request]:
    """Requests of least total `cost.transaction_s` that read every span, ordered by (fc, start).

    `readable` lists `(fc, start, end_inclusive)` areas where the node defines every address, so a
    request may read unrequested addresses there; with None only overlapping or adjacent spans
    merge. Addresses some span requests are always readable. Each span is read whole by exactly one
    request, except that a span longer than the limit is first cut into pieces of the limit from
    its start (pieces keep its key); optimality is over plans that read each piece whole. Ties go
    to fewer requests, since per-request costs the model leaves out (master scheduling, a turnaround
    left at 0) only add to those.
    """
    _check_limits(max_registers, max_bits)
    by_fc: dict[int, list[Span]] = {}
    for s in spans:
        by_fc.setdefault(s.fc, []).extend(_pieces(s, _limit(s.fc, max_registers, max_bits)))
    areas: dict[int, list[tuple[int, int]]] = {}
    for fc, start, end in readable or ():
        if start > end:
            raise ValueError(f"readable area ({fc}, {start}, {end}) ends before it starts")
        areas.setdefault(fc, []).append((start, end))
    requests: list[Request] = []
    for fc in sorted(by_fc):
        requests.extend(_plan_fc(fc, by_fc[fc], areas.get(fc, []), cost, _limit(fc, max_registers, max_bits)))
    return requests


@functools.lru_cache(maxsize=16)
def _chars_table(cost: LineCost, fc: int, limit: int) -> tuple[float, ...]:
    """`cost.chars(fc, count)` at index count, for 1..limit: built once per line, not per plan."""
    return (0.0, *(cost.chars(fc, count) for count in range(1, limit + 1)))


def _plan_fc(
    fc: int, spans: list[Span], areas: list[tuple[int, int]], cost: LineCost, limit: int
) -> list[Request]:
    """Optimal requests for the spans of one function code.

    Why grouping spans that are consecutive in start order suffices: take any optimal plan and
    shrink each request to the hull of its spans (never dearer, still readable). No request's range
    then contains another's, or moving the inner one's spans into the outer and dropping it would
    save a whole fixed overhead; so ordered by start the ranges are also ordered by end. Now give
    each span to the LAST request (in that order) whose range contains it. If span x starts no later
    than span y but went to a later request R than y's Q, R does not contain y although it starts
    no later than x <= y: so y ends after R, hence Q, which contains y, ends after R too,
    contradicting Q < R. Spans therefore go to requests in start order and each request serves a
    run of consecutive spans (one left without any is dropped), whose hull lies inside its old
    range: readable and within the limit. The cost of a request depends only on its hull and grows
    with it (so does the stepwise ceil(bits / 8) of FC1/2), so this plan is no dearer, and the
    dynamic programme below over prefixes of the sorted spans, which tries every run partition,
    finds an optimum.

    A hull may be read iff it lies in one maximal interval of (requested ∪ readable) addresses,
    i.e. iff its first and last span lie in the same one. Hulls only grow as a run extends to the
    left, so the inner loop stops at the first run that is too long or leaves the interval: O(n·w)
    for runs of at most w spans.
    """
    spans = sorted(spans, key=lambda s: (s.start, s.count))  # stable: equal spans keep input order
    starts = [s.start for s in spans]
    ends = [s.end for s in spans]
    bounds = _merge([*areas, *((s.start, s.end) for s in spans)])
    uppers = [end for _, end in bounds]
    component = [bisect.bisect_left(uppers, start) for start in starts]
    # components are runs of the sorted spans; first[k]: index of the first span in k's run
    first = [0] * len(spans)
    for k in range(1, len(spans)):
        first[k] = first[k - 1] if component[k] == component[k - 1] else k
    chars = _chars_table(cost, fc, limit)

    n = len(spans)
    best = [0.0] * (n + 1)  # best[i]: cheapest plan, in character times, for spans[:i]
    used = [0] * (n + 1)  # its number of requests, the tie-break
    cut = [0] * (n + 1)  # its last request serves spans[cut[i]:i]
    for i in range(1, n + 1):
        last = i - 1
        hull_end = ends[last]
        best_i, used_i, cut_i = float("inf"), 0, last
        for j in range(last, first[last] - 1, -1):
            if ends[j] > hull_end:
                hull_end = ends[j]
            count = hull_end - starts[j] + 1
            if count > limit:
                break
            total = best[j] + chars[count]
            if total <= best_i and (total < best_i or used[j] + 1 < used_i):
                best_i, used_i, cut_i = total, used[j] + 1, j
        best[i], used[i], cut[i] = best_i, used_i, cut_i

    requests: list[Request] = []
    i = n
    while i:
        j = cut[i]
        end = max(ends[j:i])
        requests.append(Request(fc, starts[j], end - starts[j] + 1, tuple(spans[j:i])))
        i = j
    requests.reverse()
    return requests


def slice_registers(request: Request, registers: Sequence[int], span: Span) -> list[int]:
    """The part of a request's reply that belongs to `span` (which must lie inside the request).

    A bit reply may carry padding up to the next multiple of 8 (the bits of its last data byte).
    """
    if span.fc != request.fc or not request.start <= span.start <= span.end <= request.end:
        raise ValueError(
            f"span FC{span.fc} {span.start}..{span.end} is not inside request "
            f"FC{request.fc} {request.start}..{request.end}"
        )
    longest = (request.count + 7) // 8 * 8 if request.fc in BIT_FCS else request.count
    if not request.count <= len(registers) <= longest:
        raise ValueError(f"reply has {len(registers)} values, the request read {request.count}")
    offset = span.start - request.start
    return list(registers[offset : offset + span.count])
