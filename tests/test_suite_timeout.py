"""The suite's own guard: a hanging test ends the run with every thread's stack instead of hanging CI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HANGING = '''
import threading

def test_deadlocks():
    lock = threading.Lock()
    worker = threading.Thread(target=lambda: (lock.acquire(), lock.acquire()), name="stuck-worker", daemon=True)
    worker.start()
    worker.join()  # waits for ever: the worker holds the lock it waits on
'''


def test_the_configured_timeout_stops_a_deadlocked_test_and_prints_every_threads_stack(tmp_path: Path) -> None:
    test = tmp_path / "test_hang.py"
    test.write_text(HANGING)
    # the project's own pytest settings (timeout method and all), only the duration shortened
    command = [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path),
               "-o", "timeout=2", "-p", "no:cacheprovider", str(test)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    out = run.stdout + run.stderr
    assert run.returncode != 0
    assert "Timeout" in out, out[-2000:]
    assert "stuck-worker" in out and "MainThread" in out, "every thread's stack is printed"


def test_the_project_sets_a_default_timeout(pytestconfig) -> None:
    assert float(pytestconfig.getini("timeout")) > 0
    assert pytestconfig.getini("timeout_method") == "thread"
