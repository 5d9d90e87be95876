"""Shipped profiles against Annex A, and profile validation errors that name file and field."""

import pytest

from farmcore.errors import ConfigError
from farmcore.fieldbus.profile import (
    builtin_profiles,
    eval_formula,
    find_profile,
    match_profile,
    parse_profile,
)

SENSOR = "ksx3267:2022/sensor-default"
ACTUATOR = "ksx3267:2022/actuator-default"
NUTRIENT = "ksx3288:2022/nutrient-default"


def test_all_shipped_profiles_load():
    ids = set(builtin_profiles())
    assert {SENSOR, ACTUATOR, NUTRIENT, "vendor:xy-md02", "vendor:do-probe", "vendor:relay8-opener"} <= ids


@pytest.mark.parametrize(("slot", "opid_register"), [(8, 231), (16, 263), (17, 267), (19, 275), (24, 295)])
def test_annex_a_actuator_status_opid_registers(slot, opid_register):
    block = builtin_profiles()[ACTUATOR].slot(slot).read
    assert block.item("opid").register == opid_register
    assert [i.name for i in block.items] == ["opid", "status", "remain-time"]


@pytest.mark.parametrize(("slot", "command_register"), [(1, 503), (2, 507), (16, 563), (17, 567), (24, 595)])
def test_annex_a_actuator_command_registers(slot, command_register):
    block = builtin_profiles()[ACTUATOR].slot(slot).write
    assert block.start == command_register
    assert [i.name for i in block.items] == ["operation", "opid", "time"]


def test_annex_a_sensor_map():
    profile = builtin_profiles()[SENSOR]
    assert profile.node_read.start == 202
    assert profile.slot(1).read.start == 203 and profile.slot(1).read.item("status").register == 205
    assert profile.slot(4).read.start == 212  # humidity 1 (real-node check)
    assert profile.slot(29).read.start == 287 and profile.slot(29).read.item("status").register == 289
    assert profile.slot(30).read.start == 290 and profile.slot(30).read.item("status").register == 292
    assert profile.read_areas() == [(3, 202, 292)]  # the whole 91-register block is defined
    assert profile.slot(13).expect_codes == (11,)  # CO2


def test_actuator_whole_status_block_is_98_registers():
    assert builtin_profiles()[ACTUATOR].read_areas() == [(3, 201, 298)]


def test_nutrient_node_layout():
    profile = builtin_profiles()[NUTRIENT]
    assert profile.slot(20).read.start == 261
    nutrient = profile.slot(21)
    assert nutrient.kind == "nutrient" and nutrient.read.start == 401 and nutrient.write.start == 504
    names = [i.name for i in nutrient.write.items]
    assert names == ["operation", "opid", "start-area", "stop-area", "on-sec", "EC", "pH"]
    assert nutrient.write.count == 10
    assert nutrient.expect_codes == (201, 202, 203, 204)


def test_command_block_encoding_matches_golden_frame():
    # switch 1 TIMED_ON 60 s, OPID 7 -> registers [202, 7, 60, 0] (ksx3267.md §3.1)
    block = builtin_profiles()[ACTUATOR].slot(1).write
    assert block.encode({"operation": 202, "opid": 7, "time": 60}) == [202, 7, 60, 0]


def test_match_profile_by_node_info():
    info = {"cert_authority": 0, "company_code": 0, "product_type": 2, "product_code": 0,
            "protocol_version": 101, "channels": 24}
    assert match_profile(info).id == ACTUATOR
    assert match_profile({**info, "product_type": 3, "protocol_version": 20}).id == NUTRIENT
    assert match_profile({**info, "company_code": 7}) is None


def test_vendor_profiles():
    relay = find_profile("vendor:relay8-opener")
    window = relay.actuators[0]
    assert window.kind == "retractable" and window.interlock and window.dead_time_s == 0.5
    probe = find_profile("vendor:xy-md02")
    assert probe.points[0].item.scale == 0.1 and probe.points[0].fc == 4
    assert find_profile("vendor:do-probe").points[0].ks_code == "local:1001"


def test_formula():
    assert eval_formula("203 + 3*(i-1)", 30) == 290
    assert eval_formula("567 + 4*(k-1)", 8) == 595
    with pytest.raises(ValueError):
        eval_formula("__import__('os')", 1)


BASE = '[profile]\nid = "x"\nkind = "ks-node"\n[node]\nread = { start = 202, items = ["status"] }\n'


@pytest.mark.parametrize(("text", "field", "words"), [
    ('[profile]\nid = "x"\nkind = "ks-nod"\n', "profile.kind", "ks-node"),
    ('[profile]\nid = "x"\nkind = "vendor"\ncolour = 1\n', "profile.colour", "unknown field"),
    ('[profile]\nid = "x"\nkind = "vendor"\n[[points]]\nid = "t"\nfc = 4\nregister = 70000\n',
     "points[0].register", "65535"),
    (BASE + '[[slot_groups]]\nname = "s"\nkind = "sensor"\nfirst_slot = 1\ncount = 2\n'
     'read = { start = "203 + 3*(j-1)", items = ["value"] }\n', "slot_groups[0].read.start", "bad formula"),
    (BASE + '[[slot_groups]]\nname = "s"\nkind = "sensor"\nfirst_slot = 1\ncount = 2\n'
     'read = { start = 203, items = ["valeu"] }\n', "slot_groups[0].read.items[0]", "unknown item"),
    (BASE + '[[slot_groups]]\nname = "s"\nkind = "sensor"\nfirst_slot = 1\ncount = 2\nexpect_code = [1]\n'
     'read = { start = 203, items = ["value"] }\n', "slot_groups[0].expect_code", "count is 2"),
    ('[profile]\nid = "x"\nkind = "vendor"\n[[points]]\nid = "t"\nfc = 1\nregister = 0\n',
     "points[0].type", "bits"),
    ('[profile\n', "", "not valid TOML"),
])
def test_bad_profiles_name_file_and_field(text, field, words):
    with pytest.raises(ConfigError) as info:
        parse_profile(text, "site/bad.toml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"site/bad.toml: {field}" if field else "site/bad.toml: ")
    assert words in message


def test_point_and_block_address_offsets_are_applied():
    head = '[profile]\nid = "v"\nkind = "vendor"\n'
    profile = parse_profile(head + '[[points]]\nid = "t"\nfc = 4\nregister = 1\naddress_offset = -1\n'
                            '[[points]]\nid = "h"\nfc = 4\nregister = 2\n', "v.toml")
    assert [p.item.register for p in profile.points] == [0, 2]
    with pytest.raises(ConfigError, match=r"points\[0\]\.read_fc"):
        parse_profile('[profile]\nid = "v"\nkind = "vendor"\n[[points]]\nid = "t"\nfc = 4\nregister = 1\n'
                      'read_fc = 3\n', "v.toml")
