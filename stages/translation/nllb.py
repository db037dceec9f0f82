"""NLLB-200 through transformers (venv nllb): the Engine of stages/translation/engine.py.

``load(model, device, batch_size)`` opens facebook/nllb-200-* (or any M2M100/NLLB checkpoint)
by hub repo id from $HF_HOME with ``local_files_only`` (a run never downloads), or from a local
folder. ``translate(texts, pair)`` sets the tokenizer's source language, sorts the lines by
token length, runs ``model.generate`` once per batch with the target language's FLORES-200
code forced as the first generated token (transformers 5 has no translation pipeline), and
returns one Translation per line in the order given, with the mean log-probability of the
tokens it chose as the confidence (scored by one teacher-forced pass over the output, not by
generate's output_scores, which holds a 256k-wide row per beam and step).

Torch and transformers are imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

from shared.errors import InputError
from stages.translation.engine import LanguagePair, Translation
from stages.translation.torch_device import (
    chosen_logprobs,
    clean_line,
    device_kind,
    one_line,
    open_seq2seq,
    prepare_device,
)

logger = logging.getLogger(__name__)

NAME = "nllb"
_FLORES = re.compile(r"[a-z]{3}_[A-Z][a-z]{3}")  # hin_Deva, eng_Latn


@dataclass
class NllbEngine:
    """A loaded NLLB model and tokenizer. ``last_token_ids`` holds, for the last ``translate``
    call and in its input order, each line's generated ids (decoder start, the forced
    target-language code, the tokens, end of sentence; padding removed; [] for an empty line):
    what tests and debugging look at to see which language was forced."""

    model: str
    device: str
    batch_size: int
    num_beams: int
    max_new_tokens_ratio: float
    tokenizer: Any = field(repr=False)
    net: Any = field(repr=False)  # the transformers model
    name: str = NAME
    generate_calls: int = 0
    last_token_ids: list[list[int]] = field(default_factory=list, repr=False)

    # -- languages ---------------------------------------------------------------------
    def language_id(self, flores: str) -> int:
        """The token id of a FLORES-200 code; InputError if this model does not know it."""
        token_id = self.tokenizer.convert_tokens_to_ids(flores) if _FLORES.fullmatch(
            flores or "") else None
        if token_id is None or token_id == self.tokenizer.unk_token_id:
            raise InputError(
                f"the nllb model {self.model} does not know the language code {flores!r} "
                "(not one of its FLORES-200 language tokens)",
                fix="use a FLORES-200 code NLLB-200 supports (config/languages.toml), or "
                    "another translation engine (--set translation.engine=...)")
        return int(token_id)

    # -- translating -------------------------------------------------------------------
    @property
    def max_input_tokens(self) -> int:
        """Longest input the model takes; longer lines are cut (with a warning)."""
        limit = getattr(self.net.config, "max_position_embeddings", None) or 1024
        tokenizer_limit = getattr(self.tokenizer, "model_max_length", None) or limit
        return int(min(limit, tokenizer_limit))

    def translate(self, texts: list[str], pair: LanguagePair) -> list[Translation]:
        """One Translation per text, same order; an empty (or blank) text gives ""."""
        target_id = self.language_id(pair.target_flores)
        self.language_id(pair.source_flores)
        self.tokenizer.src_lang = pair.source_flores
        cleaned = [clean_line(t) for t in texts]
        todo = [i for i, t in enumerate(cleaned) if t]
        results = [Translation("", None) for _ in texts]
        ids: list[list[int]] = [[] for _ in texts]
        if todo:
            lengths = self._token_lengths([cleaned[i] for i in todo])
            # longest first: a batch that does not fit in memory fails at once
            order = [todo[k] for k in sorted(range(len(todo)), key=lambda k: -lengths[k])]
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                outputs = self._generate([cleaned[i] for i in batch], target_id)
                for i, (text, confidence, token_ids) in zip(batch, outputs, strict=True):
                    results[i] = Translation(text, confidence)
                    ids[i] = token_ids
        self.last_token_ids = ids
        return results

    def _token_lengths(self, texts: list[str]) -> list[int]:
        lengths = [len(x) for x in self.tokenizer(texts, add_special_tokens=True)["input_ids"]]
        limit = self.max_input_tokens
        for n, length in enumerate(lengths):
            if length > limit:
                logger.warning("line of %d tokens cut to the model's %d (%.40r...): split long "
                               "lines before translating", length, limit, texts[n])
        return lengths

    def _generate(self, texts: list[str], target_id: int) -> list[tuple[str, float | None,
                                                                          list[int]]]:
        import torch

        batch = self.tokenizer(texts, return_tensors="pt", padding=True, truncation=True,
                               max_length=self.max_input_tokens).to(self.net.device)
        longest = int(batch["input_ids"].shape[1])
        max_new = min(self.max_input_tokens,
                      math.ceil(self.max_new_tokens_ratio * longest) + 10)
        with torch.inference_mode():
            sequences = self.net.generate(
                **batch, forced_bos_token_id=target_id, num_beams=self.num_beams,
                max_new_tokens=max_new, do_sample=False)
            self.generate_calls += 1
            logprobs = chosen_logprobs(self.net, batch["input_ids"], batch["attention_mask"],
                                       sequences, self.net.config.vocab_size)
        decoded = self.tokenizer.batch_decode(sequences, skip_special_tokens=True)
        results = []
        for seq, row, text in zip(sequences.cpu().tolist(), logprobs, decoded, strict=True):
            kept = self._strip(seq)
            results.append((one_line(text), _mean_logprob(kept, row), kept))
        return results

    def _strip(self, seq: list[int]) -> list[int]:
        """Generated ids up to and including the first end of sentence after the start."""
        eos = self.tokenizer.eos_token_id
        for n in range(1, len(seq)):
            if seq[n] == eos:
                return seq[:n + 1]
        return seq


def _mean_logprob(kept: list[int], logprobs: list[float]) -> float | None:
    """Mean log-probability of the tokens the model chose, end of sentence included:
    ``logprobs[n]`` scores ``kept[n + 1]``; the forced language code is left out."""
    chosen = [s for s in logprobs[1:len(kept) - 1] if math.isfinite(s)]
    return sum(chosen) / len(chosen) if chosen else None


def load(model: str, device: str, batch_size: int, *, num_beams: int = 4,
         max_new_tokens_ratio: float = 2.0, dtype: str = "auto",
         cpu_threads: int | None = None) -> NllbEngine:
    """Open ``model`` (hub repo id from the cache, offline, or a local folder) on ``device``
    ("cpu", "cuda", "cuda:N", "mps"). ``num_beams``: beam search width (1 = greedy);
    ``max_new_tokens_ratio``: each batch may generate this many tokens per token of its
    longest input (+10); ``dtype``: "auto" = float16 on CUDA, float32 elsewhere;
    ``cpu_threads``: torch threads on CPU (default: the cores this process may use)."""
    if batch_size < 1 or num_beams < 1 or max_new_tokens_ratio <= 0:
        raise InputError(f"nllb: batch_size {batch_size}, num_beams {num_beams} and "
                         f"max_new_tokens_ratio {max_new_tokens_ratio} must be positive",
                         fix="set translation.batch_size / num_beams to 1 or more")
    kind = device_kind(device, NAME)
    started = time.perf_counter()
    prepare_device(kind, cpu_threads)
    tokenizer, net = open_seq2seq(model, device, dtype, NAME)
    logger.info("loaded %s on %s (%s) in %.1fs", model, device, net.dtype,
                time.perf_counter() - started)
    return NllbEngine(model=model, device=device, batch_size=batch_size, num_beams=num_beams,
                      max_new_tokens_ratio=max_new_tokens_ratio, tokenizer=tokenizer, net=net)
