"""Loading TOML data files (profiles, sites, recipes) into pydantic schemas, with one-line errors.

Every error names the file and the field (`site.toml: zones[2].actuators[0].role: ...`) and says what is
allowed, so a technician can fix a file without reading a traceback.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError

from farmcore.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base of every file schema: unknown fields are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, loc_by_alias=True)


class StrictFile(Strict):
    """Base of the site and recipe schemas: also no coercion and only finite numbers. TOML has real numbers,
    booleans and dates, so `"5"` where a number belongs is a mistake, and `inf` or `nan` as a limit is no limit."""

    model_config = ConfigDict(extra="forbid", frozen=True, loc_by_alias=True, strict=True, allow_inf_nan=False)


def field_path(loc: Sequence[Any]) -> str:
    """`("zones", 2, "role")` -> `zones[2].role`."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _model_in(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model an annotation holds (through Optional, list and dict) and whether it is a dict's value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    for arg in reversed(get_args(annotation)):
        model, _ = _model_in(arg)
        if model is not None:
            return model, get_origin(annotation) is dict
    return None, False


def _allowed_fields(schema: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """The fields the table at `loc` allows (named in the error, so a typo can be fixed without the docs)."""
    model: type[BaseModel] | None = schema
    key_next = False  # the next part is a key of a dict (hard_limits.<quantity>), not a field
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        if key_next:
            key_next = False
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        model, key_next = _model_in(field.annotation)
    return list(model.model_fields) if model is not None else []


def first_error(file: str, exc: ValidationError, schema: type[BaseModel] | None = None) -> ConfigError:
    err = exc.errors()[0]
    # drop pydantic's union-branch labels such as "str", "int" or "function-after[...]"
    loc = [p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p in {"str", "int", "list"}))]
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        allowed = _allowed_fields(schema, loc[:-1]) if schema is not None else []
        msg = "unknown field (check the spelling)" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    elif err["type"] == "missing":
        msg = "required field is missing"
    elif err["type"] == "value_error":  # a cross-field rule (min above max ...): its own text names the values
        msg = msg.removeprefix("Value error, ")
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
        raise first_error(file, exc, schema) from None
