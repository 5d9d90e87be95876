"""Commands at the daemon, past the desk: who sent them (the broker account, from the topic), and an audit
that nothing on the way to MQTT can break (a lone surrogate, a failing publish)."""

from __future__ import annotations

import json
from pathlib import Path

from farmcore.historian.base import Point
from farmcore.historian.sqlite import SqliteHistorian
from farmcore.link.brokerurl import BrokerUrl
from farmcore.link.client import SiteLink
from hil_tests.test_daemon import command, free_tcp_url, kst, rig


class Recording(SqliteHistorian):
    """A real SQLite historian that also keeps what the daemon handed it, in order."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.handed: list[Point] = []

    def write(self, points) -> None:  # type: ignore[no-untyped-def]
        self.handed += points
        super().write(points)

    def audits(self) -> list[dict]:
        return [dict(p.fields) for p in self.handed if p.name == "command_audit"]


async def test_a_lone_surrogate_is_rejected_and_audited_and_a_failing_publish_costs_nothing(tmp_path: Path) -> None:
    h = Recording(tmp_path / "h.db")
    async with rig(tmp_path, free_tcp_url(), kst(2026, 1, 16, 13), tick_s=10, historian=h) as r:
        d = r.daemon
        # an unstarted link: events queue through its real encoder (orjson), as on a live broker
        d.link = SiteLink(BrokerUrl("127.0.0.1", 1), "t", {"gh": "farmctl-t-gh"}, on_command=d.on_command)
        await r.run(30)
        now = r.twin.clock.now()
        bad = json.loads(command("u1", now, "ack_alarm", "stale_data:air_temperature").decode())
        bad["reason"] = "\udc80"
        ack = json.loads(await d.on_command("gh", json.dumps(bad).encode(), "technician"))
        assert (ack["ok"], ack["error"]) == (False, "invalid_command") and "surrogate" in ack["message"], ack

        def broken(event: dict) -> None:
            raise RuntimeError("publish bug")

        d.link.zones["gh"].send_event = broken  # type: ignore[method-assign]
        good = command("u2", now, "override", "heater", "on", duration_s=60, by="technician:park")
        ack = json.loads(await d.on_command("gh", good, "technician"))
        assert ack["ok"], ack
        again = json.loads(await d.on_command("gh", good, "technician"))
        assert again["error"] == "duplicate", "applied and audited: the id is used, whatever the link did"
        audits = h.audits()
        assert [a.get("id") for a in audits] == [None, "u2", "u2"]
        assert audits[0]["error"] == "invalid_command" and audits[0]["account"] == "technician"
        assert audits[1]["ok"] and audits[1]["who"] == "technician:park" and audits[1]["account"] == "technician"
    h.close()


async def test_the_account_from_the_topic_is_audited_and_may_not_speak_for_others(tmp_path: Path) -> None:
    h = Recording(tmp_path / "h.db")
    async with rig(tmp_path, free_tcp_url(), kst(2026, 1, 16, 13), tick_s=10, historian=h) as r:
        d = r.daemon
        await r.run(30)
        now = r.twin.clock.now()
        forged = json.loads(await d.on_command("gh", command("f1", now, "override", "heater", "on", duration_s=60,
                                                             by="portal:tenant-kim"), "technician"))
        assert (forged["ok"], forged["error"]) == (False, "not_permitted"), forged
        assert r.zone().run.decisions["heater"].source != "override"
        again = json.loads(await d.on_command("gh", command("f1", now, "override", "heater", "on", duration_s=60,
                                                            by="portal:tenant-kim"), "technician"))
        assert again["error"] == "duplicate", "a refused command's answer is final for its sender"
        ok = json.loads(await d.on_command("gh", command("f1", now, "override", "heater", "on", duration_s=60,
                                                         by="tenant-kim"), "portal"))
        assert ok["ok"], "ids are the sender's own: another account cannot use up (or read back) the portal's"
    h.close()
    first, again, applied = h.audits()
    assert (first["account"], first["who"], first["error"]) == ("technician", "portal:tenant-kim", "not_permitted")
    assert (again["account"], again["error"]) == ("technician", "duplicate")
    assert (applied["account"], applied["who"], applied["ok"]) == ("portal", "tenant-kim", True)


async def test_an_override_ack_tells_its_end_on_the_clock_it_ends_on(tmp_path: Path) -> None:
    """The fast demo judges commands on the wall clock while the zone runs on the twin's: the ack's `until` is
    the twin's time the override ends at, not the wall clock's."""
    from datetime import UTC, datetime

    from farmcore.runtime.clock import WallClock

    async with rig(tmp_path, free_tcp_url(), kst(2026, 1, 16, 13), tick_s=10) as r:
        d = r.daemon
        d.command_clock = WallClock()
        await r.run(30)
        wall = datetime.now(UTC)
        ack = json.loads(await d.on_command("gh", command("t1", wall, "override", "heater", "on", duration_s=600,
                                                          by="technician"), "technician"))
        assert ack["ok"], ack
        until = datetime.fromisoformat(ack["applied"]["until"].replace("Z", "+00:00"))
        assert abs((until - r.twin.clock.now()).total_seconds() - 600) < 0.01, (until, wall)
        assert abs(d.zones["gh"].run.overrides["heater"].expires_at - until.timestamp()) < 0.01


async def test_an_override_a_tenant_setpoint_and_a_recipe_switch_outlive_a_restart(tmp_path: Path) -> None:
    """A command answered `duplicate` after a restart must still be in force: what it did is kept too."""
    from farmcore.runtime.daemon import SiteDaemon
    from farmctl.cli import CONTROLLERS
    from hil_tests.test_daemon import _noop

    async with rig(tmp_path, free_tcp_url(), kst(2026, 1, 16, 13), tick_s=10) as r:
        d = r.daemon
        await r.run(30)
        now = r.twin.clock.now()
        override = command("m1", now, "override", "heater", "on", duration_s=3600, by="technician")
        for payload in (override, command("m2", now, "setpoint", "air_temperature", 22, by="technician"),
                        command("m3", now, "recipe", value="paprika-gb", by="technician")):
            ack = json.loads(await d.on_command("gh", payload, "technician"))
            assert ack["ok"], ack
        await d.stop()
        d.stop = _noop  # type: ignore[method-assign]  # the rig's own stop
        again = SiteDaemon(d.site_path, controllers=CONTROLLERS, clock=d.clock, state_dir=d.state_dir,
                           bus_urls=d.bus_urls)
        await again.start()
        try:
            runner = again.zones["gh"]
            assert set(runner.run.overrides) == {"heater"} and runner.run.tenant == {"air_temperature": 22.0}
            assert runner.run.recipe is not None and runner.run.recipe.recipe.recipe.id == "paprika-gb"
            dup = json.loads(await again.on_command("gh", override, "technician"))
            assert dup["error"] == "duplicate"
            r.twin.advance(10)
            await again.tick()
            assert runner.run.decisions["heater"].source == "override", "and the override is in force, as its ack says"
        finally:
            await again.stop()
