"""A tiny, randomly initialised NLLB-200 (M2M100 architecture) with a small trained
sentencepiece BPE vocabulary plus the 202 FLORES-200 language tokens, placed into an HF hub
folder as ``facebook/nllb-200-distilled-600M``, so the nllb engine's real loading code
(AutoTokenizer / AutoModelForSeq2SeqLM by repo id, offline) runs against it. Its translations
are nonsense, but they are generated the real way: the forced language token comes first.

The tokenizer: sentencepiece trains a 256-piece BPE on a few hundred generated English and
Devanagari lines; its pieces (with their scores, for the merges) become an NllbTokenizer in
the fairseq layout (<s> 0, <pad> 1, </s> 2, <unk> 3, pieces, <mask>, language codes), saved
as tokenizer.json. transformers 5 can only convert the .model file itself with protobuf,
which the nllb venv does not have (the real repo ships tokenizer.json too); the .model file
is copied in anyway, like the real repo's sentencepiece.bpe.model. ~0.5 MB, ~5 s to build.

From the tests (common venv) call ``install(hub)``: it runs ``python -m tests.tiny_nllb HUB``
in the nllb venv. ``copy_repo`` copies a built entry into another cache (a session's build
into a test's model cache, in milliseconds).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPO_ID = "facebook/nllb-200-distilled-600M"
VOCAB_SIZE = 256
# the shape of facebook/nllb-200-distilled-600M's config.json, shrunk
CONFIG = {"d_model": 32, "encoder_layers": 1, "decoder_layers": 1,
          "encoder_attention_heads": 2, "decoder_attention_heads": 2, "encoder_ffn_dim": 64,
          "decoder_ffn_dim": 64, "max_position_embeddings": 256, "pad_token_id": 1,
          "bos_token_id": 0, "eos_token_id": 2, "decoder_start_token_id": 2,
          "scale_embedding": True}
ENGLISH = ("the quick brown fox jumps over a lazy dog while my friend asks what you can do "
           "for your country and so we go home now").split()
HINDI = ("नमस्ते दोस्तों आज हम दो बातें करेंगे आप कैसे हैं मैं ठीक हूँ यह एक परीक्षण वाक्य है "
         "क्या तुम कल आओगे हाँ ज़रूर").split()


def install(hub: Path, *, seed: int = 0, repo_id: str = REPO_ID, timeout: float = 300) -> Path:
    """Build the tiny model in the nllb venv and place it into the hub folder ``hub``.
    Returns the snapshot folder."""
    from shared import venvs
    from shared.env_registry import load_registry
    from shared.paths import venv_python

    spec = load_registry().get("nllb")
    state, why = venvs.venv_state(spec.venv_dir, spec.lock_file)
    if state != "ready":
        raise RuntimeError(f"the nllb venv is not usable ({why}): ./bootstrap.sh --envs nllb")
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env.update({"PYTHONPATH": str(ROOT), "PYTHONNOUSERSITE": "1", "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(Path(hub).parent),
                "HF_HUB_CACHE": str(hub), "TOKENIZERS_PARALLELISM": "false",
                "HF_HUB_DISABLE_TELEMETRY": "1"})
    proc = subprocess.run([str(venv_python(spec.venv_dir)), "-m", "tests.tiny_nllb",
                           str(hub), "--seed", str(seed), "--repo-id", repo_id],
                          capture_output=True, text=True, env=env, cwd=str(ROOT),
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"building the tiny nllb failed:\n{proc.stdout}\n{proc.stderr}")
    return Path(proc.stdout.strip().splitlines()[-1])


def copy_repo(source_hub: Path, target_hub: Path, repo_id: str = REPO_ID) -> Path:
    """Copy ``repo_id``'s cache entry (blobs, symlinks, refs) from one hub folder to another."""
    from shared import hf_cache

    target = hf_cache.repo_folder(target_hub, repo_id)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(hf_cache.repo_folder(source_hub, repo_id), target, symlinks=True)
    return target


def writing_only(snapshot: Path, folder: Path, script: str) -> Path:
    """The tiny NLLB (``snapshot``, its hub snapshot) copied into ``folder``, a plain model
    folder (what --set translation.model=FOLDER loads), whose generation config suppresses
    every vocabulary piece holding a letter outside ``script`` (ISO 15924; transformers'
    ``suppress_tokens``): the real engine then writes only that script whatever language it
    forces, as a model answering a Hindi-target line in English does. The weights stay the
    random ones: the words are nonsense, the script is certain."""
    from shared.text_script import script_share

    shutil.copytree(snapshot, folder)  # the symlinks' files, a folder of our own
    tokenizer = json.loads((folder / "tokenizer.json").read_text("utf-8"))
    off = [i for piece, i in tokenizer["model"]["vocab"].items()
           if any(ch.isalpha() for ch in piece) and script_share(piece, script) < 1.0]
    config_file = folder / "generation_config.json"
    config = json.loads(config_file.read_text("utf-8")) if config_file.exists() else {}
    config["suppress_tokens"] = sorted(off)
    config_file.unlink(missing_ok=True)  # a copy of the blob: replace, never write through
    config_file.write_text(json.dumps(config), "utf-8")
    return folder


# -- inside the nllb venv -----------------------------------------------------------------
def corpus(seed: int, lines: int = 200) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))
            for words in (ENGLISH, HINDI) for _ in range(lines)]


def build_tokenizer(folder: Path, seed: int):
    import sentencepiece as spm
    from transformers import NllbTokenizer
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES
    from transformers.tokenization_utils_base import generate_merges

    model = io.BytesIO()  # in memory: no temp paths recorded in the model's trainer spec
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus(seed)), model_writer=model, vocab_size=VOCAB_SIZE,
        model_type="bpe", character_coverage=1.0, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        num_threads=1, minloglevel=2)
    (folder / "sentencepiece.bpe.model").write_bytes(model.getvalue())
    sp = spm.SentencePieceProcessor(model_file=str(folder / "sentencepiece.bpe.model"))
    # fairseq layout: the four specials, then the pieces after sentencepiece's unk/bos/eos
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    scores = {}
    for piece_id in range(3, sp.get_piece_size()):
        piece = sp.id_to_piece(piece_id)
        vocab[piece] = len(vocab)
        scores[piece] = sp.get_score(piece_id)
    tokenizer = NllbTokenizer(vocab=vocab, merges=generate_merges(vocab, scores),
                              additional_special_tokens=list(FAIRSEQ_LANGUAGE_CODES),
                              src_lang="eng_Latn", model_max_length=CONFIG[
                                  "max_position_embeddings"])
    tokenizer.save_pretrained(folder)
    return tokenizer


def build(folder: Path, seed: int) -> None:
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    tokenizer = build_tokenizer(folder, seed)
    assert tokenizer.convert_tokens_to_ids("hin_Deva") != tokenizer.unk_token_id
    torch.manual_seed(seed)
    config = M2M100Config(vocab_size=len(tokenizer), **CONFIG)
    M2M100ForConditionalGeneration(config).save_pretrained(folder)


def main() -> int:
    from shared import hf_cache

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("hub", type=Path, help="the HF hub folder ($HF_HOME/hub)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repo-id", default=REPO_ID)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        build(folder, args.seed)
        files = sorted(p.name for p in folder.iterdir() if p.is_file())
        snapshot = hf_cache.install_folder(args.hub, args.repo_id, folder)
    sys.stdout.write(json.dumps({"files": files}) + "\n")
    sys.stdout.write(f"{snapshot}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
