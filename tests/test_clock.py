"""The daemon's clocks: every `Clock` tells its speed (the daemon divides its real-time waits by it)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from farmcore.runtime.clock import Clock, WallClock
from farmcore.twin.clock import SimClock, TwinClock


def test_every_clock_has_a_speed() -> None:
    assert "speed" in Clock.__annotations__
    clocks: list[Clock] = [WallClock(), TwinClock(SimClock(datetime(2026, 1, 1, tzinfo=UTC)), 60.0)]
    assert [c.speed for c in clocks] == [1.0, 60.0]


def test_the_twin_clock_reads_simulated_time_and_sleeps_scaled() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    sim = SimClock(start)
    clock = TwinClock(sim, 100.0)
    sim.elapsed = 90.0
    assert clock.now() == start + timedelta(seconds=90)
    began = time.monotonic()
    asyncio.run(clock.sleep(10.0))  # 10 simulated seconds at 100x: 0.1 s of real time
    assert time.monotonic() - began < 1.0
