"""`farmctl site check` / `aquactl site check`: the daemon's start-up checks, run alone, as a technician runs them.

The daemon and the check load the site and its recipes through the same functions; these tests hold them to
the same answer, and run the commands as real processes (exit status, one line on stderr, nothing started).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import farmcore.twin
from farmcore.errors import ConfigError
from farmcore.runtime.daemon import SiteDaemon
from farmcore.sitecheck import check_site
from farmctl.cli import CONTROLLERS

EXAMPLE = Path(farmcore.twin.__file__).parent / "sites" / "gyeongbuk-demo.toml"
SITE = """
[site]
id = "t"
latitude = 36.0
longitude = 128.6
[[buses]]
id = "b"
url = "tcp://127.0.0.1:1"
[[nodes]]
bus = "b"
unit = 11
profile = "ksx3267:2022/sensor-default"
[[nodes]]
bus = "b"
unit = 12
profile = "ksx3267:2022/actuator-default"

[[zones]]
id = "gh1"
kind = "greenhouse"
bus = "b"
recipe = "crops/tomato"
planted = 2025-08-20
sensors = [{ quantity = "air_temperature", unit = 11, slot = 1 }]
actuators = [{ id = "heater", role = "heater", unit = 12, slot = 1 }]
"""


def tool(name: str, *args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FARMCTL_LANG": "en", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", f"{name}.cli", *args], capture_output=True, text=True, env=env,
                          timeout=60)


def write(tmp_path: Path, text: str, name: str = "site.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


# ------------------------------------------------------------------ the recipe a zone names


@pytest.mark.parametrize(("old", "new", "words"), [
    ('recipe = "crops/tomato"', 'recipe = "crops/strawbery"',
     "zones[0].recipe: recipe 'crops/strawbery' not found next to the site file or in "),
    ('recipe = "crops/tomato"', 'recipe = "crops/strawbery"', "did you mean 'crops/strawberry'?"),
    ('recipe = "crops/tomato"', 'recipe = "fish/olive-flounder"',
     "zones[0].recipe: 'fish/olive-flounder' is a tank recipe; zone 'gh1' is a greenhouse"),
    ("planted = 2025-08-20\n", "", "zones[0].planted: a zone with a recipe needs its planting (or stocking) date"),
])
def test_the_zone_recipe_is_named_by_its_field_and_the_daemon_says_the_same(tmp_path: Path, old, new, words):
    path = write(tmp_path, SITE.replace(old, new))
    with pytest.raises(ConfigError) as checked:
        check_site(path, ("greenhouse",))
    assert str(checked.value).startswith(f"{path}: ") and words in str(checked.value)
    with pytest.raises(ConfigError) as started:
        SiteDaemon(path, controllers=CONTROLLERS, state_dir=tmp_path / "state")
    assert str(started.value) == str(checked.value)  # one rule, one message: they cannot disagree


def test_a_recipe_fault_names_the_recipe_file_and_field(tmp_path: Path):
    recipe = Path(__file__).resolve().parents[1] / "recipes" / "crops" / "tomato.toml"
    text = recipe.read_text("utf-8").replace("[strategy.ventilation]", "[strategy.ventilation]\np_bnad_k = 40", 1)
    write(tmp_path, text, "mine.toml")
    path = write(tmp_path, SITE.replace('recipe = "crops/tomato"', 'recipe = "mine"'))
    with pytest.raises(ConfigError, match=r"mine\.toml: strategy\.ventilation\.p_bnad_k: unknown field"):
        check_site(path, ("greenhouse",))


def test_the_example_site_checks_for_both_daemons():
    report = check_site(EXAMPLE, ("greenhouse",))
    assert [z.id for z in report.zones] == ["gh1", "gh2", "gh3", "tank1", "tank2", "tank3"]
    assert all(z.recipe is not None for z in report.zones) and report.warnings == []
    assert check_site(EXAMPLE, ("tank",)).site.site.id == "gyeongbuk-demo"


# ------------------------------------------------------------------ as processes


def test_site_check_good_file_prints_a_summary(tmp_path: Path):
    res = tool("farmctl", "site", "check", str(EXAMPLE), env_extra={"FARMCTL_STATE_DIR": str(tmp_path)})
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"ok {EXAMPLE}: site gyeongbuk-demo (Asia/Seoul)\n")
    assert "zones this daemon runs: gh1 strawberry-seolhyang-gb@1 (planted 2025-09-10)" in res.stdout
    assert "zones of the other daemon: tank1, tank2, tank3" in res.stdout
    assert res.stderr == "" and not any(tmp_path.iterdir())  # nothing started, nothing written
    aqua = tool("aquactl", "site", "check", "--json", str(EXAMPLE))
    assert aqua.returncode == 0 and '"runs": true, "recipe": "olive-flounder-gb@' in aqua.stdout


@pytest.mark.parametrize(("tool_name", "text", "line"), [
    ("farmctl", SITE.replace('recipe = "crops/tomato"', 'recipe = "crops/strawbery"'), "zones[0].recipe: recipe "),
    ("aquactl", SITE.replace('latitude = 36.0', 'latitude = 36.0\ntimezone = "Asia/Seol"'),
     "site.timezone: unknown time zone 'Asia/Seol'"),
    ("farmctl", SITE + "[[zones]]\nid = \"gh2\"\nkind = \"greenhouse\"\nbus = \"b\"\n"
                       "actuators = [{ id = \"heater\", role = \"heater\", unit = 12, slot = 1 }]\n",
     "zones[1].actuators[0].slot: bus 'b' unit 12 slot 1 is already driven by actuator 'heater' of zone 'gh1'"),
    ("aquactl", SITE, "no tank zones to run"),
])
def test_site_check_bad_file_is_one_line_and_exit_2(tmp_path: Path, tool_name, text, line):
    path = write(tmp_path, text)
    res = tool(tool_name, "site", "check", str(path))
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and res.stderr.startswith(f"{tool_name}: error: ") and line in res.stderr


@pytest.mark.parametrize("command", [["run", "--for", "1"], ["twin", "--tcp", "127.0.0.1:0"]])
def test_run_and_twin_refuse_an_unknown_timezone_in_one_line(tmp_path: Path, command):
    """Was `internal error: ZoneInfoNotFoundError` (exit 1)."""
    path = write(tmp_path, SITE.replace('latitude = 36.0', 'latitude = 36.0\ntimezone = "Mars/Olympus"'))
    res = tool("farmctl", *command, "--site", str(path), env_extra={"FARMCTL_STATE_DIR": str(tmp_path / "s")})
    assert res.returncode == 2
    assert res.stderr.strip() == (f"farmctl: error: {path}: site.timezone: unknown time zone 'Mars/Olympus': an "
                                  "IANA name such as 'Asia/Seoul'")


def test_run_refuses_a_duplicate_actuator_id_in_one_line(tmp_path: Path):
    """Was `internal error: ValueError: alarm rule 'feedback_mismatch:heater' appears twice` (exit 1)."""
    path = write(tmp_path, SITE.replace(
        'actuators = [{ id = "heater", role = "heater", unit = 12, slot = 1 }]',
        'actuators = [{ id = "heater", role = "heater", unit = 12, slot = 1 },\n'
        '             { id = "heater", role = "circulation_fan", unit = 12, slot = 2 }]'))
    res = tool("farmctl", "run", "--for", "1", "--site", str(path), env_extra={"FARMCTL_STATE_DIR": str(tmp_path)})
    assert res.returncode == 2
    assert res.stderr.strip().endswith("zones[0].actuators[1].id: 'heater' is used by another actuator of zone "
                                       "'gh1'; actuator ids are unique in a zone")
