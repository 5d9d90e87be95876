"""A winter day (16:00 to 16:00) of the daemon driving the winter example site's twin over real Modbus TCP: the
water curtain runs on the cold night and is off before sunrise, the hot-water loop's boiler keeps its start
limit and the mixing valve follows the pipe temperature, the thermal screen opens by day in steps (issue 16
items 2, 4 and 5; farmctl heatloop.py, watercurtain.py, screens.py). Lockstep on the twin's simulated clock, as
hil_tests/test_daemon.py runs its days."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import farmcore.twin
from farmcore.runtime.daemon import SiteDaemon
from farmcore.runtime.scheduler import follow_clock
from farmcore.site import load_site
from farmcore.sun import sun_times
from farmcore.twin.clock import TwinClock
from farmcore.twin.runtime import Twin
from farmctl.cli import CONTROLLERS

WINTER = Path(farmcore.twin.__file__).parent / "sites" / "gyeongbuk-winter.toml"
START = datetime(2027, 1, 15, 7, 0, tzinfo=UTC)  # 16:00 in Korea


async def test_a_winter_day_with_the_water_curtain_and_the_hot_water_loop(tmp_path: Path) -> None:
    site = load_site(WINTER)
    tz = site.site.timezone
    twin = Twin(site, site_file=WINTER, start=START)
    seen: list[tuple[datetime, float, dict[str, object], float | None, float | None]] = []
    async with twin.serve({"greenhouses": "tcp://127.0.0.1:0"}) as bound:
        clock = TwinClock(twin.clock, 1.0)
        follow_clock(clock)
        daemon = SiteDaemon(WINTER, controllers=CONTROLLERS, clock=clock, state_dir=tmp_path / "state",
                            bus_urls={"greenhouses": bound["greenhouses"]})
        await daemon.start()
        try:
            for _ in range(24 * 360):  # 16:00 to 16:00, the site's 10 s tick
                twin.advance(site.runtime.tick_s)
                await daemon.tick()
                run = daemon.zones["gh1"].run
                outside = twin.last_weather.air_temperature if twin.last_weather else float("nan")
                seen.append((twin.clock.now(), outside, {k: d.target for k, d in run.decisions.items()},
                             run.readings.get("pipe_temperature"), run.in_force.get("pipe_temperature")))
        finally:
            await daemon.stop()
    zone = ZoneInfo(tz)
    sunrise = sun_times(site.site.latitude, site.site.longitude, (START + timedelta(days=1)).astimezone(zone).date(),
                        zone)[0]
    curtain = [(t, out, d.get("water_curtain")) for t, out, d, _p, _sp in seen]
    on = [t for t, _out, c in curtain if c is True]
    assert on, "the curtain ran on the cold night"
    assert min(out for _t, out, _c in curtain) < 5.0, "the synthetic night is cold enough to need it"
    assert all(t < sunrise - timedelta(minutes=30) for t in on), "off before sunrise - 00:30"
    assert all(c is False for t, _o, c in curtain if sunrise - timedelta(minutes=29) <= t), "and stays off by day"

    boiler = [(t, d.get("boiler")) for t, _o, d, _p, _sp in seen]
    starts = [t for (_t0, a), (t, b) in itertools.pairwise(boiler) if b is True and a is not True]
    per_hour = max((sum(1 for s in starts if a <= s < a + timedelta(hours=1)) for a in starts), default=0)
    assert starts and per_hour <= 4, f"{len(starts)} boiler starts, {per_hour} in one hour"
    valve = [d.get("mixing_valve") for _t, _o, d, p, sp in seen if sp is not None and p is not None]
    assert valve and all(isinstance(v, float) and 0 <= v <= 100 for v in valve), "the valve is decided in the loop"
    screen = [float(d["thermal_screen"]) for t, _o, d, _p, _sp in seen
              if sunrise <= t and isinstance(d.get("thermal_screen"), float)]
    assert 100.0 in screen, "the screen opens by day for the light"
    assert any(0 < v < 100 for v in screen), "in steps, not in one move"
