"""Every actuator role and every sensor quantity the site file knows has a name in Korean and English: the live
view showed `role:boiler`, `pipe_temperature` and the like in a Korean screen (issue 16 review)."""

from __future__ import annotations

import pytest

from farmcore import i18n
from farmcore.site import ROLES, SENSOR_CODES

ROLE_KEYS = sorted({f"role:{r}" for roles in ROLES.values() for r in roles})
# the KS codes a greenhouse or tank zone of ours reads as one of its quantities (the rest are station or
# node-level readings the views show by their key)
QUANTITY_KEYS = sorted(set(SENSOR_CODES) - {"dew_point", "flow_volume", "rain", "voltage", "soil_water_tension",
                                            "weight", "water_level_low"})
ASCII_NAMES = ("role:co2_valve", "role:o2_valve", "co2", "ec", "ph")


@pytest.mark.parametrize("key", ROLE_KEYS + QUANTITY_KEYS + ["drain_pct"])
def test_each_role_and_quantity_has_a_korean_and_an_english_name(key: str) -> None:
    assert key in i18n.TEXTS, f"{key} has no name"
    ko, en = i18n.t(key, "ko"), i18n.t(key, "en")
    assert ko != key and en
    assert key in ASCII_NAMES or not ko.isascii(), f"{key}: {ko!r} is not Korean"
