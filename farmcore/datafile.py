"""Loading TOML data files (profiles, sites, recipes) into pydantic schemas, with one-line errors.

Every error names the file and the field (`site.toml: zones[2].actuators[0].role: ...`) and says what is
allowed, so a technician can fix a file without reading a traceback.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from farmcore.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base of every file schema: unknown fields are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, loc_by_alias=True)


def field_path(loc: Sequence[Any]) -> str:
    """`("zones", 2, "role")` -> `zones[2].role`."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def first_error(file: str, exc: ValidationError) -> ConfigError:
    err = exc.errors()[0]
    # drop pydantic's union-branch labels such as "str", "int" or "function-after[...]"
    loc = [p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p in {"str", "int", "list"}))]
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown field (check the spelling)"
    elif err["type"] == "missing":
        msg = "required field is missing"
    elif "input" in err:
        msg = f"{msg}; got {err['input']!r}"
    return ConfigError(file, field_path(loc), msg)


def parse_toml(text: str, file: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, "", f"not valid TOML: {exc}") from None


def read_text(path: str | Path) -> str:
    try:
        return Path(path).read_text("utf-8")
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc.strerror}") from None


def parse_checked(schema: type[M], text: str, file: str, check: Callable[[M, str], None]) -> M:
    """TOML text -> schema, then the cross-field `check(model, file)` that raises `ConfigError`."""
    model = validate(schema, parse_toml(text, file), file)
    check(model, file)
    return model


def validate(schema: type[M], data: dict[str, Any], file: str) -> M:
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise first_error(file, exc) from None
