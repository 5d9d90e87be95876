"""The OPID counter: a KS X 3267 node acts on a command only when its OPID changes (§6.1.4).

One counter per controller, kept in a small file, so every command of every process on the box
(daemon and technician command line) gets a new OPID, also across restarts and kill -9: the next
value is written and fsynced *before* the command goes on the wire.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

OPID_MAX = 0xFFFF


def default_state_dir() -> Path:
    """$FARMCTL_STATE_DIR, else $XDG_STATE_HOME/farmctl, else ~/.local/state/farmctl."""
    if env := os.environ.get("FARMCTL_STATE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "farmctl"


class OpidStore:
    """Hands out OPIDs 1..65535 in turn (0 means "none" and is never used)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_state_dir() / "opid"

    def next(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)  # the daemon and a technician's command may race
            opid = self._last() % OPID_MAX + 1
            tmp = self.path.with_suffix(".tmp")
            with open(tmp, "w", encoding="ascii") as f:
                f.write(f"{opid}\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)  # atomic: a crash leaves the old or the new value, never none
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            return opid
        finally:
            os.close(lock)

    def _last(self) -> int:
        try:
            raw = self.path.read_text("ascii").strip()
        except FileNotFoundError:
            return 0
        return int(raw) if raw.isdigit() and 0 < int(raw) <= OPID_MAX else 0
