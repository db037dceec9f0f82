"""IndicTrans2 through transformers' remote code (venv indictrans2): the Engine of
stages/translation/engine.py.

``load(model, device, batch_size)`` opens an ai4bharat/indictrans2-* repo (indic-en, en-indic,
indic-indic; 1B or distilled 200M) by hub repo id from $HF_HOME with ``local_files_only`` (a run
never downloads), or a local folder, with ``trust_remote_code``: the model's configuration,
modelling and tokenizer code come with the repo. ``translate(texts, pair)`` sorts the lines by
length and, batch by batch, runs IndicTransToolkit's IndicProcessor.preprocess_batch (normalise,
tokenise, placeholders for URLs / e-mails / numbers, "src_tag tgt_tag text"), the tokenizer,
``model.generate``, the tokenizer's target-side decode and IndicProcessor.postprocess_batch
(placeholders back, detokenise, script). The processor keeps the placeholder maps of a batch in
a queue between the two calls, so each batch is post-processed before the next is
pre-processed. One Translation per line comes back, in the order given, with the mean
log-probability of the chosen tokens as the confidence when the model can score its output.

Torch, transformers and the toolkit are imported inside the functions: importing this module is
cheap.
"""

from __future__ import annotations

import logging
import math
import time
import unicodedata
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

NAME = "indictrans2"
# The language tags IndicTrans2's tokenizer and IndicProcessor know (FLORES-200 style)
LANGUAGES = frozenset({
    "asm_Beng", "awa_Deva", "ben_Beng", "bho_Deva", "brx_Deva", "doi_Deva", "eng_Latn",
    "gom_Deva", "gon_Deva", "guj_Gujr", "hin_Deva", "hne_Deva", "kan_Knda", "kas_Arab",
    "kas_Deva", "kha_Latn", "lus_Latn", "mag_Deva", "mai_Deva", "mal_Mlym", "mar_Deva",
    "mni_Beng", "mni_Mtei", "npi_Deva", "ory_Orya", "pan_Guru", "san_Deva", "sat_Olck",
    "snd_Arab", "snd_Deva", "tam_Taml", "tel_Telu", "urd_Arab", "unr_Deva",
})
# What transformers' cache handling raises inside IndicTrans2's remote modelling code when the
# two do not fit (4.57: "expected Tensor as element 0 ... but got NoneType" in self-attention)
CACHE_ERRORS = (TypeError, AttributeError, IndexError, KeyError, ValueError)


def has_text(text: str) -> bool:
    """Whether a line has anything to translate (not only spaces and format characters such
    as a zero-width space)."""
    return any(unicodedata.category(ch) not in ("Cc", "Cf", "Zs", "Zl", "Zp") for ch in text)


# -- IndicTransToolkit's Devanagari normaliser -------------------------------------------------
# indic_nlp_library_itt 0.1.1 (what indictranstoolkit 1.1.1 installs) escapes two strings once
# too often in DevanagariNormalizer (used for every *_Deva source): NUKTA is the six characters
# "\u093C", so a precomposed nukta letter (U+0958-U+095F, U+0929, U+0931, U+0934: क़ ख़ ग़ ज़
# ड़ ढ़ फ़ य़ ...) turns into "क\u093C" in the text the model sees; and the visarga pattern
# ``[\\u0900-\\u097f]:`` matches an ASCII digit / capital letter before a colon and replaces
# both with the literal "\1ः" ("OK:" -> "O\1ः"), while never matching the Devanagari letter it
# was meant for. ``repair_devanagari_normalizer`` sets NUKTA to the real sign and turns the
# broken visarga rewrite off, only where the installed library has exactly these values.
_BROKEN_NUKTA = "\\u093C"
_BROKEN_VISARGA = r"([\\u0900-\\u097f]):"


class _NoRewrite:
    """Stands in for the broken visarga pattern: ``sub`` leaves the text as it is."""

    pattern = "(broken visarga rewrite turned off)"

    def sub(self, replacement: str, text: str) -> str:
        return text


