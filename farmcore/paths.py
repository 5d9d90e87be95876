"""Where the controller keeps its state on the box: one rule for every process that writes there.

The OPID counter, the frame history, the job store, the daemon's state and the default SQLite history all live
under one folder, so a technician's command and the daemon share the same OPIDs and frames.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_state_dir() -> Path:
    """$FARMCTL_STATE_DIR, else $XDG_STATE_HOME/farmctl, else ~/.local/state/farmctl."""
    if env := os.environ.get("FARMCTL_STATE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "farmctl"
