"""A zone's recipe as the site file names it: where the file is found, and whether it fits the zone.

The daemon (at start, on reload and on a `recipe` command) and `site check` both load a zone's recipe here, so
the check a technician runs and the one the daemon makes can never disagree. Errors are one line naming the
site file and the zone's field (`site.toml: zones[0].recipe: recipe 'crops/strawbery' not found ...`); a
fault inside the recipe itself names the recipe file and its field.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Protocol

from farmcore.errors import ConfigError
from farmcore.recipe.load import load_recipe
from farmcore.recipe.schema import Recipe

# The shipped recipes: the repository's top-level recipes/ folder, which `farmcore/recipes` links to so that the
# wheel carries it as package data (pyproject.toml); resolved, so a checkout names the folder itself.
RECIPES_DIR = (Path(__file__).resolve().parents[1] / "recipes").resolve()


class RecipeZone(Protocol):
    """What the recipe check reads of a site file's zone (a `farmcore.site.ZoneDef`, described here, not
    imported: the site schema knows the field bus, and recipes never do)."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def recipe(self) -> str | None: ...
    @property
    def planted(self) -> date | None: ...


def shipped_recipes() -> list[str]:
    """The shipped recipes as a site file names them (`crops/tomato`, `fish/olive-flounder`)."""
    return sorted(str(p.relative_to(RECIPES_DIR).with_suffix("")) for p in RECIPES_DIR.glob("*/*.toml"))


def resolve_recipe_path(spec: str, site_file: Path, field: str = "recipe") -> Path:
    """A zone's recipe: relative to the site file, else to the shipped recipes/ folder (`crops/tomato`)."""
    for base in (site_file.parent, RECIPES_DIR):
        for candidate in (base / spec, base / f"{spec}.toml"):
            if candidate.is_file():
                return candidate
    shipped = shipped_recipes()
    close = difflib.get_close_matches(spec.removesuffix(".toml"), shipped, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ConfigError(str(site_file), field, f"recipe {spec!r} not found next to the site file or in {RECIPES_DIR}; "
                                             f"{hint}shipped: {', '.join(shipped)}")


def load_zone_recipe(site_file: Path, where: str, zone: RecipeZone,
                     load: Callable[[Path], Recipe] = load_recipe) -> tuple[Recipe, Path]:
    """The recipe of `zone` (at `where`, e.g. `zones[0]`, in `site_file`), checked to fit it: a recipe of the
    zone's kind, and a planting (stocking) date to count its stages from. `load` reads the file (a
    `RecipeStore` reads it only when it changed)."""
    assert zone.recipe is not None
    path = resolve_recipe_path(zone.recipe, site_file, f"{where}.recipe")
    recipe = load(path)
    if recipe.recipe.kind != zone.kind:
        raise ConfigError(str(site_file), f"{where}.recipe", f"{zone.recipe!r} is a {recipe.recipe.kind} recipe; "
                                                             f"zone {zone.id!r} is a {zone.kind}")
    if zone.planted is None:
        raise ConfigError(str(site_file), f"{where}.planted", "a zone with a recipe needs its planting (or "
                                                              "stocking) date, e.g. planted = 2025-09-10")
    return recipe, path