def repair_devanagari_normalizer() -> bool:
    """Fix the two escaping bugs above in the installed indicnlp, once; True if it patched."""
    from indicnlp.normalize import indic_normalize

    cls = indic_normalize.DevanagariNormalizer
    patched = False
    if getattr(cls, "NUKTA", None) == _BROKEN_NUKTA:
        cls.NUKTA = "\u093c"
        patched = True
    if not getattr(cls, "_subpipe_visarga_off", False):
        original_init = cls.__init__

        def __init__(self, *args, **kwargs):
            original_init(self, *args, **kwargs)
            pattern = getattr(self, "visarga_pattern", None)
            if pattern is not None and pattern.pattern == _BROKEN_VISARGA:
                self.visarga_pattern = _NoRewrite()

        cls.__init__ = __init__
        cls._subpipe_visarga_off = True
        patched = True
    return patched


def new_processor():
    """A fresh IndicProcessor for inference (placeholders on), with the normaliser repaired."""
    from IndicTransToolkit.processor import IndicProcessor

    repair_devanagari_normalizer()
    return IndicProcessor(inference=True)


# -- the engine --------------------------------------------------------------------------------
@dataclass
class IndicTrans2Engine:
    """A loaded IndicTrans2 model, its tokenizer and an IndicProcessor. ``use_cache`` turns
    False for good if generate fails with the key/value cache (remote code on a transformers
    it was not written for); ``confidence`` turns False if the model cannot score its output."""

    model: str
    device: str
    batch_size: int
    num_beams: int
    max_length: int
    use_cache: bool
    confidence: bool
    tokenizer: Any = field(repr=False)
    net: Any = field(repr=False)  # the transformers model
    processor: Any = field(repr=False)  # IndicTransToolkit's IndicProcessor
    name: str = NAME
    generate_calls: int = 0

    def translate(self, texts: list[str], pair: LanguagePair) -> list[Translation]:
        """One Translation per text, same order; a text with nothing to translate (empty,
        blank, only zero-width characters) gives "" without reaching the model."""
        for code in (pair.source_flores, pair.target_flores):
            if code not in LANGUAGES:
                raise InputError(
                    f"IndicTrans2 does not translate {code!r} ({pair.source}->{pair.target})",
                    fix="use an Indian language or English supported by IndicTrans2 "
                        "(config/languages.toml), or --set translation.engine=nllb")
        cleaned = [clean_line(t) for t in texts]
        results = [Translation("", None) for _ in texts]
        todo = [i for i, t in enumerate(cleaned) if has_text(t)]
        # longest first: a batch that does not fit in memory fails at once
        order = sorted(todo, key=lambda i: -len(cleaned[i]))
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            outputs = self._translate_batch([cleaned[i] for i in batch], pair)
            for i, (text, confidence) in zip(batch, outputs, strict=True):
                results[i] = Translation(text, confidence)
        return results

    def _translate_batch(self, texts: list[str], pair: LanguagePair
                         ) -> list[tuple[str, float | None]]:
        """Pre-process, generate, decode and post-process one batch. The processor's
        placeholder queue must be drained by the post-processing of this same batch: on any
        failure in between, a fresh processor replaces it."""
        try:
            prepared = self.processor.preprocess_batch(
                texts, src_lang=pair.source_flores, tgt_lang=pair.target_flores)
            decoded, confidences = self._generate(prepared)
        except BaseException:
            self.processor = new_processor()
            raise
        restored = self.processor.postprocess_batch(decoded, lang=pair.target_flores)
        return [(one_line(t), c) for t, c in zip(restored, confidences, strict=True)]

    def _generate(self, prepared: list[str]) -> tuple[list[str], list[float | None]]:
        import torch

        inputs = self.tokenizer(prepared, truncation=True, padding="longest",
                                return_tensors="pt", return_attention_mask=True)
        limit = getattr(self.tokenizer, "model_max_length", None)
        if limit and int(inputs["input_ids"].shape[1]) >= limit:
            logger.warning("a line reached the model's %d input tokens and may be cut: split "
                           "long lines before translating", limit)
        inputs = inputs.to(self.net.device)
        with torch.inference_mode():
            sequences = self._call_generate(inputs)
            confidences = (self._confidences(inputs, sequences) if self.confidence
                           else [None] * len(sequences))
        return self._decode(sequences), confidences

    def _call_generate(self, inputs):
        options = {"num_beams": self.num_beams, "max_length": self.max_length,
                   "min_length": 0, "num_return_sequences": 1, "do_sample": False}
        try:
            self.generate_calls += 1
            return self.net.generate(**inputs, use_cache=self.use_cache, **options)
        except CACHE_ERRORS as e:
            if not self.use_cache:
                raise
            logger.warning("generate with use_cache=True failed (%s: %s): the model's remote "
                           "code does not fit this transformers' cache; retrying, and from now "
                           "on, with use_cache=False (slower)", type(e).__name__, e)
            self.use_cache = False
            self.generate_calls += 1
            return self.net.generate(**inputs, use_cache=False, **options)

    def _decode(self, sequences) -> list[str]:
        """Target-side decoding: IndicTrans2's tokenizer holds a source and a target
        vocabulary and switches between them (older exports only through these methods,
        newer ones also inside their own _decode)."""
        ids = sequences.cpu().tolist()
        switch = hasattr(self.tokenizer, "_switch_to_target_mode")
        if switch:
            self.tokenizer._switch_to_target_mode()
        try:
            return self.tokenizer.batch_decode(ids, skip_special_tokens=True,
                                               clean_up_tokenization_spaces=True)
        finally:
            if switch:
                self.tokenizer._switch_to_input_mode()

    def _confidences(self, inputs, sequences) -> list[float | None]:
        """Mean log-probability of the generated tokens (to the first end of sentence), by
        one teacher-forced pass over them (torch_device.chosen_logprobs: bounded memory);
        [None]s, and confidence off, if the model's remote code cannot."""
        try:
            rows = chosen_logprobs(self.net, inputs["input_ids"], inputs["attention_mask"],
                                   sequences, self.net.config.vocab_size)
        except Exception as e:  # remote code: the confidence is optional
            logger.warning("no confidence scores from this model (%s: %s); translating on "
                           "without them", type(e).__name__, e)
            self.confidence = False
            return [None] * len(sequences)
        eos = self.net.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        result: list[float | None] = []
        for tokens, row in zip(sequences.cpu().tolist(), rows, strict=True):
            kept = []
            for token, score in zip(tokens[1:], row, strict=True):  # after the decoder start
                if math.isfinite(score):
                    kept.append(score)
                if token in eos_ids:
                    break
            result.append(round(sum(kept) / len(kept), 4) if kept else None)
        return result


