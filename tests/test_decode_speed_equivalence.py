"""The fast decode paths (one struct unpack per block, cached layouts and lookups) equal the plain ones."""

from __future__ import annotations

import copy
import pickle
import random
from dataclasses import replace
from itertools import product

import pytest

from farmcore.fieldbus import codec
from farmcore.fieldbus.node import KsNode
from farmcore.fieldbus.pollplan import Span
from farmcore.fieldbus.profile import Block, Item, builtin_profiles

ORDERS = list(product(("big", "little"), repeat=2))


def shipped_blocks() -> list[tuple[str, Block]]:
    out = []
    for pid, profile in sorted(builtin_profiles().items()):
        named = [("node.read", profile.node_read), ("node.write", profile.node_write)]
        for s in profile.slots:
            named += [(f"slot {s.slot} read", s.read), (f"slot {s.slot} write", s.write)]
        out += [(f"{pid} {where}", b) for where, b in named if b is not None]
    return out


BLOCKS = shipped_blocks()


def exact(values: dict[str, float | int]) -> list[tuple[str, type, str]]:
    """Names, types and reprs, so NaN compares equal to NaN and 1 differs from 1.0."""
    return [(k, type(v), repr(v)) for k, v in values.items()]


def with_orders(block: Block, byte_order: str, word_order: str) -> Block:
    items = tuple(replace(i, byte_order=byte_order, word_order=word_order) for i in block.items)
    return replace(block, items=items)


def test_every_shipped_profile_has_blocks_and_they_take_the_fast_path():
    assert len(BLOCKS) > 50
    assert all(block._fast is not None for _name, block in BLOCKS)


@pytest.mark.parametrize(("name", "block"), BLOCKS, ids=[n for n, _b in BLOCKS])
def test_fast_path_equals_item_by_item_for_random_registers(name: str, block: Block):
    rng = random.Random(name)
    for byte_order, word_order in [(None, None), *ORDERS]:
        b = block if byte_order is None else with_orders(block, byte_order, word_order)
        for _ in range(50):
            regs = [rng.choice((0, 0xFFFF, 0x8000, 0x7FFF, rng.randrange(0x10000))) for _ in range(b.count)]
            assert exact(b.decode(regs)) == exact(b.decode_items(regs)), (byte_order, word_order, regs)
            assert exact(b.decode(tuple(regs))) == exact(b.decode_items(regs))


def test_scale_offset_and_every_type_in_every_order():
    rng = random.Random(7)
    types = list(codec.TYPES)
    for byte_order, word_order in ORDERS:
        items, register = [], 100
        for n, type_ in enumerate(types * 2):
            scale, offset = ((1.0, 0.0), (0.1, 0.0), (1.0, -40.0), (0.01, 3.5))[n % 4]
            items.append(Item(f"v{n}", register, type_, byte_order, word_order, scale, offset))  # type: ignore[arg-type]
            register += codec.size_of(type_)
        block = Block(3, 100, tuple(items))
        assert block._fast is not None
        for _ in range(200):
            regs = [rng.randrange(0x10000) for _ in range(block.count)]
            assert exact(block.decode(regs)) == exact(block.decode_items(regs))
            for item, (key, value) in zip(block.items, block.decode(regs).items(), strict=True):
                pos = item.register - block.start
                assert key == item.name
                assert repr(value) == repr(item.decode(regs[pos:pos + item.size]))


def test_known_value_in_the_ks_word_order():
    block = Block(3, 0, (Item("value", 0, "f32", word_order="little"), Item("status", 2, "u16")))
    assert block.decode([0x6666, 0x41E6, 0]) == {"value": pytest.approx(28.8), "status": 0}  # KS X 3267 §4.3.3


def test_blocks_the_fast_path_cannot_take_fall_back():
    mixed = Block(3, 0, (Item("a", 0, "f32", word_order="little"), Item("b", 2, "f32")))
    gap = Block(3, 0, (Item("a", 0, "u16"), Item("b", 2, "u16")))
    assert mixed._fast is None and gap._fast is None
    assert mixed.decode([0x6666, 0x41E6, 0x41E6, 0x6666]) == mixed.decode_items([0x6666, 0x41E6, 0x41E6, 0x6666])
    with pytest.raises(ValueError, match="takes 2 registers"):
        gap.decode([1, 2, 3])  # count sums the item sizes, not the span of registers


@pytest.mark.parametrize("bad", [-1, 0x10000, 1 << 40])
def test_out_of_range_registers_raise_the_same_error(bad: int):
    _name, block = BLOCKS[0]
    regs = [0] * block.count
    regs[-1] = bad
    with pytest.raises(ValueError) as fast:
        block.decode(regs)
    with pytest.raises(ValueError) as slow:
        block.decode_items(regs)
    assert str(fast.value) == str(slow.value)
    with pytest.raises(ValueError, match="takes"):
        block.decode(regs[:-1])


def test_blocks_with_cached_decoders_still_pickle_copy_and_compare():
    _name, block = BLOCKS[-1]
    regs = list(range(block.count))
    block.decode(regs)
    for clone in (pickle.loads(pickle.dumps(block)), copy.deepcopy(block), copy.copy(block)):
        assert clone == block and hash(clone) == hash(block)
        assert exact(clone.decode(regs)) == exact(block.decode(regs))


def test_node_devices_and_spans_follow_device_code_changes():
    profile = builtin_profiles()["ksx3267:2022/sensor-default"]
    node = KsNode(bus=None, unit=1, profile=profile, device_codes={1: 1, 4: 2})  # type: ignore[arg-type]

    def expected() -> list[Span]:
        blocks = [("node", profile.node_read)] if profile.node_read else []
        blocks += [(s, profile.slot(s).read) for s in sorted(node.device_codes) if profile.slot(s)]
        return [Span(b.fc, b.start, b.count, key) for key, b in blocks]

    assert [d[:2] for d in node.devices()] == [(profile.slot(1), 1), (profile.slot(4), 2)]
    assert node.spans() == expected()
    node.device_codes = {2: 1}  # as read_device_codes does
    assert [d[1] for d in node.devices()] == [1] and node.spans() == expected()
    node.device_codes[3] = 2  # mutated in place
    assert [d[0].slot for d in node.devices()] == [2, 3] and node.spans() == expected()
    node.devices().clear()  # callers get their own lists
    assert len(node.devices()) == 2
