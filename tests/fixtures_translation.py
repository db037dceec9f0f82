"""Fixtures the translation tests share. Import the ones a module uses:

    from tests.fixtures_translation import tiny_nllb_hub  # noqa: F401 (a fixture)

    def test_something(tiny_nllb_hub):  # noqa: F811 (ruff sees the argument as a redefinition)

``tiny_nllb_hub`` builds the tiny NLLB (tests/tiny_nllb.py) once per test session into a hub
folder of its own; put it into a test's model cache with
``tiny_nllb.copy_repo(tiny_nllb_hub, cache.cache.hf_hub_cache)``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import tiny_nllb


@pytest.fixture(scope="session")
def tiny_nllb_hub(tmp_path_factory) -> Path:
    """An HF hub folder (``<HF_HOME>/hub``) holding only the tiny random NLLB, as
    facebook/nllb-200-distilled-600M; built in the nllb venv (~5 s)."""
    hub = tmp_path_factory.mktemp("tiny-nllb") / "hub"
    tiny_nllb.install(hub)
    return hub