# -- loading -----------------------------------------------------------------------------------


def load(model: str, device: str, batch_size: int, *, num_beams: int = 4,
         max_length: int = 256, use_cache: bool = True, confidence: bool = True,
         dtype: str = "auto", cpu_threads: int | None = None) -> IndicTrans2Engine:
    """Open ``model`` (hub repo id from the cache, offline, or a local folder) with its remote
    code on ``device`` ("cpu", "cuda", "cuda:N", "mps"). ``num_beams``: beam width (1 =
    greedy); ``max_length``: longest output in tokens; ``use_cache``: the decoder's key/value
    cache (IndicTrans2's code runs with it on transformers 4.51-4.53; on a failure generate is
    retried without it); ``confidence``: score each output (one teacher-forced pass, bounded
    memory) to report its mean token log-probability;
    ``dtype``: "auto" = float16 on CUDA, float32 elsewhere; ``cpu_threads``: torch threads on
    CPU (default: the cores this process may use)."""
    if batch_size < 1 or num_beams < 1 or max_length < 1:
        raise InputError(f"indictrans2: batch_size {batch_size}, num_beams {num_beams} and "
                         f"max_length {max_length} must be positive",
                         fix="set translation.batch_size / num_beams to 1 or more")
    kind = device_kind(device, NAME)
    started = time.perf_counter()
    prepare_device(kind, cpu_threads)
    tokenizer, net = open_seq2seq(model, device, dtype, NAME, remote_code=True,
                                  dtype_argument="torch_dtype")  # transformers 4.53
    config = net.config
    if getattr(config, "vocab_size", None) is None and getattr(config, "decoder_vocab_size", None):
        # the confidence scoring sizes its chunks by config.vocab_size; IndicTrans2's config
        # names its output vocabulary decoder_vocab_size only
        config.vocab_size = config.decoder_vocab_size
    logger.info("loaded %s on %s (%s) in %.1fs", model, device, net.dtype,
                time.perf_counter() - started)
    return IndicTrans2Engine(model=model, device=device, batch_size=batch_size,
                             num_beams=num_beams, max_length=max_length, use_cache=use_cache,
                             confidence=confidence, tokenizer=tokenizer, net=net,
                             processor=new_processor())
