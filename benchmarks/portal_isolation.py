"""The isolation figures of benchmarks/portal.py: the tenant-isolation matrix (hil_tests/isolation_matrix.py) run
once on a real stack (twin, farmctl run, aquactl run, mosquitto with the generated ACL), every case judged.

- isolation_cases: operations × principal cases run (the acceptance asks at least 100);
- isolation_leaks: cases where the service allowed what the matrix denies, or showed data outside the window it
  allows (must be 0); isolation_mismatches: cases denied that the matrix allows (a broken feature, not a leak).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from farmcore.link.brokerurl import parse_broker_url
from hil_tests.isolation_matrix import OPS, run
from hil_tests.portal_stack import running_stack
from hil_tests.test_portal_isolation import CASES, make_world
from portal.service.live import LiveHub
from portal.service.store import Store


def isolation_figures(directory: Path) -> dict[str, object]:
    folder = Path(tempfile.mkdtemp(prefix="isolation-", dir=directory))
    with running_stack(folder, portal=False) as stack, Store.open(stack.db_url) as store, \
            LiveHub(parse_broker_url(stack.broker.url("portal"))).start() as live:
        world = make_world(stack, store, live)
        outcomes = [run(world, case, op) for case in CASES for op in OPS]
    leaks = [o for o in outcomes if (o.allowed and not o.expected) or (o.allowed and o.leak is not None)]
    mismatches = [o for o in outcomes if o.expected and not o.allowed]
    for o in leaks + mismatches:
        print(f"isolation: {o.case} × {o.op}: expected {'allow' if o.expected else 'deny'}, "
              f"{'allowed' if o.allowed else 'denied'} {o.leak or ''}", file=sys.stderr)
    return {"isolation_cases": len(outcomes), "isolation_leaks": len(leaks), "isolation_mismatches": len(mismatches)}
