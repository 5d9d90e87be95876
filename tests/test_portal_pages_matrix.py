"""The isolation matrix through the pages (AppTest, real SQLite store and historian, no broker): every principal
case × what the pages show — the zones on My farm, a zone's page and its 30-day chart, the controls and admin
pages' routes. A reading planted before kim's lease must reach no chart of kim's and must reach the officer's,
so the leak check can fail."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from farmcore.historian.base import Point
from farmcore.historian.sqlite import SqliteHistorian
from portal.app import common
from portal.service import accounts, leases, sites
from portal.service.model import seoul_day, seoul_midnight
from portal.service.store import Store
from tests.test_portal_pages import MAIN, NO_ACCESS, PASSWORD, SITE, open_page, signed_in, texts
from tests.test_portal_pages import stack as stack  # the fixture, shared with the page tests

PLANTED = 1234.5
# case -> (who, zone asked for, may see it, sees history before kim's lease)
CASES = {
    "own zone in lease": ("kim", "gh1", True, False),
    "own zone before its lease starts": ("lee", "gh3", False, False),
    "own zone after its lease ended": ("kim", "gh2", False, False),
    "another tenant's zone": ("kim", "tank1", False, False),
    "an unknown zone": ("kim", "nowhere", False, False),
    "officer": ("park", "gh1", True, True),
    "technician": ("choi", "gh1", True, True),
    "admin": ("admin", "gh1", True, True),
    "signed out": (None, "gh1", False, False),
    "forged session": ("forged", "gh1", False, False),
}


@pytest.fixture
def world(stack: Store) -> Iterator[Store]:
    """lee's lease of gh3 starts tomorrow; a reading is planted in gh1 five days ago (kim's lease: 3 days)."""
    today = seoul_day(datetime.now(UTC))
    leases.add_lease(stack, "lee", SITE, "gh3", today + timedelta(days=1), today + timedelta(days=30), "admin")
    path = os.environ[common.ENV_HISTORIAN].removeprefix("sqlite:///")
    writer = SqliteHistorian("/" + path.lstrip("/"))
    planted_at = (seoul_midnight(today - timedelta(days=3)) - timedelta(days=2)).astimezone(UTC)
    writer.write([Point("sensor", SITE, "gh1", "air_temperature", planted_at, {"value": PLANTED}, quality="good")])
    assert writer.flush(30.0)
    writer.close()
    yield stack


def session(who: str | None) -> AppTest:
    if who is None:
        at = AppTest.from_file(MAIN, default_timeout=30)
        at.run()
        return at
    if who == "forged":
        at = AppTest.from_file(MAIN, default_timeout=30)
        at.session_state[common.TOKEN] = "forged-" + "x" * 40
        at.run()
        return at
    return signed_in(who, PASSWORD[who])


def chart_values(y: object) -> list[float]:
    """A trace's y as plotly sends it: a list, or a typed array ({"dtype": "f8", "bdata": base64})."""
    if isinstance(y, dict):
        return [float(v) for v in np.frombuffer(base64.b64decode(y["bdata"]), dtype=np.dtype(y["dtype"]))
                if np.isfinite(v)]
    return [float(v) for v in y or () if v is not None]


def signed_out(at: AppTest) -> bool:
    return common.TOKEN not in at.session_state and at.text_input(key="sign_in_username") is not None


@pytest.mark.parametrize("case", list(CASES))
def test_my_farm_lists_exactly_the_zones_a_person_may_see(world: Store, case: str) -> None:
    who, zone, may_see, _ = CASES[case]
    at = session(who)
    assert not at.exception
    if who in (None, "forged"):
        assert signed_out(at)
        return
    names = {z.zone: z.name or z.zone for z in sites.zones(world, SITE)}
    listed = names.get(zone, zone)
    assert (common.md(listed) in texts(at)) == may_see, f"{case}: {zone} listed={not may_see}"


@pytest.mark.parametrize("case", list(CASES))
def test_a_zone_page_and_its_month_of_history_show_only_what_the_case_allows(world: Store, case: str) -> None:
    who, zone, may_see, sees_before = CASES[case]
    at = session(who)
    if who in (None, "forged"):  # only the sign-in form is routable
        assert signed_out(at)
        with pytest.raises(ValueError, match="Could not find"):
            at.switch_page("zone.py")
        return
    at = open_page(at, "zone.py", site=SITE, zone=zone)
    if not may_see:
        assert [e.value for e in at.error] == [NO_ACCESS]
        assert not at.image and not at.get("plotly_chart")
        return
    at.segmented_control(key="portal_span").set_value("30d").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    values = [v for c in at.get("plotly_chart") for trace in json.loads(c.proto.spec)["data"]
              for v in chart_values(trace.get("y"))]
    assert values, f"{case}: no chart"
    assert (PLANTED in values) == sees_before, f"{case}: the reading planted before kim's lease " \
        f"{'is missing' if sees_before else 'leaked'}"


@pytest.mark.parametrize("case", list(CASES))
def test_controls_and_admin_routes_follow_the_role(world: Store, case: str) -> None:
    who = CASES[case][0]
    at = session(who)
    role = None if who in (None, "forged") else {a.username: a.role for a in accounts.users(world)}[who]
    for page, allowed in (("controls.py", role == "tenant"), ("admin.py", role == "admin")):
        if role is None:
            assert signed_out(at)
            with pytest.raises(ValueError, match="Could not find"):
                at.switch_page(page)
        elif allowed:
            open_page(at, page)
            assert NO_ACCESS not in texts(at)
        else:
            with pytest.raises(ValueError, match="Could not find"):
                at.switch_page(page)
