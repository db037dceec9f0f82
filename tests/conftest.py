"""Fixtures: a temporary model cache in the real layout (with the embedded model assembled
from its PyPI parts) and a hardware_cache.json pointing at it, used by every test that runs
the pipeline, so tests never touch the project's own .cache/ or config/hardware_cache.json.
Under pytest-xdist (scripts/test.sh), the hooks below apply tests/workers.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import workers
from tests.helpers import make_model_cache, speech_dir


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    workers.group_modules(config, items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    exclusive = item.get_closest_marker("alone") is not None
    with workers.hold(workers.lock_folder(item.config), exclusive):
        return (yield)


@pytest.fixture(scope="session")
def test_cache(tmp_path_factory):
    from shared.paths import HARDWARE_CACHE_ENV

    cache, path = make_model_cache(tmp_path_factory.mktemp("cache"))
    os.environ[HARDWARE_CACHE_ENV] = str(path)
    return cache


@pytest.fixture(scope="session")
def speech() -> Path:
    return speech_dir()


@pytest.fixture
def jobs_root(tmp_path) -> Path:
    return tmp_path / "out"
