"""The alignment stage's work, in the whisperx venv: per segment, wav2vec2 forced alignment
when resolve() found a cached aligner for its language, else Whisper's word times from asr;
then the same clean-up and sentence re-cut for all (stages.alignment.words)."""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from pathlib import Path

from shared import transcript
from shared.stage import StageOutcome, StageRequest, report_progress
from shared.transcript import Segment, Transcript, Word
from stages.alignment import EVERY_LANGUAGE, FALLBACK, AlignmentParams
from stages.alignment.words import finish

logger = logging.getLogger("stages.alignment")

SAMPLE_RATE = 16000


def setup(requests: list[StageRequest]) -> dict:
    """Aligners are loaded on first use and kept for the whole batch: (ref, device) -> model."""
    return {}


def _aligner(loaded: dict, ref: str, language: str, params: AlignmentParams):
    from stages.alignment.wav2vec2 import Aligner

    assert params.device, "resolve() sets the device (shared.model_choice.device_for)"
    key = (ref, params.device)
    if key not in loaded:
        import torch

        if params.device == "cpu" and params.cpu_threads:
            torch.set_num_threads(params.cpu_threads)
        started = time.monotonic()
        hub = os.environ.get("HF_HUB_CACHE")
        loaded[key] = Aligner(ref, language, params.device, Path(hub) if hub else None)
        logger.info("loaded %s on %s in %.1fs", ref, params.device, time.monotonic() - started)
    return loaded[key]


def method_of(ref: str | None) -> str:
    return f"wav2vec2:{ref}" if ref else FALLBACK


def _aligner_for(params: AlignmentParams, language: str) -> str | None:
    return params.aligners.get(language) or params.aligners.get(EVERY_LANGUAGE)


def _log_plan(params: AlignmentParams, languages: list[str]) -> None:
    for lang in languages:
        ref = _aligner_for(params, lang)
        if ref:
            logger.info("language %s: forced alignment with %s", lang, ref)
        else:
            logger.info("language %s: no wav2vec2 model cached for it: using Whisper's word "
                        "timestamps (cache one that config/models.toml [aligners] lists, or "
                        "--set alignment.model=<cached repo>, to align with wav2vec2)", lang)


def _timed(request: StageRequest, loaded: dict, params: AlignmentParams,
           source: Transcript) -> list[Segment]:
    """Each segment with its words timed by its language's aligner (Whisper's words where
    there is none or the segment cannot be aligned) and the method that timed them."""
    audio = None
    timed: list[Segment] = []
    for done, segment in enumerate(source.segments, 1):
        lang = segment.language or source.language or "und"
        ref = _aligner_for(params, lang)
        words = None
        if ref:
            if audio is None:
                from stages.asr.audio import open_audio

                audio = open_audio(Path(request.inputs["audio"]))  # read per segment
            words = _aligner(loaded, ref, lang, params).align_words(
                segment, audio, lang, params.interpolate_method, params.return_char_alignments)
        update = {"method": method_of(ref if words is not None else None)}
        if words is not None:
            update["words"] = [Word.model_validate(w) for w in words]
        timed.append(segment.model_copy(update=update))
        report_progress(done, len(source.segments))
    return timed


def process(request: StageRequest, loaded: dict) -> StageOutcome:
    params = request.params_as(AlignmentParams)
    source = transcript.load_transcript(Path(request.inputs["segments"]))
    language = source.language
    _log_plan(params, sorted({s.language or language or "und" for s in source.segments}))
    started = time.monotonic()
    timed = _timed(request, loaded, params, source)
    methods = Counter(s.method for s in timed)
    planned = _aligner_for(params, language or "")
    result = source.model_copy(update={
        "segments": finish(timed, split=params.split_sentences,
                           endings=params.sentence_endings, default_language=language),
        "method": (next(iter(methods)) if len(methods) == 1 else
                   "mixed" if methods else method_of(planned)),
        "methods": dict(methods), "aligners": params.aligners})
    transcript.save(request.output("aligned.json"), result)
    elapsed = time.monotonic() - started
    logger.info("%d segment(s) -> %d after sentence cuts; %s; %.1f s",
                len(source.segments), len(result.segments),
                ", ".join(f"{m}: {n}" for m, n in methods.items()) or "no speech", elapsed)
    return StageOutcome(outputs=[request.output("aligned.json")],
                        info={"method": result.method, "segments": len(result.segments),
                              "seconds": round(elapsed, 3)})
