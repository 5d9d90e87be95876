"""The oxygen backup: a GPIO relay (backup blower, emergency O2 solenoid) that does not depend on Modbus.

Fish die within minutes without oxygen, so the last line of defence must not share a failure with the
first. The relay is engaged when dissolved oxygen is below the critical level, when its reading is bad or
stale, or when the node carrying it stops answering (the bus is down); it is released only after DO has
been good and above critical + margin for `release_after_s`. The daemon feeds the guard every tick; a
thread of its own also watches the feeding itself, on the monotonic clock: if the daemon's loop hangs
(a Modbus call that never returns, a bug) and stops feeding for `hang_after_s`, the thread engages the
relay by itself. The relay's pin is driven from that thread and from the feed, under one lock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from farmcore.gpio import DigitalOut

CRITICAL_MG_L = 3.0  # when the recipe gives none: the top of the 2-3 mg/L that cut olive flounder growth (oak.go.kr
# article 17565), as recipes/fish/olive-flounder.toml; marine survival 2.3 mg/L (US EPA 2000)
RELEASE_MARGIN_MG_L = 1.0  # [engineering choice] hysteresis above critical before the backup may stop


@dataclass
class BackupRule:
    """Pure: when the backup must run (times in the daemon's clock, seconds)."""

    critical_mg_l: float = CRITICAL_MG_L
    release_after_s: float = 300.0
    engaged: bool = False
    good_since: float | None = None

    def decide(self, now_s: float, do_mg_l: float | None, bus_ok: bool, why_bad: str = "") -> tuple[bool, str]:
        """(engaged, why) after this observation."""
        if not bus_ok:
            self.engaged, self.good_since = True, None
            return True, "DO node not answering (bus down)"
        if do_mg_l is None:
            self.engaged, self.good_since = True, None
            return True, f"DO reading bad: {why_bad or 'no reading'}"
        if do_mg_l < self.critical_mg_l:
            self.engaged, self.good_since = True, None
            return True, f"DO {do_mg_l:.2f} mg/L < critical {self.critical_mg_l:g}"
        if not self.engaged:
            return False, f"DO {do_mg_l:.2f} mg/L"
        if do_mg_l < self.critical_mg_l + RELEASE_MARGIN_MG_L:
            self.good_since = None
            return True, f"DO {do_mg_l:.2f} mg/L not yet {self.critical_mg_l + RELEASE_MARGIN_MG_L:g}"
        if self.good_since is None:
            self.good_since = now_s
        if now_s - self.good_since >= self.release_after_s:
            self.engaged, self.good_since = False, None
            return False, f"DO {do_mg_l:.2f} mg/L good for {self.release_after_s:g} s: released"
        return True, f"DO {do_mg_l:.2f} mg/L, releasing after {self.release_after_s:g} s good"


class OxygenBackup:
    """One zone's backup relay, its rule and its hang watchdog thread."""

    def __init__(self, zone: str, out: DigitalOut, rule: BackupRule, *, hang_after_s: float = 30.0,
                 poll_s: float = 0.5) -> None:
        self.zone, self.out, self.rule = zone, out, rule
        self.hang_after_s, self.poll_s = hang_after_s, poll_s
        self.events: deque[tuple[str, str]] = deque(maxlen=100)  # (code, message), drained by the daemon
        self.why = "not started"
        self._lock = threading.Lock()
        self._fed_at = time.monotonic()
        self._hung = False
        self._engaged = bool(out.value)  # what the relay was last driven to (readable after the pin is released)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"o2-backup-{zone}", daemon=True)

    @property
    def engaged(self) -> bool:
        return self._engaged

    def start(self) -> None:
        self._fed_at = time.monotonic()
        self._thread.start()

    def feed(self, now_s: float, do_mg_l: float | None, bus_ok: bool, why_bad: str = "") -> None:
        """The daemon's observation this tick."""
        with self._lock:
            self._fed_at = time.monotonic()
            if self._hung:
                self._hung = False
                self.events.append(("backup_daemon_back", "daemon feeding the oxygen guard again"))
            engaged, why = self.rule.decide(now_s, do_mg_l, bus_ok, why_bad)
            self._set(engaged, why)

    def _set(self, engaged: bool, why: str) -> None:
        was = self.engaged
        self.why = why
        if engaged and not was:
            self.out.on()
            self._engaged = True
            self.events.append(("backup_engaged", f"oxygen backup ON: {why}"))
        elif not engaged and was:
            self.out.off()
            self._engaged = False
            self.events.append(("backup_released", f"oxygen backup off: {why}"))

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            with self._lock:
                silent = time.monotonic() - self._fed_at
                if silent > self.hang_after_s and not self._hung:
                    self._hung = True
                    self.rule.engaged, self.rule.good_since = True, None
                    self._set(True, f"daemon silent for {silent:.0f} s (hung?)")

    def stop(self, *, leave_engaged: bool = False) -> None:
        """Stop watching and release the pin, relay off; with `leave_engaged` (a stop during an emergency)
        the relay stays energised and the pin stays held for as long as this process lives (releasing a
        GPIO line returns it to an input: the relay would drop). Past the process's end only the wiring
        can keep the backup running: see the README (fail-safe wiring of the backup relay)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)
        if leave_engaged:
            return
        with self._lock:
            self._set(False, "daemon stopped")
        self.out.close()
