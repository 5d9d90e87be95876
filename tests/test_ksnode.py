"""Simulated KS X 3267 / KS X 3288 nodes and vendor devices, driven by Modbus requests and a fake clock."""

from __future__ import annotations

import struct

import pytest

from farmcore.fieldbus import codec
from farmcore.fieldbus.framing import Request
from farmcore.fieldbus.profile import builtin_profiles
from farmcore.twin.bench import demo_site, describe
from farmcore.twin.ksnode import LOCAL, REMOTE, KsNode
from farmcore.twin.registers import RegisterDevice
from farmcore.twin.vendor import VendorDevice

SENSOR = builtin_profiles()["ksx3267:2022/sensor-default"]
ACTUATOR = builtin_profiles()["ksx3267:2022/actuator-default"]
NUTRIENT = builtin_profiles()["ksx3288:2022/nutrient-default"]

SWITCH_1, SWITCH_2, VENT_1, VENT_2 = 503, 507, 567, 571  # command blocks (ksx3267.md §5.2)
SWITCH_1_STATUS, VENT_1_STATUS, VENT_2_STATUS = 203, 267, 271


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def reply_of(device: RegisterDevice, req: Request) -> list[int] | int:
    """Registers or bits of a read, the echo of a write, or the exception code."""
    pdu = device.handle(req)
    if pdu[0] & 0x80:
        return pdu[1]
    if req.fc in (1, 2):
        return [(pdu[2 + i // 8] >> (i % 8)) & 1 for i in range(req.count)]
    if req.fc in (3, 4):
        return list(struct.unpack(f">{pdu[1] // 2}H", pdu[2:]))
    return []


def read(device: RegisterDevice, address: int, count: int = 1, fc: int = 3) -> list[int] | int:
    return reply_of(device, Request(fc, address, count))


def write(device: RegisterDevice, address: int, values: list[int]) -> list[int] | int:
    return reply_of(device, Request(16, address, len(values), tuple(values)))


def actuator_node(clock: FakeClock, **kwargs) -> KsNode:
    codes = {1: 102, 2: 102, 3: 101, 17: 112, 18: 113}  # switch 3 is level 0, vent 2 level 2
    return KsNode(ACTUATOR, codes, clock=clock, travel_s={17: 60, 18: 60}, **kwargs)


def nutrient_node(clock: FakeClock) -> KsNode:
    return KsNode(NUTRIENT, {1: 12, 4: 16, 21: 202}, clock=clock, reaction_s=5, once_s=20, areas=4)


# ---------------------------------------------------------------------- node information and layout


def test_node_info_device_codes_and_golden_value():
    node = KsNode(SENSOR, {1: 1, 4: 2}, product_code=7, serial=0x12345678)
    assert read(node, 1, 8) == [0, 0, 1, 7, 10, 30, 0x5678, 0x1234]  # serial low word first
    assert read(node, 101, 30) == [1, 0, 0, 2] + [0] * 26
    node.set_sensor(1, 23.2953987)  # the real-node reading of ksx3267.md §3.1, "23.2954 degC"
    assert read(node, 203, 2) == [0x5CFA, 0x41BA]
    block = read(node, 202, 91)  # the whole sensor block in one request, as LHK reads it
    assert block[:4] == [0, 0x5CFA, 0x41BA, 0]
    node.set_sensor(4, 71.0, status=102)  # NEED_CALIBRATION
    assert codec.decode(read(node, 212, 2), "f32", word_order="little") == pytest.approx(71.0)
    assert read(node, 214) == [102]


def test_actuator_and_nutrient_node_info():
    assert read(actuator_node(FakeClock()), 1, 8)[2:6] == [2, 0, 10, 24]
    nutrient = nutrient_node(FakeClock())
    assert read(nutrient, 1, 8)[2:6] == [3, 0, 20, 21]
    assert read(nutrient, 101, 21) == [12, 0, 0, 16] + [0] * 16 + [202]
    assert read(nutrient, 201, 3) == [0, 0, REMOTE]  # [status, opid, control]
    assert read(KsNode(SENSOR, {}, protocol_version=101), 5) == [101]


def test_exception_2_outside_the_map_and_on_read_only_areas():
    node = actuator_node(FakeClock())
    for address, count in [(0, 1), (9, 1), (1, 9), (299, 1), (400, 1), (599, 1), (200, 2)]:
        assert read(node, address, count) == 2, (address, count)
    for address in (1, 101, 201, SWITCH_1_STATUS):
        assert write(node, address, [0]) == 2, address
    assert read(node, 201, 98) == [0] * 98  # whole status block 201..298 (ksx3267.md §3.1)
    assert read(node, 501, 98) == [0] * 98  # and the command area


def test_profile_and_slot_mismatches_are_refused():
    with pytest.raises(ValueError, match="slot 1 takes a switch"):
        KsNode(ACTUATOR, {1: 112})
    with pytest.raises(ValueError, match="no slot 25"):
        KsNode(ACTUATOR, {25: 102})
    with pytest.raises(ValueError, match="holds no sensor"):
        KsNode(SENSOR, {1: 1}).set_sensor(2, 20.0)


# ---------------------------------------------------------------------- OPID rules


def test_command_acts_only_when_the_opid_changes():
    clock = FakeClock()
    node = actuator_node(clock)
    assert write(node, SWITCH_1, [201, 7]) == []
    assert read(node, SWITCH_1_STATUS, 2) == [7, 201]
    assert write(node, SWITCH_1, [0, 7]) == []  # OFF with the same OPID: ignored (but stored)
    assert read(node, SWITCH_1_STATUS, 2) == [7, 201]
    assert node.actuator(1).on
    assert reply_of(node, Request(6, SWITCH_1 + 1, 1, (8,))) == []  # a new OPID alone re-activates: OFF
    assert read(node, SWITCH_1_STATUS, 2) == [0, 0]
    assert not node.actuator(1).on


def test_one_write_can_command_several_devices():
    node = actuator_node(FakeClock())
    assert write(node, SWITCH_1, [201, 1, 0, 0, 201, 2, 0, 0]) == []
    assert node.actuator(1).on and node.actuator(2).on
    assert write(node, SWITCH_1, [0, 3, 0, 0, 999, 4, 0, 0]) == 3  # one refusal refuses both
    assert node.actuator(1).on


def test_timed_on_counts_down_to_ready():
    clock = FakeClock()
    node = actuator_node(clock)
    assert write(node, SWITCH_1, [202, 9, 3, 0]) == []  # TIMED_ON 3 s
    assert read(node, SWITCH_1_STATUS, 4) == [9, 201, 3, 0]
    clock.now += 0.5
    node.tick()
    assert read(node, SWITCH_1_STATUS, 4) == [9, 201, 3, 0]
    clock.now += 0.5
    node.tick()
    assert read(node, SWITCH_1_STATUS, 4) == [9, 201, 2, 0]
    assert node.actuator(1).remaining_s == 2
    node.tick(clock.now + 2)  # an explicit time, as the time-accelerated twin steps it
    assert read(node, SWITCH_1_STATUS, 4) == [0, 0, 0, 0]  # READY, OPID 0 after completion


def test_opid_can_be_kept_after_completion():
    clock = FakeClock()
    node = actuator_node(clock, opid_after_completion="keep")
    write(node, SWITCH_1, [202, 9, 1, 0])
    node.tick(clock.now + 1)
    assert read(node, SWITCH_1_STATUS, 4) == [9, 0, 0, 0]


# ---------------------------------------------------------------------- exception 3


@pytest.mark.parametrize(("address", "block", "why"), [
    (SWITCH_1, [203, 5, 10, 0], "level-2 DIRECTIONAL_ON on a level-1 switch"),
    (VENT_1, [305, 5, 50, 0], "level-2 SET_POSITION on a level-1 retractable"),
    (VENT_1, [306, 5, 30, 30], "level-2 SET_CONFIG on a level-1 retractable"),
    (SWITCH_1, [202, 5, 0, 0], "TIMED_ON with time 0"),
    (VENT_1, [303, 5, 0, 0], "TIMED_OPEN with time 0"),
    (SWITCH_1, [301, 5, 0, 0], "a retractable operation on a switch"),
    (SWITCH_1 + 8, [201, 5, 0, 0], "any operation on a level-0 switch"),
    (SWITCH_1 + 12, [201, 5, 0, 0], "an empty slot"),
    (VENT_2, [305, 5, 101, 0], "position above 100 %"),
    (501, [2, 5], "CONTROL where the node block has no control item"),
])
def test_exception_3_and_no_state_change(address: int, block: list[int], why: str):
    node = actuator_node(FakeClock())
    assert write(node, address, block) == 3, why
    assert read(node, address, len(block)) == [0] * len(block), "a refused command is not stored"
    assert read(node, 201, 98) == [0] * 98


def test_refused_command_can_be_sent_again_with_the_same_opid():
    node = actuator_node(FakeClock())
    assert write(node, SWITCH_1, [202, 5, 0, 0]) == 3
    assert write(node, SWITCH_1, [202, 5, 10, 0]) == []
    assert read(node, SWITCH_1_STATUS, 3) == [5, 201, 10]


# ---------------------------------------------------------------------- retractables


def test_open_runs_the_full_travel_time_and_stop_holds_the_position():
    clock = FakeClock()
    node = actuator_node(clock)
    write(node, VENT_1, [301, 1, 0, 0])
    assert read(node, VENT_1_STATUS, 3) == [1, 301, 60]
    clock.now += 15
    node.tick()
    assert node.actuator(17).position == pytest.approx(25.0)
    write(node, VENT_1, [0, 2, 0, 0])  # STOP
    clock.now += 30
    node.tick()
    state = node.actuator(17)
    assert (state.status, state.on, state.position) == (0, False, pytest.approx(25.0))
    write(node, VENT_1, [304, 3, 10, 0])  # TIMED_CLOSE 10 s
    assert read(node, VENT_1_STATUS, 2) == [3, 302]
    node.tick(clock.now + 100)
    assert node.actuator(17).position == pytest.approx(25.0 - 100 * 10 / 60)
    write(node, VENT_1, [301, 4, 0, 0])
    node.tick(clock.now + 1000)
    assert node.actuator(17).position == 100.0


def test_level_2_set_position_moves_to_the_target():
    clock = FakeClock()
    node = actuator_node(clock)
    assert write(node, VENT_2, [305, 1, 40, 0]) == []  # position in the first parameter word
    assert read(node, VENT_2_STATUS, 3) == [1, 301, 24]  # 40 % of a 60 s travel
    clock.now += 12
    node.tick()
    assert node.actuator(18).position == pytest.approx(20.0)
    node.tick(clock.now + 12)
    state = node.actuator(18)
    assert (state.status, state.position, state.opid) == (0, 40.0, 0)
    write(node, VENT_2, [306, 2, 30, 20])  # SET_CONFIG: open 30 s, close 20 s
    write(node, VENT_2, [305, 3, 20, 0])
    assert read(node, VENT_2_STATUS, 3) == [3, 302, 4]  # 20 % of 20 s


# ---------------------------------------------------------------------- control right


def test_local_control_ignores_remote_commands_and_reports_299_399():
    clock = FakeClock()
    node = actuator_node(clock)
    node.set_control(LOCAL)
    assert read(node, SWITCH_1_STATUS, 2) == [0, 299]
    assert read(node, VENT_1_STATUS, 2) == [0, 399]
    assert write(node, SWITCH_1, [201, 11]) == []  # accepted on the wire, ignored by the node
    assert not node.actuator(1).on
    assert node.actuator(1).status == 299
    node.set_control(REMOTE)
    assert read(node, SWITCH_1_STATUS, 2) == [0, 0]
    assert write(node, SWITCH_1, [201, 12]) == []
    assert node.actuator(1).on


def test_control_command_on_a_nutrient_node():
    node = nutrient_node(FakeClock())
    assert write(node, 501, [2, 1, LOCAL]) == []
    assert read(node, 201, 3) == [0, 1, LOCAL]
    assert read(node, 401) == [299]
    assert write(node, 504, [402, 2, 1, 1, 10, 0]) == []
    assert node.nutrient().status == 299 and not node.nutrient().supplying
    assert write(node, 501, [2, 3, 9]) == 3  # no such control right
    assert write(node, 501, [2, 4, REMOTE]) == []
    assert read(node, 201, 3) == [0, 4, REMOTE]
    assert read(node, 401) == [0]


# ---------------------------------------------------------------------- KS X 3288 supply


def test_nutrient_water_sequence():
    clock = FakeClock()
    node = nutrient_node(clock)
    assert write(node, 504, [402, 5, 1, 2, 10, 0]) == []  # WATER areas 1..2, 10 s each
    assert read(node, 401, 6) == [401, 0, 0, 5, 0, 0]  # [status, area, alert, opid, remain-time]
    clock.now += 5  # the node's reaction time
    node.tick()
    assert read(node, 401, 6) == [402, 1, 0, 5, 10, 0]
    state = node.nutrient()
    assert (state.supplying, state.area, state.ec, state.ph) == (True, 1, None, None)
    clock.now += 4
    node.tick()
    assert read(node, 401, 6) == [402, 1, 0, 5, 6, 0]
    clock.now += 6
    node.tick()
    assert read(node, 401, 6) == [402, 2, 0, 5, 10, 0]
    clock.now += 10
    node.tick()
    assert read(node, 401, 6) == [403, 0, 0, 5, 0, 0]
    clock.now += 5
    node.tick()
    assert read(node, 401, 6) == [0, 0, 0, 0, 0, 0]


def test_nutrient_command_with_targets_a_coarse_tick_and_stop():
    clock = FakeClock()
    node = nutrient_node(clock)
    ec, ph = codec.encode(2.1, "f32", word_order="little"), codec.encode(5.8, "f32", word_order="little")
    assert write(node, 504, [403, 1, 2, 3, 30, 0, *ec, *ph]) == []
    clock.now += 40  # one coarse step: reaction 5 s, area 2 for 30 s, 5 s into area 3
    node.tick()
    state = node.nutrient()
    assert (state.status, state.area, state.remaining_s) == (402, 3, 25)
    assert (state.ec, state.ph) == (pytest.approx(2.1), pytest.approx(5.8))
    assert write(node, 504, [0, 2]) == []  # STOP: READY at once
    assert read(node, 401, 6) == [0, 0, 0, 0, 0, 0]
    assert write(node, 504, [402, 3, 1, 9, 10, 0]) == 3  # stop-area beyond the node's 4 areas
    assert write(node, 504, [402, 4, 1, 1, 0, 0]) == 3  # on-sec 0
    assert write(node, 504, [401, 5]) == []  # ONCE: every area for the default time, last targets
    clock.now += 5
    node.tick()
    assert node.nutrient().area == 1 and node.nutrient().ec == pytest.approx(2.1)


# ---------------------------------------------------------------------- register offset -1


def test_address_offset_minus_one_serves_one_lower():
    clock = FakeClock()
    node = KsNode(ACTUATOR, {1: 102}, address_offset=-1, clock=clock)
    assert read(node, 0, 8)[2:6] == [2, 0, 10, 24]
    assert read(node, 1, 8) == 2  # a discovery at offset 0 gets exception 2 and retries at -1
    assert read(node, 100) == [102]
    assert write(node, SWITCH_1 - 1, [201, 1]) == []
    assert read(node, SWITCH_1_STATUS - 1, 2) == [1, 201]


# ---------------------------------------------------------------------- vendor devices and the site


def test_vendor_relay_board_coils():
    board = VendorDevice(builtin_profiles()["vendor:relay8-opener"])
    assert reply_of(board, Request(5, 0, 1, (1,))) == []  # FC5: open relay on
    assert board.outputs()["side_window_1.open"] is True
    assert board.outputs()["side_window_1.close"] is False
    assert reply_of(board, Request(15, 0, 8, (0, 1, 1, 0, 0, 0, 0, 1))) == []
    outputs = board.outputs()
    assert (outputs["side_window_1.open"], outputs["side_window_1.close"], outputs["fan_1.on"]) == (
        False, True, True)
    assert outputs["relays[7]"] is True and "relays[0]" not in outputs
    assert read(board, 0, 8, fc=1) == [0, 1, 1, 0, 0, 0, 0, 1]
    assert read(board, 8, 1, fc=1) == 2


def test_vendor_probes_values_and_read_only_registers():
    probe = VendorDevice(builtin_profiles()["vendor:do-probe"], {"do": 7.4})
    assert codec.decode(read(probe, 0, 2), "f32", word_order="little") == pytest.approx(7.4)
    assert write(probe, 0, [0, 0]) == 2
    xy = VendorDevice(builtin_profiles()["vendor:xy-md02"], {"temperature": -3.5, "humidity": 71.5})
    assert read(xy, 1, 2, fc=4) == [0x10000 - 35, 715]
    assert read(xy, 1, 2, fc=3) == 2
    with pytest.raises(ValueError, match="no point"):
        xy.set_point("co2", 400)


def test_demo_site():
    site = demo_site()
    assert [row[0] for row in describe(site)] == [1, 2, 3, 4, 5, 6]
    assert site.handle(9, Request(3, 1, 8)) is None  # a unit that is not there stays silent
    temp = site.handle(1, Request(3, 203, 2))
    assert temp is not None
    assert codec.decode(struct.unpack(">2H", temp[2:]), "f32", word_order="little") == pytest.approx(23.5)
    actuators = site.devices[2]
    assert isinstance(actuators, KsNode)
    assert sorted(actuators.device_codes) == [1, 2, 3, 4, 17, 18, 19, 20]
