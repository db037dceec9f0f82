"""Fixture: a temporary model cache holding the tiny IndicTrans2 stand-ins
(tests/tiny_indictrans2.py), built once per session inside the indictrans2 venv through the
EnvironmentManager, and a hardware cache pointing at it.

Use it from a test module with ``from tests.fixtures_indictrans2 import tiny_indictrans2_hub``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import tiny_indictrans2
from tests.helpers import make_model_cache


@dataclass(frozen=True)
class TinyIndicTrans2Hub:
    hardware: object  # shared.hardware_cache.HardwareCache whose model cache holds the repos
    hardware_json: Path  # its hardware_cache.json (for SUBPIPE_HARDWARE_CACHE)
    hf_home: Path
    hub: Path  # $HF_HOME/hub
    repos: tuple[str, ...]  # ai4bharat/indictrans2-indic-en-1B, -en-indic-1B


@pytest.fixture(scope="session")
def tiny_indictrans2_hub(tmp_path_factory) -> TinyIndicTrans2Hub:
    from shared import hf_cache
    from shared.environment_manager import EnvironmentManager

    folder = tmp_path_factory.mktemp("indictrans2")
    hardware, path = make_model_cache(folder, embedded=False)
    hub = Path(hardware.cache.hf_hub_cache)
    result = EnvironmentManager(hardware).run_in_environment(
        "indictrans2", ["-m", "tests.tiny_indictrans2", str(hub)],
        log_paths=[folder / "tiny_indictrans2.log"], timeout=600)
    assert result.ok, "building the tiny IndicTrans2 models failed:\n" + "\n".join(result.tail)
    for repo in tiny_indictrans2.REPOS:
        assert hf_cache.is_cached(hub, repo), f"{repo} is not in {hub}"
    return TinyIndicTrans2Hub(hardware=hardware, hardware_json=path,
                              hf_home=Path(hardware.cache.hf_home), hub=hub,
                              repos=tiny_indictrans2.REPOS)
