"""The OPID counter: a KS X 3267 node acts on a command only when its OPID changes (§6.1.4).

One counter per controller, kept in a small file, so every command of every process on the box
(daemon and technician command line) gets a new OPID, also across restarts and kill -9: an OPID is
reserved in the file, fsynced, *before* the command goes on the wire (the daemon reserves a block at once).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from farmcore.paths import default_state_dir

OPID_MAX = 0xFFFF


class OpidStore:
    """Hands out OPIDs 1..65535 in turn (0 means "none" and is never used).

    The file holds the last OPID reserved. `block` OPIDs are reserved at once (one fsync per block) and handed
    out from memory: the daemon sends a command every tick for every dead-man lease, and two fsyncs per
    command would wear out an SD card and cost ~1 ms each. A restart or another process starts after the
    reserved block, so no OPID is ever handed out twice; a restart skips at most `block - 1` values (the node
    only needs the OPID to change)."""

    def __init__(self, path: str | Path | None = None, *, block: int = 1) -> None:
        if not 1 <= block <= 1024:
            raise ValueError(f"block {block}: 1 to 1024")
        self.path = Path(path) if path else default_state_dir() / "opid"
        self.block = block
        self.reservations = 0  # fsynced writes of the file, all time
        self._next = 0
        self._left = 0

    def next(self) -> int:
        if self._left == 0:
            self._next, self._left = self._reserve(), self.block
        opid = self._next
        self._next, self._left = opid % OPID_MAX + 1, self._left - 1
        return opid

    def _reserve(self) -> int:
        """Write the end of a new block (fsynced) under the lock; its first OPID."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)  # the daemon and a technician's command may race
            last = self._last()
            first, end = last % OPID_MAX + 1, (last + self.block - 1) % OPID_MAX + 1
            tmp = self.path.with_suffix(".tmp")
            with open(tmp, "w", encoding="ascii") as f:
                f.write(f"{end}\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)  # atomic: a crash leaves the old or the new value, never none
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            self.reservations += 1
            return first
        finally:
            os.close(lock)

    def _last(self) -> int:
        try:
            raw = self.path.read_text("ascii").strip()
        except FileNotFoundError:
            return 0
        return int(raw) if raw.isdigit() and 0 < int(raw) <= OPID_MAX else 0
