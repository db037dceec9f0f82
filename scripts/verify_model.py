"""Load one model offline inside its own venv (run by cache-models --verify through the
EnvironmentManager, which sets HF_HUB_OFFLINE and the cache paths). Prints one line."""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path


def load(loader: str, repo: str | None, package: str | None, name: str) -> str:
    if loader == "faster_whisper":
        from faster_whisper import WhisperModel

        model = WhisperModel(repo, device="cpu", compute_type="int8", local_files_only=True)
        return f"{'multilingual' if model.model.is_multilingual else 'english-only'} whisper"
    if loader == "mlx_whisper":
        from huggingface_hub import snapshot_download
        from mlx_whisper.load_models import load_model

        load_model(snapshot_download(repo, local_files_only=True))
        return "mlx whisper"
    if loader == "demucs":
        from demucs.pretrained import get_model

        model = get_model(name)
        return f"demucs {type(model).__name__}, sources {getattr(model, 'sources', '?')}"
    if loader == "transformers_seq2seq":
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        AutoTokenizer.from_pretrained(repo, local_files_only=True, trust_remote_code=True)
        model = AutoModelForSeq2SeqLM.from_pretrained(repo, local_files_only=True,
                                                      trust_remote_code=True)
        return f"{type(model).__name__}"
    if loader == "wav2vec2_ctc":
        from transformers import Wav2Vec2ForCTC, Wav2Vec2Processor

        Wav2Vec2Processor.from_pretrained(repo, local_files_only=True)
        Wav2Vec2ForCTC.from_pretrained(repo, local_files_only=True)
        return "wav2vec2 CTC"
    if loader == "pyannote":
        from pyannote.audio import Model

        model = Model.from_pretrained(repo)
        return f"pyannote {type(model).__name__}"
    if loader == "files":
        spec = importlib.util.find_spec(package or "")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"package {package} is not installed")
        root = Path(next(iter(spec.submodule_search_locations)))
        files = [p for p in root.rglob("*") if p.suffix in (".bin", ".pt", ".ckpt", ".onnx")]
        if not files:
            raise RuntimeError(f"no model files inside {root}")
        return f"{len(files)} model file(s) in {package}"
    raise RuntimeError(f"unknown loader {loader}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loader", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--repo")
    parser.add_argument("--package")
    args = parser.parse_args()
    started = time.monotonic()
    try:
        what = load(args.loader, args.repo, args.package, args.name)
    except Exception as e:  # noqa: BLE001 - the caller reports the last line
        sys.stderr.write(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}\n")
        return 1
    sys.stdout.write(f"loaded offline in {time.monotonic() - started:.1f}s: {what}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
