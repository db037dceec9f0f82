"""Fixtures: a temporary model cache in the real layout (with the embedded model assembled
from its PyPI parts) and a hardware_cache.json pointing at it, used by every test that runs
the pipeline, so tests never touch the project's own .cache/ or config/hardware_cache.json."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import speech_dir


@pytest.fixture(scope="session")
def test_cache(tmp_path_factory):
    from shared import embedded_model, hardware
    from shared.env_registry import load_registry
    from shared.hardware_cache import build
    from shared.model_registry import load_models
    from shared.paths import HARDWARE_CACHE_ENV
    from shared.workflows import load_workflows

    base = tmp_path_factory.mktemp("cache")
    cache = build(hardware.probe(), load_registry(), load_models(), load_workflows(),
                  cache_base=base / ".cache")
    cache.cache.create()
    embedded_model.install(cache.cache.hf_hub_cache)
    path = base / "hardware_cache.json"
    cache.save(path)
    os.environ[HARDWARE_CACHE_ENV] = str(path)
    return cache


@pytest.fixture(scope="session")
def speech() -> Path:
    return speech_dir()


@pytest.fixture
def jobs_root(tmp_path) -> Path:
    return tmp_path / "out"
