"""Where the daemon gets its time: the wall clock in the field, any other `Clock` in demos and tests.

Everything the runtime decides is stamped from one `Clock`, so the same daemon code runs a real
greenhouse in real time and a simulated one a thousand times faster (the twin's `TwinClock`, in
`farmcore.twin.clock`: the runtime never imports the twin).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    speed: float
    """Clock seconds per real second: a period of real time the daemon waits (the tick, a save, a reload
    check) is the clock's period divided by this."""

    def now(self) -> datetime:
        """Aware UTC time."""

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""


class WallClock:
    speed: float = 1.0

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
