"""A tiny, randomly initialised HTDemucs placed into a test model cache exactly where demucs 4.1
looks for "htdemucs", so the stage's real loading code runs offline against it.

demucs.pretrained.get_model("htdemucs") looks in two places, in this order:

  hf      the HF hub cache: adefossez/HTDemucs with htdemucs.yaml ("models: ['<sig>']") and
          <sig>.safetensors (the state as tensors; class, args and kwargs as JSON metadata),
          read by demucs.hf.get_hf_model (what ./cache-models.sh downloads)
  torch   the legacy checkpoint $TORCH_HOME/hub/checkpoints/955717e8-8726e21a.th (the file
          name demucs/remote/files.txt gives that signature; torch.hub loads a file already
          there without checking the hash in its name): torch.save({klass, args, kwargs, state})

From the tests (common venv) call ``install(hardware_cache)``: it runs this file inside the
demucs venv through the EnvironmentManager, with the cache paths of that hardware cache.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

NAME = "htdemucs"
REPO_ID = "adefossez/HTDemucs"
LEGACY_CHECKPOINT = "955717e8-8726e21a.th"
SOURCES = ["drums", "bass", "other", "vocals"]
# ~105k parameters; depth 4 keeps it fast (depth 2 was 4x slower), segment 4 s
KWARGS = {"sources": SOURCES, "channels": 4, "depth": 4, "nfft": 4096, "t_layers": 1,
          "t_heads": 2, "dconv_comp": 2, "samplerate": 44100, "segment": 4}


def install(hardware, *, layout: str = "hf", seed: int = 0) -> str:
    """Build the tiny model in the demucs venv and place it into ``hardware``'s cache.
    Returns what the script printed (the files it wrote)."""
    from shared.environment_manager import EnvironmentManager

    manager = EnvironmentManager(hardware)
    with tempfile.TemporaryDirectory() as tmp:
        result = manager.run_in_environment(
            "demucs", [str(Path(__file__).resolve()), "--layout", layout, "--seed", str(seed),
                       "--hub", str(hardware.cache.hf_hub_cache),
                       "--torch-home", str(hardware.cache.torch_home)],
            log_paths=[Path(tmp) / "tiny_demucs.log"], timeout=300)
    if not result.ok:
        raise RuntimeError("building the tiny demucs failed:\n" + "\n".join(result.tail))
    return result.tail[-1] if result.tail else ""


def remove(hardware) -> None:
    """Take every copy of the tiny model out of ``hardware``'s cache (both layouts)."""
    import shutil

    from shared import hf_cache

    shutil.rmtree(hf_cache.repo_folder(hardware.cache.hf_hub_cache, REPO_ID), ignore_errors=True)
    (hardware.cache.torch_home / "hub" / "checkpoints" / LEGACY_CHECKPOINT).unlink(
        missing_ok=True)


# -- inside the demucs venv ---------------------------------------------------------------
def _build(seed: int):
    import torch
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(seed)
    model = HTDemucs(**KWARGS)
    return model, {k: v.detach().contiguous() for k, v in model.state_dict().items()}


def _write_hf(hub: Path, seed: int) -> Path:
    from safetensors.torch import save_file

    from shared import hf_cache

    model, state = _build(seed)
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "weights.safetensors"
        klass = f"{type(model).__module__}.{type(model).__name__}"
        save_file(state, str(weights), metadata={"klass": klass, "args": "[]",
                                                 "kwargs": json.dumps(KWARGS)})
        sig = hashlib.sha256(weights.read_bytes()).hexdigest()[:8]
        yaml_file = Path(tmp) / f"{NAME}.yaml"
        yaml_file.write_text(f"models: ['{sig}']\n", encoding="utf-8")
        # a commit-like revision that changes whenever the weights do
        revision = hashlib.sha1(weights.read_bytes() + yaml_file.read_bytes()).hexdigest()
        return hf_cache.install_snapshot(hub, REPO_ID, revision, {
            f"{NAME}.yaml": yaml_file, f"{sig}.safetensors": weights})


def _write_torch(torch_home: Path, seed: int) -> Path:
    import torch

    model, state = _build(seed)
    target = torch_home / "hub" / "checkpoints" / LEGACY_CHECKPOINT
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"klass": type(model), "args": [], "kwargs": dict(KWARGS), "state": state},
               str(target))
    return target


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layout", choices=("hf", "torch"), default="hf")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hub", type=Path, required=True)
    parser.add_argument("--torch-home", type=Path, required=True)
    args = parser.parse_args()
    written = (_write_hf(args.hub, args.seed) if args.layout == "hf"
               else _write_torch(args.torch_home, args.seed))
    sys.stdout.write(f"tiny demucs ({args.layout}) at {written}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
