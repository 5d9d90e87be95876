"""What the site remembers of the outside: the last good value of each weather quantity and the day's lows.

A degraded mode needs the weather when the station is down too (a greenhouse's frost guard heats against the
outside temperature), and after a restart: so the last good values and a day of lows are kept and saved in
the state store. Pure: values and clock seconds in.
"""

from __future__ import annotations

from collections import deque
from typing import Any

DAY_S = 24 * 3600.0
LOW_STEP_S = 600.0  # one low kept per ten minutes: 144 a day


class OutsideMemory:
    def __init__(self) -> None:
        self.held: dict[str, tuple[float, float]] = {}  # quantity -> (last good value, when)
        self._lows: dict[str, deque[tuple[float, float]]] = {}  # quantity -> (bin start, lowest in it)

    def note(self, quantity: str, value: float, at_s: float) -> None:
        """A good reading."""
        self.held[quantity] = (value, at_s)
        lows = self._lows.setdefault(quantity, deque())
        start = at_s - at_s % LOW_STEP_S
        if lows and lows[-1][0] == start:
            lows[-1] = (start, min(lows[-1][1], value))
        else:
            lows.append((start, value))
        while lows and lows[0][0] < at_s - DAY_S:
            lows.popleft()

    def held_ages(self, now_s: float) -> dict[str, tuple[float, float]]:
        """{quantity: (last good value, its age in seconds)}."""
        return {q: (v, now_s - at) for q, (v, at) in self.held.items()}

    def lows(self, now_s: float) -> dict[str, float]:
        """{quantity: the lowest good value of the last 24 h}."""
        return {q: min(v for t, v in rows if t >= now_s - DAY_S - LOW_STEP_S) for q, rows in self._lows.items()
                if any(t >= now_s - DAY_S - LOW_STEP_S for t, _v in rows)}

    def state(self) -> dict[str, Any]:
        return {"held": {q: list(v) for q, v in self.held.items()},
                "lows": {q: [list(r) for r in rows] for q, rows in self._lows.items()}}

    def restore(self, state: Any) -> None:
        if not isinstance(state, dict):
            return
        for q, row in (state.get("held") or {}).items():
            if isinstance(row, list) and len(row) == 2 and all(isinstance(x, int | float) for x in row):
                self.held[q] = (float(row[0]), float(row[1]))
        for q, rows in (state.get("lows") or {}).items():
            good = [(float(t), float(v)) for t, v in rows if isinstance(t, int | float) and isinstance(v, int | float)]
            self._lows[q] = deque(sorted(good))
