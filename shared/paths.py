"""Where the project keeps its files: one place for every well-known path."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"
ENV_PROJECTS_DIR = CONFIG_DIR / "envs"
VENVS_DIR = PROJECT_ROOT / ".venvs"
DEFAULT_CACHE_DIR = PROJECT_ROOT / ".cache"
DEFAULT_JOBS_ROOT = PROJECT_ROOT / "out"

# Environment variable that points the CLI at another hardware cache (tests, several setups).
HARDWARE_CACHE_ENV = "SUBPIPE_HARDWARE_CACHE"


def hardware_cache_path() -> Path:
    """The hardware_cache.json in use: $SUBPIPE_HARDWARE_CACHE or config/hardware_cache.json."""
    override = os.environ.get(HARDWARE_CACHE_ENV)
    return Path(override) if override else CONFIG_DIR / "hardware_cache.json"


def venv_python(venv_dir: Path) -> Path:
    """The interpreter inside a virtualenv, on POSIX or Windows."""
    if os.name == "nt":
        return venv_dir / "Scripts" / "python.exe"
    return venv_dir / "bin" / "python"
