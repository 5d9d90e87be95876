"""The recipe TOML writer: load -> write -> load gives the same recipe for every shipped file; a recipe that would
not load back is never written; a file is replaced whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from farmcore.errors import ConfigError
from farmcore.recipe.load import load_recipe
from farmcore.recipe.schema import unused_keys
from farmcore.recipe.write import dumps_recipe, recipe_data, write_recipe

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "recipes").glob("*/*.toml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_load_write_load_gives_the_same_recipe(path: Path, tmp_path: Path):
    first = load_recipe(path)
    out = write_recipe(first, tmp_path / path.name)
    again = load_recipe(out)
    assert again == first
    assert recipe_data(again) == recipe_data(first)  # the same keys given, not only the same values
    assert type(again.strategy) is type(first.strategy)
    assert [again.strategy_for(i) for i in range(len(again.stages))] == \
        [first.strategy_for(i) for i in range(len(first.stages))]
    assert unused_keys(again) == unused_keys(first)
    assert dumps_recipe(again) == out.read_text("utf-8")  # writing is stable: a second save changes nothing


def test_defaults_are_not_written():
    text = dumps_recipe(load_recipe(ROOT / "recipes" / "crops" / "tomato.toml"))
    assert "cultivar" not in text and "parent" not in text  # left out of the file: left out again
    assert "[strategy.heating]" not in text and "offset_k = 5.0" in text  # given: written, even at its default


def test_a_key_set_to_none_is_left_out(tmp_path: Path):
    """The editor clears a key by setting it to None: TOML has no null, so the key is not written."""
    r = load_recipe(ROOT / "recipes" / "crops" / "tomato.toml")
    cleared = r.model_copy(update={"recipe": r.recipe.model_copy(update={"parent": None, "crop": r.recipe.crop})})
    assert "parent" in cleared.recipe.model_fields_set
    again = load_recipe(write_recipe(cleared, tmp_path / "t.toml"))
    assert again.recipe.parent is None and "parent" not in again.recipe.model_fields_set


def test_a_recipe_that_would_not_load_back_is_not_written(tmp_path: Path):
    r = load_recipe(ROOT / "recipes" / "fish" / "olive-flounder.toml")
    target = tmp_path / "flounder.toml"
    target.write_text("# the officer's last good version\n", "utf-8")
    broken = r.model_copy(update={"envelope": {}})  # periods outside any envelope
    with pytest.raises(ConfigError) as info:
        write_recipe(broken, target)
    assert str(info.value).startswith(f"{target}: stages[0].periods[0].") and "no envelope" in str(info.value)
    assert target.read_text("utf-8") == "# the officer's last good version\n"
    assert [p.name for p in tmp_path.iterdir()] == ["flounder.toml"]  # no temporary file left behind


def test_writing_replaces_the_file_whole(tmp_path: Path):
    target = tmp_path / "r.toml"
    target.write_text("x" * 100_000, "utf-8")
    r = load_recipe(ROOT / "recipes" / "fish" / "rainbow-trout.toml")
    write_recipe(r, target)
    assert load_recipe(target) == r and [p.name for p in tmp_path.iterdir()] == ["r.toml"]
