"""The tenant-isolation matrix at the service layer, on a real stack: 11 operations × 10 principal cases, each
allowed or denied as the matrix says, and zero leaks (hil_tests/isolation_matrix.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta

import pytest

from farmcore.historian.base import Point
from farmcore.historian.sqlite import SqliteHistorian
from farmcore.link.brokerurl import parse_broker_url
from hil_tests.isolation_matrix import OPS, PLANTED_MARK, Case, World, cases, run
from hil_tests.portal_stack import ACCOUNTS, SITE, PortalStack, needs_mosquitto, portal_stack, seoul_today, wait_for
from portal.service import leases
from portal.service.history import open_history
from portal.service.live import LiveHub
from portal.service.model import ZoneKey, seoul_midnight
from portal.service.portal import Portal
from portal.service.store import Store

pytestmark = needs_mosquitto
stack = portal_stack(portal=False)
LEASE_START = seoul_midnight(seoul_today() - timedelta(days=10))  # kim's lease of gh1 (portal_stack.py)
CASES = cases(SITE, LEASE_START)


def make_world(stack: PortalStack, store: Store, live: LiveHub) -> World:
    """Plant a point before kim's lease, give lee a lease of gh2 from tomorrow, sign everyone in."""
    today = seoul_today()
    leases.add_lease(store, "lee", SITE, "gh2", today + timedelta(days=1), today + timedelta(days=30), "admin")
    writer = SqliteHistorian(stack.history_path)
    try:
        writer.write([Point("sensor", SITE, "gh1", "air_temperature", (LEASE_START - timedelta(days=2)).astimezone(UTC),
                            {"value": PLANTED_MARK}, quality="good")])
        assert writer.flush(10)
    finally:
        writer.close()
    portal = Portal(store, live, open_history(stack.historian_url))
    tokens = {a.username: portal.sign_in(a.username, a.password)[0] for a in ACCOUNTS}
    gh1 = wait_for("gh1's state and alarm in the portal's cache", lambda: (
        v if (v := live.view(ZoneKey(SITE, "gh1"))) and v.state and v.alarms and v.online else None), 30)
    wait_for("tank1's state in the portal's cache", lambda: (v := live.view(ZoneKey(SITE, "tank1"))) and v.state, 30)
    assert gh1.state is not None
    switch = next(a for a, e in gh1.state.actuators.items() if e.kind == "switch" and e.source != "safety")
    quantity, (lo, hi) = next((q, b) for q, b in gh1.state.envelope.items() if q == "air_temperature")
    return World(portal, tokens, SITE, switch, (quantity, round((lo + hi) / 2, 1)), gh1.alarms[0].id)


@pytest.fixture(scope="module")
def world(stack: PortalStack) -> Iterator[World]:
    with Store.open(stack.db_url) as store, LiveHub(parse_broker_url(stack.broker.url("portal"))).start() as live:
        yield make_world(stack, store, live)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_isolation(world: World, case: Case, op: str) -> None:
    outcome = run(world, case, op)
    assert outcome.leak is None, f"{case.name} × {op}: {outcome.leak}"
    assert outcome.allowed == outcome.expected, \
        f"{case.name} × {op}: {'allowed' if outcome.allowed else 'denied'}, the matrix says " \
        f"{'allow' if outcome.expected else 'deny'}"


def test_the_matrix_has_at_least_a_hundred_cases() -> None:
    assert len(CASES) * len(OPS) >= 100
