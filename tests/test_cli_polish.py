"""The command line's frame (issue 14 item 11): what `--version` imports, one-line usage errors, help texts
that match their commands, history windows that never average states, and SQLite paths printed as given."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from farmcore.historian.base import Point
from farmcore.historian.cli import history
from farmcore.historian.config import SqliteUrl, parse_historian_url
from farmcore.historian.sqlite import SqliteHistorian

HEAVY = ("farmcore.runtime.daemon", "apscheduler", "pymodbus", "aiomqtt")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "FARMCTL_LANG": "en"})


@pytest.mark.parametrize("tool", ["farmctl", "aquactl"])
@pytest.mark.parametrize("args", [["--version"], ["--help"]])
def test_version_and_help_import_no_daemon_scheduler_modbus_or_mqtt(tool: str, args: list[str]):
    """The cause of a 2 s `--version`: every command's module imported up front."""
    code = (f"import sys\nfrom {tool}.cli import main\ntry:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    res = run("-c", code)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("tool", ["farmctl", "aquactl"])
def test_help_lists_each_command_with_its_own_words(tool: str):
    group = __import__(f"{tool}.cli", fromlist=["cli"]).cli
    for name, (load, text) in group.lazy_commands.items():
        assert click.Command(name, help=text).get_short_help_str(300) == load().get_short_help_str(300), name


@pytest.mark.parametrize(("tool", "args", "words"), [
    ("farmctl", ["read", "--bogus"], "No such option '--bogus'. Did you mean '--bus'? (see 'farmctl read --help')"),
    ("farmctl", ["nosuch"], "No such command 'nosuch'."),
    ("farmctl", ["actuate", "--bus", "tcp://h:1", "--unit", "999", "--slot", "1", "on"], "--unit"),
    ("farmctl", ["zone", "cmd", "--site", "s"], "Missing argument 'KIND'. (see 'farmctl zone cmd --help')"),
    ("farmctl", ["history", "export", "--from", "-1d"], "Missing option '--zone'."),
    ("aquactl", ["site", "check"], "Missing argument 'SITE.toml'. (see 'aquactl site check --help')"),
    ("aquactl", ["recipe", "show", "x.toml"], "Missing option '--at'."),
])
def test_usage_errors_are_one_line_with_the_tool_prefix_and_exit_2(tool: str, args: list[str], words: str):
    res = run("-m", f"{tool}.cli", *args)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith(f"{tool}: error: ") and words in res.stderr


def test_a_sqlite_url_with_four_slashes_is_an_absolute_path_not_a_double_slash(tmp_path: Path):
    missing = tmp_path / "none.db"
    assert parse_historian_url(f"sqlite:///{missing}") == SqliteUrl(missing)  # sqlite:////tmp/..., SQLAlchemy's form
    res = run("-m", "farmctl.cli", "history", "stats", "--historian", f"sqlite:///{missing}")
    assert res.returncode == 2 and res.stderr == f"farmctl: error: {missing}: no history database there\n"


# ------------------------------------------------------------------ history windows: states are never averaged

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def switching(tmp_path: Path) -> Path:
    """A heater switched on and off inside one 10-minute window while the air warms."""
    path = tmp_path / "history.db"
    h = SqliteHistorian(path)
    try:
        for i, (target, feedback) in enumerate([(1, 201), (0, 0), (1, 201)]):
            h.write([Point("actuator", "s", "gh1", "heater", T0 + timedelta(minutes=2 * i),
                           {"target": target, "feedback": feedback, "source": "recipe"})])
        h.write([Point("sensor", "s", "gh1", "air_temperature", T0 + timedelta(minutes=i), {"value": 10.0 + i})
                 for i in range(10)])
        h.write([Point("actuator", "s", "gh1", "heater", T0 + timedelta(minutes=12), {"target": 0, "feedback": 0})])
        h.flush(10)
    finally:
        h.close()
    return path


def test_export_mean_averages_readings_and_keeps_the_last_state(switching: Path):
    res = CliRunner().invoke(history, ["export", "--historian", f"sqlite://{switching}", "--site", "s", "--zone",
                                       "gh1", "--from", "2026-01-01T00:00Z", "--to", "2026-01-01T00:20Z",
                                       "--every", "10m", "--agg", "mean", "--tz", "UTC"])
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(io.StringIO(res.output)))
    assert rows[0][2:] == ["sensor:air_temperature", "actuator:heater.feedback", "actuator:heater.target"]
    assert rows[1][2:] == ["14.5", "201", "1"]  # not 134 and 0.667: a heater is on or off, a status is a code
    assert rows[2][2:] == ["", "0", "0"]


def test_query_window_kinds(switching: Path):
    h = SqliteHistorian(switching, read_only=True)
    try:
        ask = {"site": "s", "zone": "gh1", "start": T0, "end": T0 + timedelta(minutes=10),
               "every": timedelta(minutes=10)}
        assert h.query(names=["heater"], field="target", kind="actuator", agg="max", **ask)["heater"][0].value == 1
        assert h.query(names=["heater"], field="target", kind="actuator", agg="min", **ask)["heater"][0].value == 0
        assert h.query(names=["heater"], field="feedback", agg="mean", **ask)["heater"][0].value == 201
        assert h.query(names=["air_temperature"], agg="mean", **ask)["air_temperature"][0].value == 14.5
    finally:
        h.close()


def test_one_environment_variable_names_the_shared_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """FARM_SHARED_DATA (read by farmcore.twin.calibration) had a FARMCTL_-prefixed twin in a test."""
    from farmcore.twin.calibration import shared_data_dir

    monkeypatch.setenv("FARM_SHARED_DATA", str(tmp_path))
    assert shared_data_dir() == tmp_path
    root = Path(__file__).resolve().parents[1]
    other = "FARMCTL_" + "SHARED_DATA"
    users = [str(p.relative_to(root)) for folder in ("farmcore", "farmctl", "aquactl", "tests", "hil_tests",
                                                      "benchmarks", "scripts")
             for p in (root / folder).rglob("*") if p.suffix in (".py", ".md", ".toml", "") and p.is_file()
             and other in p.read_text("utf-8", "replace")]
    assert users == [] and other not in (root / "README.md").read_text("utf-8")
