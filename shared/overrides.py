"""`--set stage.param=value`: parsed and checked against the stage's Params (prepare and
run share this)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from shared.config_files import format_validation_error
from shared.errors import InputError
from shared.stage import load_spec


def parse_set(item: str) -> tuple[str, str, Any]:
    """'asr.beam_size=3' -> ('asr', 'beam_size', 3); values are JSON when they parse as JSON."""
    key, sep, raw = item.partition("=")
    stage, dot, param = key.strip().partition(".")
    if not sep or not dot or not stage or not param:
        raise InputError(f"--set '{item}' is malformed",
                         fix="write --set stage.param=value, e.g. --set asr.beam_size=3")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return stage, param, value


def parse_sets(sets: list[str]) -> dict[str, dict[str, Any]]:
    """Every --set as stage -> param -> value (the last one of a param wins)."""
    overrides: dict[str, dict[str, Any]] = {}
    for item in sets:
        stage, param, value = parse_set(item)
        overrides.setdefault(stage, {})[param] = value
    return overrides


def validate_overrides(sets: list[str], stage_names: list[str]) -> dict[str, dict[str, Any]]:
    """Parse and check every --set: a stage of the workflow, a parameter it has, a value of
    the parameter's type."""
    for item in sets:
        stage = parse_set(item)[0]
        if stage not in stage_names:
            raise InputError(f"--set {item}: this workflow has no stage '{stage}'",
                             fix=f"use one of: {', '.join(dict.fromkeys(stage_names))}")
    overrides = parse_sets(sets)
    for stage, values in overrides.items():
        params_model = load_spec(stage).params
        unknown = [p for p in values if p not in params_model.model_fields]
        if unknown:
            raise InputError(f"--set: stage {stage} has no parameter {', '.join(unknown)}",
                             fix=f"{stage} parameters: {', '.join(params_model.model_fields)}")
        try:
            params_model.model_validate(values)
        except ValidationError as e:
            raise InputError(f"--set: invalid value for {stage}:\n{format_validation_error(e)}",
                             fix="check the value's type (numbers, true/false, JSON lists)") from e
    return overrides
