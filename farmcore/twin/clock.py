"""The twin's simulated time, and the same time as the daemon's `Clock` (runtime/clock.py) reads it.

The simulated clock is the twin's: it steps with the plant models. `TwinClock` lets a daemon run on it at
`speed` times real time, without the runtime knowing the twin exists (it satisfies the `Clock` protocol).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class SimClock:
    """Simulated time: UTC `start` plus the simulated seconds elapsed."""

    start: datetime
    elapsed: float = 0.0

    def seconds(self) -> float:
        return self.elapsed

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)


class TwinClock:
    """The twin's simulated time; sleeping waits `seconds / speed` of real time (the twin runs at `speed`)."""

    def __init__(self, sim: SimClock, speed: float = 1.0) -> None:
        self.sim, self.speed = sim, speed

    def now(self) -> datetime:
        return self.sim.now()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)
