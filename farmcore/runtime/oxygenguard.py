"""The site's GPIO oxygen backups (farmcore/runtime/backup.py), one per tank zone that has one: opened with the
zone's critical level from its recipe, fed every tick from the zone's oxygen track, their events told as the
zone's, and left engaged past the daemon's stop while an emergency lasts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from farmcore.runtime.backup import CRITICAL_MG_L, BackupRule, OxygenBackup
from farmcore.runtime.reading import dissolved_oxygen
from farmcore.runtime.setpoints import strategy
from farmcore.runtime.zone import ZoneRunner
from farmcore.site import SiteFile


class OxygenGuards:
    def __init__(self, event: Callable[..., None]) -> None:
        self.event = event
        self.backups: dict[str, OxygenBackup] = {}

    def start(self, zones: Mapping[str, ZoneRunner], site: SiteFile, now: datetime, tz: ZoneInfo) -> None:
        from farmcore.gpio import open_output

        for runner in zones.values():
            spec = runner.zone.oxygen_backup
            if spec is None:
                continue
            oxygen = strategy(runner, now, now.astimezone(tz), tz).get("oxygen", {})
            rule = BackupRule(oxygen.get("critical_mg_l", CRITICAL_MG_L), spec.release_after_s)
            out = open_output(spec.pin, active_high=spec.active_high, factory=site.runtime.gpio_factory)
            backup = OxygenBackup(runner.zone.id, out, rule, hang_after_s=spec.hang_after_s)
            backup.start()
            self.backups[runner.zone.id] = backup

    def feed(self, zones: Mapping[str, ZoneRunner], now_s: float, tick_s: float) -> None:
        for zone_id, backup in self.backups.items():
            track, why = dissolved_oxygen(zones[zone_id], now_s)
            # one lost frame is not a dead bus: two reads in a row without an answer are
            silent_s = now_s - (track.good_at if track.good_at is not None else float("-inf"))
            bus_ok = not (track.quality == "comm_error" and silent_s > 1.5 * tick_s)
            backup.feed(now_s, track.value if why is None else None, bus_ok, why or "")
        self.drain(zones)

    def drain(self, zones: Mapping[str, ZoneRunner]) -> None:
        for zone_id, backup in self.backups.items():
            while backup.events:
                code, message = backup.events.popleft()
                self.event(zones.get(zone_id), code, message)

    def stop(self, zones: Mapping[str, ZoneRunner]) -> None:
        for backup in self.backups.values():
            backup.stop(leave_engaged=backup.rule.engaged)  # an emergency outlives the daemon
        self.drain(zones)
