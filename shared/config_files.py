"""Read the declarative files in config/ into validated pydantic models, with errors that
point at the file and field that is wrong."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

Model = TypeVar("Model", bound=BaseModel)


def load_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as e:
        raise ConfigError(
            f"config file {path} is missing", fix="restore it with `git checkout -- config/`"
        ) from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}", fix=f"correct {path}") from e


def format_validation_error(error: ValidationError) -> str:
    """One line per problem: the dotted field path and what is wrong with it."""
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  {where}: {item['msg']}")
    return "\n".join(lines)


def validate(model: type[Model], data: Any, source: Path | str) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(
            f"{source} is invalid:\n{format_validation_error(e)}", fix=f"correct {source}"
        ) from e
