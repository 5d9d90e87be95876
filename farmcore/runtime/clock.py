"""Where the daemon gets its time: the wall clock in the field, the twin's simulated clock in demos and tests.

Everything the runtime decides is stamped from one `Clock`, so the same daemon code runs a real
greenhouse in real time and a simulated one a thousand times faster.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Protocol

from farmcore.twin.runtime import SimClock


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC time."""

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class TwinClock:
    """The twin's simulated time; sleeping waits `seconds / speed` of real time (the twin runs at `speed`)."""

    def __init__(self, sim: SimClock, speed: float = 1.0) -> None:
        self.sim, self.speed = sim, speed

    def now(self) -> datetime:
        return self.sim.now()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)
