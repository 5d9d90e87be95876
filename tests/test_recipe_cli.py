"""`farmctl recipe ...` reads recipes and a site's place without the site module or the field bus (the house rule:
recipes never touch the field bus, DESIGN.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import farmcore
from farmcore.errors import ConfigError
from farmcore.recipe.cli import recipe as recipe_group
from farmcore.sitehead import load_site_head

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(farmcore.__file__).parent / "twin" / "sites" / "gyeongbuk-demo.toml"

# Runs `recipe check` on every shipped recipe (both kinds' strategy tables load) and `recipe show` in a fresh
# interpreter, then lists what was imported.
PROBE = """
import json, sys
from click.testing import CliRunner
from farmcore.recipe.cli import recipe
files = sys.argv[1:-1]
check = CliRunner().invoke(recipe, ["check", *files])
show = CliRunner().invoke(recipe, ["show", files[0], "--at", "2026-01-20T12:00", "--site", sys.argv[-1],
                                   "--planted", "2025-12-01", "--json"])
print(json.dumps({"codes": [check.exit_code, show.exit_code], "modules": sorted(sys.modules)}))
"""


def test_recipe_commands_import_neither_the_site_module_nor_the_field_bus():
    recipes = [str(p) for p in sorted((ROOT / "recipes").glob("*/*.toml"))]
    out = subprocess.run([sys.executable, "-c", PROBE, *recipes, str(SITE)], capture_output=True, text=True,
                         timeout=120, check=True)
    doc = json.loads(out.stdout)
    assert doc["codes"] == [0, 0]
    modules = doc["modules"]
    assert "farmctl.strategies.schema" in modules and "aquactl.strategies.schema" in modules
    forbidden = [m for m in modules if m == "farmcore.site" or m.startswith(("farmcore.fieldbus", "farmcore.twin",
                                                                              "farmcore.runtime", "pymodbus"))]
    assert forbidden == []


def test_site_head_is_read_alone_and_checked_as_the_site_file_checks_it(tmp_path: Path):
    head = load_site_head(SITE)
    assert (head.latitude, head.timezone) == (36.35, "Asia/Seoul")
    bad = tmp_path / "site.toml"
    bad.write_text(SITE.read_text("utf-8").replace("latitude = 36.35", "latitude = 136.35"), "utf-8")
    with pytest.raises(ConfigError) as info:
        load_site_head(bad)
    assert str(info.value).startswith(f"{bad}: site.latitude: ") and "\n" not in str(info.value)
    bad.write_text("[buses]\n", "utf-8")
    with pytest.raises(ConfigError, match=r"site\.toml: site: required field is missing"):
        load_site_head(bad)


def test_recipe_show_names_a_bad_site_place(tmp_path: Path):
    site = tmp_path / "site.toml"
    site.write_text(SITE.read_text("utf-8").replace("latitude = 36.35", 'latitude = "36.35"'), "utf-8")
    tomato = str(ROOT / "recipes" / "crops" / "tomato.toml")
    res = CliRunner().invoke(recipe_group, ["show", tomato, "--at", "2026-01-20T12:00", "--site", str(site),
                                            "--planted", "2025-12-01"])
    assert res.exit_code != 0 and isinstance(res.exception, ConfigError)
    assert res.exception.field == "site.latitude"
