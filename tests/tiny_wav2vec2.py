"""A tiny, randomly initialised wav2vec2 CTC model with a character vocabulary (English
letters, Devanagari, "|" between words), saved with save_pretrained and placed into a test
model cache in the hub layout under ``REPO_ID``, so whisperx's real load_align_model() and
align() run offline against it. Its alignments are arbitrary but valid CTC paths.

From the tests (common venv) call ``install(hardware_cache)``: it runs this file inside the
whisperx venv through the EnvironmentManager, with the cache paths of that hardware cache.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO_ID = "subpipe-tests/tiny-wav2vec2-ctc"
# CTC blank first (whisperx looks for "<pad>"), then the word delimiter and the characters
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "|"]
LATIN = list("abcdefghijklmnopqrstuvwxyz'")
DEVANAGARI = [chr(c) for c in range(0x0901, 0x0964) if chr(c).isprintable()]  # not the dandas
VOCAB = SPECIALS + LATIN + DEVANAGARI
CONFIG = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
          "intermediate_size": 37, "conv_dim": [16] * 7, "num_conv_pos_embeddings": 16,
          "num_conv_pos_embedding_groups": 2, "do_stable_layer_norm": False,
          "feat_extract_norm": "group", "pad_token_id": 0}


def install(hardware, *, seed: int = 0) -> str:
    """Build the tiny model in the whisperx venv and place it into ``hardware``'s HF cache.
    Returns what the script printed (the snapshot folder)."""
    from shared.environment_manager import EnvironmentManager

    manager = EnvironmentManager(hardware)
    with tempfile.TemporaryDirectory() as tmp:
        result = manager.run_in_environment(
            "whisperx", [str(Path(__file__).resolve()), "--seed", str(seed),
                         "--hub", str(hardware.cache.hf_hub_cache)],
            log_paths=[Path(tmp) / "tiny_wav2vec2.log"], timeout=300)
    if not result.ok:
        raise RuntimeError("building the tiny wav2vec2 failed:\n" + "\n".join(result.tail))
    return result.tail[-1] if result.tail else ""


# -- inside the whisperx venv -------------------------------------------------------------
def build(folder: Path, seed: int) -> None:
    import torch
    from transformers import (
        Wav2Vec2Config,
        Wav2Vec2CTCTokenizer,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2ForCTC,
        Wav2Vec2Processor,
    )

    vocab_file = folder / "vocab.json"
    vocab_file.write_text(json.dumps({ch: i for i, ch in enumerate(VOCAB)}, ensure_ascii=False),
                          encoding="utf-8")
    tokenizer = Wav2Vec2CTCTokenizer(str(vocab_file), unk_token="<unk>", pad_token="<pad>",
                                     word_delimiter_token="|")
    extractor = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                                         do_normalize=True, return_attention_mask=False)
    Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(folder)
    torch.manual_seed(seed)
    config = Wav2Vec2Config(vocab_size=len(VOCAB), **CONFIG)
    Wav2Vec2ForCTC(config).save_pretrained(folder, safe_serialization=True)


def main() -> int:
    from shared import hf_cache

    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hub", type=Path, required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        build(folder, args.seed)
        snapshot = hf_cache.install_folder(args.hub, REPO_ID, folder)
    sys.stdout.write(f"tiny wav2vec2 at {snapshot}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
