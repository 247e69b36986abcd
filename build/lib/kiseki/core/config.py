"""Typed configuration read once from environment variables.

A config is a frozen dataclass whose fields are declared with `setting(...)`: the variable's
name, its unit and why its default is what it is. `load_config` reads every field, converts it
to the field's type and fails fast, naming the variable, when a required one is missing or a
value does not parse.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
_REQUIRED = object()
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


def setting(env: str, default: Any = _REQUIRED, *, doc: str, unit: str = "") -> Any:
    """Declare a config field read from `env`; omit `default` to make it required."""
    metadata = {"env": env, "doc": doc, "unit": unit}
    if default is _REQUIRED:
        return dataclasses.field(metadata=metadata)
    if isinstance(default, list | dict | set):
        raise TypeError("use a tuple for a sequence default")
    return dataclasses.field(default=default, metadata=metadata)


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"expected one of {sorted(_TRUE | _FALSE - {''})}")


def _parse_tuple(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


_PARSERS: dict[Any, Callable[[str], Any]] = {
    str: str,
    int: int,
    float: float,
    bool: _parse_bool,
    Path: Path,
    tuple[str, ...]: _parse_tuple,
}


def _parser_for(field_type: Any) -> Callable[[str], Any]:
    if field_type in _PARSERS:
        return _PARSERS[field_type]
    args = [a for a in typing.get_args(field_type) if a is not type(None)]
    if len(args) == 1 and args[0] in _PARSERS:  # Optional[X]
        return _PARSERS[args[0]]
    raise TypeError(f"unsupported config field type {field_type!r}")


def load_config(cls: type[T], environ: Mapping[str, str] | None = None) -> T:
    """Build `cls` from the environment (or `environ`); raise ConfigError naming the variable."""
    source = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        env = field.metadata["env"]
        raw = source.get(env)
        if raw is None:
            if field.default is dataclasses.MISSING:
                raise ConfigError(f"{env} is required but not set ({field.metadata['doc']})")
            continue
        try:
            values[field.name] = _parser_for(hints[field.name])(raw)
        except ValueError as error:
            raise ConfigError(
                f"{env}={raw!r} is not a valid {hints[field.name]}: {error}"
            ) from None
    return cls(**values)


def describe_config(cls: type[Any]) -> list[dict[str, str]]:
    """One row per variable (name, unit, default, doc): for docs and `--help` output."""
    rows = []
    for field in dataclasses.fields(cls):
        default = "(required)" if field.default is dataclasses.MISSING else repr(field.default)
        rows.append(
            {
                "env": field.metadata["env"],
                "unit": field.metadata["unit"],
                "default": default,
                "doc": field.metadata["doc"],
            }
        )
    return rows
