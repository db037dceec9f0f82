"""The pyannote segmentation checkpoint (registry model ``pyannote-segmentation``, hub repo
pyannote/segmentation), installed into the project's HF cache from the copy the whisperx
wheel ships, so the vad stage's pyannote backend loads it by repo id, offline, in the
pyannote venv, with no hub token.

WhisperX's author re-hosted the hub checkpoint unchanged "to avoid the requirement of [a]
huggingface token" (github.com/m-bain/whisperX/issues/201); whisperx 3.8.6 ships it as
whisperx/assets/pytorch_model.bin (17,719,103 bytes, sha256 below). The hub repo itself is
gated (accept its conditions, then HF_TOKEN): cache-models downloads it from there only when
no whisperx venv is built."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from shared import hf_cache
from shared.errors import PipelineError

logger = logging.getLogger(__name__)

REPO_ID = "pyannote/segmentation"
FILE = "pytorch_model.bin"
SHA256 = "0b5b3216d60a2d32fc086b47ea8c67589aaeb26b7e07fcbe620d6d0b83e209ea"
# a revision derived from the checkpoint (the hub commit is not known offline): the same
# bytes always give the same revision, so the vad fingerprint is stable across installs
REVISION = hashlib.sha1(f"{FILE}:{SHA256}".encode()).hexdigest()


def wheel_copy(venv: Path) -> Path | None:
    """whisperx/assets/pytorch_model.bin inside a built whisperx venv, or None."""
    for site in sorted(Path(venv).glob("lib*/**/site-packages")):
        path = site / "whisperx" / "assets" / FILE
        if path.is_file():
            return path
    return None


def is_installed(hub_cache: Path) -> bool:
    return hf_cache.is_cached(hub_cache, REPO_ID)


def install(hub_cache: Path, source: Path) -> Path:
    """Check ``source`` is the known checkpoint and place it into the cache as REPO_ID.
    Returns the snapshot folder."""
    digest = hf_cache.sha256_file(source)
    if digest != SHA256:
        raise PipelineError(f"{source} has sha256 {digest}, not the pyannote segmentation "
                            f"checkpoint ({SHA256[:12]}...)",
                            fix="./bootstrap.sh --force --envs whisperx")
    snap = hf_cache.install_snapshot(hub_cache, REPO_ID, REVISION, {FILE: source})
    logger.info("%s installed from %s into %s", REPO_ID, source, snap)
    return snap
