"""The exact step of a linear first-order balance, shared by the twin's heat and mass nodes.

Every node of the greenhouse model (air, pipe water, boiler water, heat-storage mass) obeys cap·dx/dt = a − b·x
over a sub-step with its coefficients frozen; solving that exactly is stable at any step and gives the exact time
integral of x, so the cumulative counters close their balances to rounding.
"""

from __future__ import annotations

import math


def relax(a: float, b: float, cap: float, x0: float, dt: float) -> tuple[float, float]:
    """Exact solution of cap·dx/dt = a - b·x over dt: (x(dt), ∫x dt)."""
    k = b * dt / cap
    if k < 1e-9:
        return x0 + a * dt / cap, x0 * dt + 0.5 * a * dt * dt / cap
    xeq = a / b
    e = math.exp(-k)
    return xeq + (x0 - xeq) * e, xeq * dt + (x0 - xeq) * (1.0 - e) * cap / b
