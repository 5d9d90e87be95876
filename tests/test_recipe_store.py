"""The recipe store: recipes by kind and id@version from ordered folders, read again when a file changes, broken
files listed with their reason and never raised."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from farmcore.errors import BadInput, ConfigError
from farmcore.recipe import zonerecipe
from farmcore.recipe.store import RecipeStore, file_stamp, shipped_folders

ROOT = Path(__file__).resolve().parents[1]

GREENHOUSE = """
[recipe]
id = "{id}"
version = {version}
kind = "greenhouse"
crop = "tomato"

[envelope]
air_temperature = {{ min = 10, max = 30 }}

[[stages]]
name = "all"
from_day = 0

[[stages.periods]]
start = "06:00"
air_temperature = {temperature}
"""
TANK = """
[recipe]
id = "{id}"
version = {version}
kind = "tank"
species = "olive-flounder"

[envelope]
dissolved_oxygen = {{ min = 5, max = 9 }}

[[stages]]
name = "all"
from_day = 0

[[stages.periods]]
start = "00:00"
dissolved_oxygen = 6.5
"""


def put(folder: Path, name: str, rid: str = "tom", version: int = 1, temperature: float = 20,
        text: str = GREENHOUSE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text.format(id=rid, version=version, temperature=temperature), "utf-8")
    return path


def test_versions_compare_as_integers_and_none_is_the_newest(tmp_path: Path):
    put(tmp_path, "a.toml", version=9)
    ten = put(tmp_path, "b.toml", version=10, temperature=21)
    put(tmp_path, "c.toml", version=2)
    store = RecipeStore([tmp_path])
    assert store.versions("greenhouse", "tom") == [2, 9, 10]
    assert store.get("greenhouse", "tom").label == "tom@10"  # as strings "9" > "10"
    assert store.get("greenhouse", "tom", 9).path == tmp_path / "a.toml"
    assert store.ids("greenhouse") == {"tom": ten}
    assert store.find("greenhouse", "tom@2").version == 2 and store.find("greenhouse", "tom").version == 10
    assert [e.label for e in store.entries("greenhouse")] == ["tom@2", "tom@9", "tom@10"]


def test_kinds_are_apart(tmp_path: Path):
    put(tmp_path, "gh.toml", rid="same")
    put(tmp_path, "tank.toml", rid="same", text=TANK)
    store = RecipeStore([tmp_path])
    assert store.ids("greenhouse") == {"same": tmp_path / "gh.toml"}
    assert store.ids("tank") == {"same": tmp_path / "tank.toml"}
    assert store.get("tank", "same").kind == "tank"


def test_the_first_folder_wins_an_id_at_version_and_the_other_file_says_why(tmp_path: Path):
    site, shipped = tmp_path / "site", tmp_path / "shipped"
    mine = put(site, "tomato.toml", temperature=22)
    theirs = put(shipped, "tomato.toml", temperature=18)
    (site / "site.toml").write_text('[site]\nid = "x"\nlatitude = 36\nlongitude = 128\n', "utf-8")  # no recipe
    store = RecipeStore([site, shipped])
    assert store.get("greenhouse", "tom").path == mine
    [skipped] = store.skipped()
    assert skipped.path == theirs
    assert skipped.reason == (f"{theirs}: recipe.version: greenhouse recipe tom@1 is also {mine}, which is read "
                              "first; give this one a new version")
    put(shipped, "tomato.toml", version=2)  # a newer shipped version is the newest, wherever it is
    assert store.get("greenhouse", "tom").path == theirs and store.skipped() == []


def test_a_broken_file_is_skipped_with_its_reason_and_taken_once_fixed(tmp_path: Path):
    put(tmp_path, "good.toml", rid="good")
    bad = put(tmp_path, "bad.toml", rid="bad", temperature=35)  # outside the envelope
    (tmp_path / "junk.toml").write_text("[recipe\n", "utf-8")
    store = RecipeStore([tmp_path])
    assert list(store.ids("greenhouse")) == ["good"]
    reasons = {s.path.name: s.reason for s in store.skipped()}
    assert reasons["bad.toml"] == f"{bad}: stages[0].periods[0].air_temperature: 35 is outside the envelope 10..30"
    assert reasons["junk.toml"].startswith(f"{tmp_path / 'junk.toml'}: not valid TOML")
    assert all("\n" not in r for r in reasons.values())
    put(tmp_path, "bad.toml", rid="bad", temperature=25)
    assert list(store.ids("greenhouse")) == ["bad", "good"] and len(store.skipped()) == 1
    bad.unlink()
    assert list(store.ids("greenhouse")) == ["good"]


def test_a_change_is_seen_by_its_stamp_and_nothing_else_is_read_again(tmp_path: Path):
    path = put(tmp_path, "r.toml", temperature=20)
    store = RecipeStore([tmp_path])
    first = store.get("greenhouse", "tom")
    assert first.stamp == file_stamp(path)
    assert store.refresh() is False and store.get("greenhouse", "tom") is first  # unchanged: not read again
    st = path.stat()
    put(tmp_path, "r.toml", temperature=21)  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert file_stamp(path) != first.stamp and path.stat().st_size == st.st_size
    again = store.get("greenhouse", "tom")
    assert again is not first and again.recipe.stages[0].periods[0].air_temperature == 21


def test_unknown_recipes_and_versions_say_what_there_is(tmp_path: Path):
    put(tmp_path, "r.toml", version=3)
    store = RecipeStore([tmp_path])
    with pytest.raises(BadInput, match=r"no greenhouse recipe 'tomato' \(known: tom\)"):
        store.get("greenhouse", "tomato")
    with pytest.raises(BadInput, match=r"no greenhouse recipe tom@4 \(versions: 3\)"):
        store.get("greenhouse", "tom", 4)
    with pytest.raises(BadInput, match="the version after @ is a whole number"):
        store.find("greenhouse", "tom@three")
    with pytest.raises(BadInput, match=r"\(known: none\)"):
        store.get("tank", "tom")


def test_the_default_folders_are_the_shipped_recipes_every_one_loading():
    store = RecipeStore()
    assert store.folders == shipped_folders() and store.folders[0].parent == zonerecipe.RECIPES_DIR
    shipped = sorted((ROOT / "recipes").glob("*/*.toml"))
    assert store.skipped() == []
    assert sorted(e.path.name for k in ("greenhouse", "tank") for e in store.entries(k)) == \
        sorted(p.name for p in shipped)
    assert store.ids("greenhouse")["tomato-gb"].name == "tomato.toml"
    assert store.ids("tank")["olive-flounder-gb"].name == "olive-flounder.toml"


def test_for_site_looks_next_to_the_site_file_first(tmp_path: Path):
    mine = put(tmp_path, "tomato.toml", rid="tomato-gb", version=99)
    store = RecipeStore.for_site(tmp_path / "site.toml")
    assert store.folders == (tmp_path, *shipped_folders())
    assert store.get("greenhouse", "tomato-gb").path == mine
    assert store.versions("greenhouse", "tomato-gb")[-1] == 99 and len(store.versions("greenhouse", "tomato-gb")) > 1


@dataclass(frozen=True)
class Zone:
    id: str
    kind: str
    recipe: str | None
    planted: date | None = date(2026, 1, 1)


def test_load_and_zone_recipe_read_a_file_once_while_it_is_unchanged(tmp_path: Path):
    path = put(tmp_path, "mine.toml")
    site = tmp_path / "site.toml"
    store = RecipeStore([])
    entry = store.zone_recipe(site, "zones[0]", Zone("gh1", "greenhouse", "mine"))
    assert entry.path == path and store.load(path) is entry
    assert store.zone_recipe(site, "zones[0]", Zone("gh1", "greenhouse", "mine.toml")) is entry
    with pytest.raises(ConfigError) as info:
        store.zone_recipe(site, "zones[1]", Zone("t1", "tank", "mine"))
    assert str(info.value) == f"{site}: zones[1].recipe: 'mine' is a greenhouse recipe; zone 't1' is a tank"
    put(tmp_path, "mine.toml", temperature=99)
    with pytest.raises(ConfigError, match=r"mine\.toml: stages\[0\]\.periods\[0\]\.air_temperature: 99"):
        store.load(path)
