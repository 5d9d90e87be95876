"""The live view of a real daemon running the demo site lockstep against the twin over Modbus TCP.

Captured with rich's recording console at 80x24 and 200x50 and checked for fit (no line wider than the
terminal, no more lines than it has, every zone in the overview), for the setpoint in force, units, local
times and whole reasons in the details; the stop check after `SiteDaemon.stop()`. With FARMCTL_SCREENSHOTS=DIR
the screens are also saved there as SVG (the README's pictures: FARMCTL_SCREENSHOTS=docs).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from farmcore.fieldbus.url import parse_bus_url
from farmcore.link.brokerurl import parse_broker_url
from farmcore.runtime import reasontext
from farmcore.runtime.controllers import installed
from farmcore.runtime.daemon import SiteDaemon
from farmcore.runtime.liveview import LiveScreen, ViewState, render
from farmcore.runtime.scheduler import follow_clock
from farmcore.runtime.stopcheck import stop_report
from farmcore.runtime.viewmodel import snapshot
from farmcore.site import FaultDef, load_site
from farmcore.twin.clock import TwinClock
from farmcore.twin.runtime import Twin
from farmctl.demo import DEMO_SITE

WINTER_NIGHT = datetime(2026, 1, 14, 17, tzinfo=UTC)  # 02:00 KST; an hour of ticks later temperature integration
SIZES = [(80, 24), (200, 50)]  # holds gh1's heating setpoint below the recipe's 8 °C


@contextlib.asynccontextmanager
async def demo_daemon(tmp: Path, *, hours: float = 1.0, tick_s: float = 60.0, start: datetime = WINTER_NIGHT
                      ) -> AsyncIterator[tuple[Twin, SiteDaemon]]:
    """The demo site's daemon after `hours` of lockstep ticks (stopped by the caller or on the way out). Its tick
    is the lockstep's (a dead-man lease lasts three ticks: a daemon ticked every minute has a one-minute tick)."""
    path = tmp / "site.toml"
    path.write_text(DEMO_SITE.read_text().replace("tick_s = 10 ", f"tick_s = {tick_s:g} ", 1))
    site = load_site(path)
    assert site.runtime.tick_s == tick_s
    twin = Twin(site, site_file=path, start=start)
    ports = {b.id: str(replace(parse_bus_url(b.url), host="127.0.0.1", port=0)) for b in site.buses}
    async with twin.serve(ports) as bound:
        clock = TwinClock(twin.clock, 1.0)
        follow_clock(clock)
        urls = {k: f"{v}&timeout=0.3" if "?" in v else f"{v}?timeout=0.3" for k, v in bound.items()}
        daemon = SiteDaemon(path, controllers=installed(), clock=clock, state_dir=tmp / "state", bus_urls=urls)
        await daemon.start()
        daemon.broker = parse_broker_url("mqtt://127.0.0.1:1883")  # shown in the header; no link is started
        try:
            for _ in range(round(hours * 3600 / tick_s)):
                twin.advance(tick_s)
                await daemon.tick()
            yield twin, daemon
        finally:
            daemon.broker = None
            if not daemon._stopped:  # a test may have stopped it to look at the stop states
                await daemon.stop()


def capture(daemon: SiteDaemon, width: int, height: int, lang: str, state: ViewState, name: str = "") -> list[str]:
    console = Console(record=True, width=width, height=height, force_terminal=True, color_system="truecolor",
                      file=io.StringIO())
    console.print(LiveScreen(daemon, state, lang))
    folder = os.environ.get("FARMCTL_SCREENSHOTS")
    if folder and name:
        console.save_svg(str(Path(folder) / f"{name}.svg"), title=f"farmctl demo — {width}x{height}", clear=False)
    return console.export_text(styles=False).splitlines()


def assert_fits(lines: list[str], width: int, height: int) -> None:
    assert len(lines) <= height, f"{len(lines)} lines on a {height}-line terminal"
    wide = [(cell_len(row), row) for row in lines if cell_len(row) > width]
    assert not wide, f"lines wider than {width}: {wide}"


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def from_cell(row: str, start: int) -> str:
    """What a line shows from terminal column `start` on (Hangul takes two columns)."""
    at = 0
    for i, char in enumerate(row):
        if at >= start:
            return row[i:]
        at += cell_len(char)
    return ""


def reason_column(lines: list[str], header: str) -> str:
    """The text of the actuator table's last column (reasons), lines joined: what a reader follows down."""
    head = next(i for i, row in enumerate(lines) if row.rstrip().endswith(header))
    start = cell_len(lines[head].rstrip()) - cell_len(header)
    return "".join(from_cell(row, start) for row in lines[head + 1:])


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[Twin, SiteDaemon]]:
    async with demo_daemon(tmp_path) as both:
        yield both


@pytest.mark.parametrize("lang", ["ko", "en"])
async def test_overview_fits_and_shows_every_zone_against_the_setpoint_in_force(running, lang: str) -> None:
    _twin, daemon = running
    gh1 = daemon.zones["gh1"]
    in_force, recipe = gh1.run.in_force["air_temperature"], gh1.run.setpoints["air_temperature"]
    assert in_force < recipe - 0.2, "temperature integration should hold gh1 below the recipe at this hour"
    for width, height in SIZES:
        lines = capture(daemon, width, height, lang, ViewState(), f"liveview-{lang}-{width}x{height}")
        assert_fits(lines, width, height)
        text = "\n".join(lines)
        for n, zone_id in enumerate(daemon.zones, 1):
            title = next((row for row in lines if row.startswith(f"[{n}] {zone_id} ")), None)
            assert title is not None, f"{zone_id} missing at {width}x{height}"
        zone_rows = [row for row in lines if re.match(r"\[\d\] |    ", row)]
        assert not [row for row in zone_rows if "…" in row], f"a zone line is cut at {width}x{height}"
        temp = "온도" if lang == "ko" else "temp"
        assert f"{temp} {gh1.run.tracks['air_temperature'].value:.1f}/{in_force:.1f} °C" in text  # not the recipe's
        assert "MQTT mqtt://127.0.0.1:1883" in text
        for unit in ("°C", "ppm", "mg/L", "%"):
            assert unit in text
        assert "True" not in text and "False" not in text


