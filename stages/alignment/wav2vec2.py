"""Forced alignment of one segment with a wav2vec2 CTC model, through whisperx 3.8.6's own
``load_align_model()`` and ``align()``, offline.

Nothing downloads. The model loads from the project's HF cache with ``local_files_only``
(and the stage process has HF_HUB_OFFLINE=1); only hub repos and local folders are accepted,
never a torchaudio pipeline name (those download from pytorch.org). ``align()`` loads NLTK's
punkt_tab for every segment and calls ``nltk.download()`` when it is missing: for the call
it gets a splitter that returns the segment's whole text as one sentence (this stage cuts
sentences itself, in stages.alignment.words) and ``nltk.download`` raises, so no NLTK data
is read or fetched.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.errors import ModelMissingError
from shared.transcript import Segment
from stages.alignment.words import NO_SPACE_LANGUAGES

RATE = 16000  # samples per second of the audio align_words is handed

logger = logging.getLogger("stages.alignment")


class _WholeText:
    """Stands in for NLTK's punkt tokenizer inside align(): one sentence, the whole text."""

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [(0, len(text))]


def _whole_text_splitter(*args, **kwargs) -> _WholeText:
    return _WholeText()


def _refuse_download(*args, **kwargs):
    raise RuntimeError("nltk.download() was called during alignment: a run never downloads")


@contextmanager
def no_nltk(module) -> Iterator[None]:
    """Inside: whisperx.alignment's NLTK sentence splitter is ours, nltk.download raises."""
    if not hasattr(module, "nltk_load") or not hasattr(module, "nltk"):
        raise RuntimeError("whisperx.alignment no longer loads NLTK as 3.8.6 did (nltk_load): "
                           "check stages/alignment/wav2vec2.py against the installed whisperx")
    saved = module.nltk_load, module.nltk.download
    module.nltk_load, module.nltk.download = _whole_text_splitter, _refuse_download
    try:
        yield
    finally:
        module.nltk_load, module.nltk.download = saved


def _finite(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class Aligner:
    """A loaded wav2vec2 CTC model and its character dictionary."""

    def __init__(self, ref: str, language: str, device: str, hub_cache: Path | None) -> None:
        import torchaudio
        from whisperx import alignment

        if ref in torchaudio.pipelines.__all__:
            raise ModelMissingError(f"{ref} is a torchaudio pipeline (downloaded at run time)",
                                    fix="use a Hugging Face wav2vec2 CTC model from the cache")
        self._module = alignment
        self.ref, self.device = ref, device
        try:
            self.model, self.metadata = alignment.load_align_model(
                language, device, model_name=ref,
                model_dir=str(hub_cache) if hub_cache else None, model_cache_only=True)
        except ValueError as e:
            raise ModelMissingError(f"the alignment model {ref} does not load from the cache "
                                    f"({hub_cache})", fix="./cache-models.sh --verify") from e
        self.dictionary: dict[str, int] = self.metadata["dictionary"]

    def _clean(self, unit: str) -> str:
        """The characters the model should hear: punctuation it has no token for goes (it
        would take frames as a wildcard); "|" is the model's word delimiter."""
        return "".join(ch for ch in unit if ch != "|" and not (
            unicodedata.category(ch).startswith("P") and ch.lower() not in self.dictionary))

    def align_words(self, segment: Segment, audio, language: str,
                    interpolate_method: str = "nearest", chars: bool = False
                    ) -> list[dict] | None:
        """Words of the segment's text (Whisper's convention: " word") with times from the
        model; words with nothing to align (punctuation only) have no times. None when the
        segment cannot be aligned (nothing alignable, too short for its text, past the end)."""
        no_space = language in NO_SPACE_LANGUAGES
        text = segment.text.strip()
        units = [c for c in text if not c.isspace()] if no_space else text.split()
        cleaned = [self._clean(u) for u in units]
        kept = [i for i, c in enumerate(cleaned) if c]
        if not kept:
            return None
        joined = ("" if no_space else " ").join(cleaned[i] for i in kept)
        metadata = {**self.metadata, "language": language}
        # only the segment's samples are read (stages.asr.audio: never the whole film)
        first = max(0, math.floor(segment.start * RATE) - RATE)
        window = audio[first:math.ceil(segment.end * RATE) + RATE]
        offset = first / RATE
        with no_nltk(self._module):
            result = self._module.align(
                [{"start": segment.start - offset, "end": segment.end - offset,
                  "text": joined}],
                self.model, metadata, window, self.device, interpolate_method=interpolate_method,
                return_char_alignments=chars)
        for s in result["segments"]:
            for item in (s.get("words") or []) + (s.get("chars") or []):
                for key in ("start", "end"):
                    if _finite(item.get(key)) is not None:
                        item[key] = item[key] + offset
        aligned = [w for s in result["segments"] for w in s.get("words") or []]
        if len(aligned) != len(kept) or all(_finite(w.get("start")) is None for w in aligned):
            logger.warning("segment %.2f-%.2f s (%r) could not be aligned: keeping Whisper's "
                           "word times", segment.start, segment.end, text[:60])
            return None
        words = [{"word": u if no_space else " " + u, "start": None, "end": None,
                  "probability": 0.0} for u in units]
        for index, word in zip(kept, aligned, strict=True):
            score = _finite(word.get("score"))
            words[index].update(start=_finite(word.get("start")), end=_finite(word.get("end")),
                                probability=round(score, 4) if score is not None else 0.0)
        if chars:
            self._attach_chars(words, kept, result, no_space)
        return words

    @staticmethod
    def _attach_chars(words: list[dict], kept: list[int], result: dict, no_space: bool) -> None:
        groups: list[list[dict]] = [[]]
        for s in result["segments"]:
            for c in s.get("chars") or []:
                if c["char"].isspace():
                    groups.append([])
                    continue
                groups[-1].append({"char": c["char"], "start": _finite(c.get("start")),
                                   "end": _finite(c.get("end")), "score": _finite(c.get("score"))})
                if no_space:
                    groups.append([])
        groups = [g for g in groups if g]
        if len(groups) == len(kept):
            for index, group in zip(kept, groups, strict=True):
                words[index]["chars"] = group
