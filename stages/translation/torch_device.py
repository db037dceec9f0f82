"""What both torch engines (nllb, indictrans2) share: the text a model sees and gives back,
and choosing the device, dtype and CPU threads. Torch is imported inside the functions."""

from __future__ import annotations

import os
import re
import unicodedata

from shared.errors import InputError

DEVICES = ("cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "float16", "bfloat16")
_SPACES = re.compile(r"\s+")


def clean_line(text: str) -> str:
    """The text the model sees: control characters (C0/C1: NUL, BEL, a stray CR, tabs) become
    spaces and runs of white space one space; format characters (ZWJ/ZWNJ, which Indic scripts
    need) and emoji are kept."""
    return _SPACES.sub(" ", "".join(" " if unicodedata.category(ch) == "Cc" else ch
                                    for ch in text)).strip()


def one_line(text: str) -> str:
    """A model output as one subtitle line (no newlines, no doubled spaces)."""
    return _SPACES.sub(" ", text).strip()


def device_kind(device: str, engine: str) -> str:
    """"cpu", "cuda" or "mps" for a device name ("cuda:1" -> "cuda"); InputError otherwise."""
    kind = device.split(":", 1)[0]
    if kind not in DEVICES:
        raise InputError(f"unknown device {device!r} for the {engine} engine",
                         fix=f"use one of: {', '.join(DEVICES)} (cuda:N for a given GPU)")
    return kind


def torch_dtype(dtype: str, kind: str, engine: str):
    """The torch dtype: "auto" = float16 on CUDA, float32 elsewhere."""
    import torch

    if dtype not in DTYPES:
        raise InputError(f"unknown dtype {dtype!r} for the {engine} engine",
                         fix=f"use one of: {', '.join(DTYPES)}")
    if dtype == "auto":
        return torch.float16 if kind == "cuda" else torch.float32
    return getattr(torch, dtype)


def prepare_device(kind: str, cpu_threads: int | None) -> None:
    """CPU: set torch's threads (default: the cores this process may use); CUDA / MPS: fail
    clearly when torch cannot see the device."""
    import torch

    if kind == "cpu":
        threads = cpu_threads or (len(os.sched_getaffinity(0))
                                  if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
        torch.set_num_threads(threads)
    if kind == "cuda" and not torch.cuda.is_available():
        raise InputError("device cuda asked for, but torch sees no CUDA device",
                         fix="use --set translation.device=cpu, or check the GPU driver")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise InputError("device mps asked for, but torch has no MPS backend here",
                         fix="use --set translation.device=cpu")


SCORE_BUDGET_BYTES = 256 * 2**20  # logits held at once while scoring the chosen tokens


def chosen_logprobs(net, input_ids, attention_mask, sequences, vocab_size: int
                    ) -> list[list[float]]:
    """log P(sequences[:, n + 1] | source, sequences[:, :n + 1]) by one teacher-forced pass of
    an encoder-decoder over its own output, a few rows at a time. generate's output_scores
    would keep a vocabulary-wide row per beam and step (NLLB: 256k entries, IndicTrans2
    en-indic: 122k; batch 32 x 4 beams x 50 steps = GBs); this keeps at most
    SCORE_BUDGET_BYTES of logits at once."""
    from transformers.modeling_outputs import BaseModelOutput

    encoded = net.get_encoder()(input_ids=input_ids, attention_mask=attention_mask)
    steps = max(1, sequences.shape[1] - 1)
    per_row = steps * int(vocab_size) * 8  # logits + float32 log-softmax
    chunk = max(1, SCORE_BUDGET_BYTES // per_row)
    rows: list[list[float]] = []
    for start in range(0, sequences.shape[0], chunk):
        part = slice(start, start + chunk)
        logits = net(encoder_outputs=BaseModelOutput(
                         last_hidden_state=encoded.last_hidden_state[part]),
                     attention_mask=attention_mask[part],
                     decoder_input_ids=sequences[part, :-1], use_cache=False).logits
        chosen = logits.float().log_softmax(-1).gather(
            -1, sequences[part, 1:].unsqueeze(-1)).squeeze(-1)
        rows.extend(chosen.cpu().tolist())
    return rows


CACHE_COMMAND = "./cache-models.sh --stage translation"


def open_seq2seq(model: str, device: str, dtype: str, engine: str, *,
                 remote_code: bool = False, dtype_argument: str = "dtype"):
    """(tokenizer, model) of a hub repo id from the cache, offline, or of a local folder,
    on ``device`` in eval mode; ModelMissingError naming cache-models if it does not load.
    ``dtype_argument``: "torch_dtype" on transformers 4.x, "dtype" on 5.x."""
    from pathlib import Path

    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from shared.errors import ModelMissingError

    kind = device_kind(device, engine)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=remote_code,
                                                  local_files_only=True)
        net = AutoModelForSeq2SeqLM.from_pretrained(
            model, trust_remote_code=remote_code, local_files_only=True,
            **{dtype_argument: torch_dtype(dtype, kind, engine)})
    except OSError as e:
        where = model if Path(model).is_dir() else \
            f"{model} in {os.environ.get('HF_HUB_CACHE', 'the HF cache')}"
        raise ModelMissingError(f"the {engine} model {where} does not load offline: {e}",
                                fix=CACHE_COMMAND) from e
    except Exception as e:
        # damaged weights (a cut download, a disk error): safetensors' own error type,
        # matched by name so this module needs no import of the package transformers uses
        if type(e).__name__ != "SafetensorError":
            raise
        fix = (f"copy the model into {model} again" if Path(model).is_dir() else
               f"fetch it again: {CACHE_COMMAND}")
        raise ModelMissingError(f"the {engine} model {model} is damaged: {e}", fix=fix) from e
    return tokenizer, net.to(device).eval()
