"""The state folder: one rule for the daemon and the technician's commands (OPIDs, frames, history)."""

from __future__ import annotations

from pathlib import Path

import pytest

from farmcore.fieldbus.opid import OpidStore
from farmcore.paths import default_state_dir


def test_state_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FARMCTL_STATE_DIR", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_state_dir() == tmp_path / "home" / ".local" / "state" / "farmctl"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_state_dir() == tmp_path / "xdg" / "farmctl"
    monkeypatch.setenv("FARMCTL_STATE_DIR", str(tmp_path / "mine"))
    assert default_state_dir() == tmp_path / "mine"


def test_the_opid_counter_lives_in_the_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FARMCTL_STATE_DIR", str(tmp_path))
    assert OpidStore().path == tmp_path / "opid"
