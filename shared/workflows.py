"""Workflows (config/workflows.toml): ordered stages, fanned out per language."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from shared.config_files import load_toml, validate
from shared.errors import InputError
from shared.paths import CONFIG_DIR

WORKFLOWS_FILE = CONFIG_DIR / "workflows.toml"
SOURCE = "source"


FEATURES = ("separation", "vad", "llm")


class WorkflowStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: str
    per_language: Literal["source", "targets", "all"] | None = None
    when: Literal["separation", "vad", "llm"] | None = None  # included only if the job asks for it

    def included(self, features: Iterable[str]) -> bool:
        return self.when is None or self.when in set(features)


class Workflow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ""
    description: str
    needs_targets: bool = False
    stages: list[WorkflowStep]

    def stage_names(self, features: Iterable[str] | None = None) -> list[str]:
        """Stage names in order; with ``features``, only the steps a job with them runs."""
        return [step.stage for step in self.stages
                if features is None or step.included(features)]

    def missing_stages(self, features: Iterable[str] = ()) -> list[str]:
        """Stages a job with ``features`` needs that this version has no module for yet."""
        return [s for s in self.stage_names(features)
                if importlib.util.find_spec(f"stages.{s}") is None]


class FeatureSwitch(BaseModel):
    """A setting that switches an optional step on: `--set translation.engine=llm`."""

    model_config = ConfigDict(extra="forbid")

    setting: str  # "<stage>.<param>"
    values: list[Any]


class WorkflowRegistry(BaseModel):
    workflows: dict[str, Workflow]
    features: dict[Literal["separation", "vad", "llm"], FeatureSwitch] = {}

    def switched_on(self, overrides: dict[str, dict[str, Any]]) -> list[str]:
        """The optional steps a job's settings (stage -> param -> value) switch on."""
        found = []
        for feature, switch in self.features.items():
            stage, _, param = switch.setting.partition(".")
            if overrides.get(stage, {}).get(param) in switch.values:
                found.append(feature)
        return found

    def get(self, name: str) -> Workflow:
        try:
            return self.workflows[name]
        except KeyError:
            raise InputError(f"unknown workflow '{name}'",
                             fix=f"use one of: {', '.join(self.workflows)}") from None


class StageInstance(BaseModel):
    """One stage run within a job: `asr`, or `subtitles:source`, `translation:en`."""

    model_config = ConfigDict(extra="forbid")

    key: str
    stage: str
    lang: str | None = None
    index: int
    dir: str  # relative to the job folder


def expand(workflow: Workflow, targets: list[str],
           features: Iterable[str] = ()) -> list[StageInstance]:
    instances: list[StageInstance] = []
    for step in workflow.stages:
        if not step.included(features):
            continue
        if step.per_language is None:
            langs: list[str | None] = [None]
        elif step.per_language == "source":
            langs = [SOURCE]
        elif step.per_language == "targets":
            langs = list(targets)
        else:
            langs = [SOURCE, *targets]
        for lang in langs:
            index = len(instances) + 1
            key = step.stage if lang is None else f"{step.stage}:{lang}"
            suffix = "" if lang is None else f"_{lang}"
            instances.append(StageInstance(key=key, stage=step.stage, lang=lang, index=index,
                                           dir=f"stages/{index:02d}_{step.stage}{suffix}"))
    return instances


@cache
def load_workflows() -> WorkflowRegistry:
    data = load_toml(WORKFLOWS_FILE)
    for name, entry in data.get("workflows", {}).items():
        if isinstance(entry, dict):
            entry["name"] = name
    return validate(WorkflowRegistry, data, WORKFLOWS_FILE)
