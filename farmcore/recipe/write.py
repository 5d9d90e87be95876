"""Writing a recipe as TOML (tomli-w), so that loading what was written gives the same recipe.

The officers' recipe editor saves through `write_recipe`. Only the keys a file gave (or the editor set) are
written, never a default, so a stage's strategy table still overrides exactly the keys it names and
`recipe check` still names the keys no strategy acts on. Comments are not kept: a recipe's sources belong in
`recipe.sources` and `notes`, which are. A file is replaced whole (written beside it, then renamed), so the
daemon's store never reads half a recipe.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import tomli_w

from farmcore.errors import ConfigError
from farmcore.recipe.load import parse_recipe
from farmcore.recipe.schema import Recipe


def _without_none(value: Any) -> Any:
    """TOML has no null: a key set to None is a key not given."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def recipe_data(recipe: Recipe) -> dict[str, Any]:
    """The recipe as TOML data: the keys given, in the schema's order."""
    return _without_none(recipe.model_dump(mode="python", exclude_unset=True))


def dumps_recipe(recipe: Recipe) -> str:
    return tomli_w.dumps(recipe_data(recipe), multiline_strings=True)


def write_recipe(recipe: Recipe, path: str | Path) -> Path:
    """Write `recipe` to `path` after checking that the text loads back as the same recipe (every rule of
    `load_recipe` included), so a file the editor saves always loads; ConfigError naming `path` otherwise."""
    target = Path(path)
    text = dumps_recipe(recipe)
    again = parse_recipe(text, str(target))
    if recipe_data(again) != recipe_data(recipe):
        raise ConfigError(str(target), "", "the written recipe does not load back as the same recipe")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
