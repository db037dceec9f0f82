"""The fix a model-missing error prints, worded once: ``./cache-models.sh --model NAME`` for a
model the registry (config/models.toml) knows; for any other hub repo the hub's own download
command, run from the common venv into the project cache. huggingface_hub >= 1 ships that as
``hf download``: ``huggingface-cli`` only says it is deprecated and exits 1."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from shared.paths import PROJECT_ROOT, VENVS_DIR

__all__ = ["cache_model_fix", "hf_program"]


def hf_program() -> str:
    """The common venv's ``hf``, relative to the project root (where the user runs
    ./cache-models.sh)."""
    path = VENVS_DIR / "common" / ("Scripts/hf.exe" if os.name == "nt" else "bin/hf")
    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def cache_model_fix(repo_id: str, hub_cache: Path, name: str | None = None) -> str:
    """``name``: the registry name when the registry lists the model."""
    if name:
        return f"./cache-models.sh --model {name}   (needs network)"
    cache_dir = str(hub_cache) if os.name == "nt" else shlex.quote(str(hub_cache))
    return (f"with network: {hf_program()} download {repo_id} --cache-dir {cache_dir}   (or "
            "add it to config/models.toml, then ./cache-models.sh --model NAME)")