async def test_details_show_whole_reasons_in_korean_at_both_sizes(running) -> None:
    _twin, daemon = running
    zone = snapshot(daemon, "ko").zones[0]
    reasons = [a.reason for a in zone.actuators]
    ids = {a.id for z in daemon.zones.values() for a in z.zone.actuators}
    for r in reasons:
        assert not reasontext.leftover_english(r, ids), r
    assert not [r for r in reasons if re.search(r"\d\.\d{3,}", r)], "raw floats in a reason"
    for width, height in SIZES:
        body, state = [], ViewState(detail=True)
        for _ in range(20):  # scroll a page at a time to the end
            lines = capture(daemon, width, height, "ko", state, f"liveview-detail-ko-{width}x{height}"
                            if state.scroll == 0 else "")
            assert_fits(lines, width, height)
            body += lines[1:-1]
            if "줄 더" not in lines[-1]:
                break
            state.scroll += height - 3
        shown = flat(reason_column(body, "이유"))
        for r in reasons:
            assert flat(r) in shown, f"reason not shown whole at {width}x{height}: {r}"
    assert "설정" in reasons[0] and "난방기" in reasons[0]


async def test_override_end_in_local_time_and_records_stay_english(running) -> None:
    _twin, daemon = running
    daemon.set_override("gh2", "heater", True, 5400, "frost check", "kim")
    await daemon.tick()
    decision = daemon.zones["gh2"].run.decisions["heater"]
    assert decision.source == "override" and "Z: frost check" in decision.reason  # the record: English, UTC
    end = datetime.fromtimestamp(daemon.zones["gh2"].run.overrides["heater"].expires_at, daemon.tz)
    lines = capture(daemon, 200, 50, "ko", ViewState(selected=1, detail=True))
    text = "\n".join(lines)
    assert f"수동 조작 (kim), {end:%H:%M}까지: frost check" in text
    assert "e+09" not in text and "켜짐" in text
    assert "수동" in "\n".join(capture(daemon, 80, 24, "ko", ViewState()))


async def test_plain_text_fits_80_columns(running) -> None:
    _twin, daemon = running
    for lang in ("ko", "en"):
        text = render(daemon, lang=lang)
        assert max(cell_len(row) for row in text.splitlines()) <= 80
        assert "\x1b" not in text
        for zone_id in daemon.zones:
            assert f"] {zone_id} " in text


async def test_stop_report_confirms_every_stop_state(tmp_path: Path) -> None:
    async with demo_daemon(tmp_path, hours=0.25) as (_twin, daemon):
        await daemon.stop()
        lines = stop_report(daemon, "en")
    assert lines == [f"{z}: all {len(r.zone.actuators)} actuators in their stop state" for z, r in daemon.zones.items()]


async def test_stop_report_names_an_actuator_whose_node_did_not_answer(tmp_path: Path) -> None:
    async with demo_daemon(tmp_path, hours=0.5) as (twin, daemon):
        heater = daemon.zones["gh1"].run.drivers["heater"]
        heater.commanded = True  # as if on: the stop state (off) has to go out
        twin.inject(FaultDef(at_h=0, kind="silent", bus="greenhouses", unit=12))  # gh1's actuator node
        await daemon.stop()
        lines = stop_report(daemon, "en")
    assert lines[0].startswith("gh1: 9 of 10 actuators in their stop state; not confirmed: heater (off: command")
    assert lines[1] == "gh2: all 11 actuators in their stop state"


@pytest.mark.parametrize("start", [datetime(2026, 1, 14, 15, tzinfo=UTC), datetime(2026, 7, 19, 15, tzinfo=UTC)],
                         ids=["january", "july"])
async def test_every_reason_and_event_of_a_day_reads_in_korean(tmp_path: Path, start: datetime) -> None:
    """A day of the demo site (three crops, three tanks): no English left in what the Korean view shows."""
    seen: set[str] = set()
    async with demo_daemon(tmp_path, hours=0, tick_s=300, start=start) as (twin, daemon):
        for _ in range(24 * 12):
            twin.advance(300)
            await daemon.tick()
            seen |= {d.reason for r in daemon.zones.values() for d in r.run.decisions.values()}
        events = [e["message"] for e in daemon.events if e["code"] != "day_started"]  # not shown (trace names)
    ids = {a.id for z in daemon.zones.values() for a in z.zone.actuators}
    assert len(seen) > 100
    untranslated = {r: left for r in seen if (left := reasontext.leftover_english(reasontext.reason(
        r, "ko", tz=daemon.tz), ids))}
    assert not untranslated
    names = ids | set(daemon.zones) | {r.run.recipe.recipe.recipe.id for r in daemon.zones.values() if r.run.recipe}
    left = {m: reasontext.leftover_english(reasontext.event(m, "ko"), names) for m in events}
    assert not {m: words for m, words in left.items() if words}
