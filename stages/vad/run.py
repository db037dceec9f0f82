"""The vad stage's work, in the backend's venv (silero: whisperx, pyannote: pyannote): load
the backends once per batch, score each job's WAV block by block, join the regions, write
speech_segments.json with its quality summary."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from shared import atomic
from shared.stage import StageOutcome, StageRequest, report_progress
from stages.vad import SAMPLE_RATE, VadParams

logger = logging.getLogger(__name__)


def scorer_key(params: VadParams) -> tuple:
    """What a loaded backend depends on (thresholds are applied per job)."""
    if params.backend == "silero":
        return ("silero",)
    assert params.device, "resolve() sets the device (shared.model_choice.device_for)"
    return ("pyannote", params.device, params.pyannote_step)


def load_scorer(params: VadParams):
    started = time.monotonic()
    if params.backend == "silero":
        from stages.vad.silero import Silero

        scorer = Silero()
    else:
        from stages.vad.pyannote_vad import Pyannote

        scorer = Pyannote(scorer_key(params)[1], params.pyannote_step)
    logger.info("loaded %s on %s in %.1fs (venv %s)", params.backend, params.device,
                time.monotonic() - started, Path(sys.prefix).name)
    return scorer


def setup(requests: list[StageRequest]) -> dict:
    """Load each backend (per device) once for the whole batch."""
    scorers: dict = {}
    for request in requests:
        params = request.params_as(VadParams)
        if scorer_key(params) not in scorers:
            scorers[scorer_key(params)] = load_scorer(params)
    return scorers


def detect(scorer, audio: Path, params: VadParams) -> tuple[list, float]:
    """Score ``audio`` block by block; return the final regions and the audio's duration."""
    from shared.errors import InputError
    from stages.vad import regions, wav
    from stages.vad.backends import core_regions

    try:
        info = wav.probe(audio)
    except ValueError as e:
        raise InputError(str(e), fix="re-run the stage that wrote it: ./run-pipeline.sh -j "
                         "<job-id> --force demux (or --force source_separation)") from e
    if info.sample_rate != SAMPLE_RATE:
        raise InputError(f"{audio} is {info.sample_rate} Hz; the vad stage needs {SAMPLE_RATE}",
                         fix="leave demux.sample_rate at 16000")
    rate = info.sample_rate
    raw: list[regions.Region] = []
    for block in regions.plan_blocks(info.frames, int(params.block_duration * rate),
                                     int(params.block_overlap * rate)):
        samples = wav.read(info, block.read_start, block.read_end - block.read_start)
        if samples.size >= rate // 10:  # under 0.1 s there is nothing to score
            result = scorer.score(samples, rate, params.onset, params.offset)
            raw += core_regions(result, block.read_start / rate, block.core_start / rate,
                                block.core_end / rate)
        report_progress(block.core_end / rate, info.duration, f"{len(raw)} regions")
    final = regions.finalize(raw, info.duration, min_silence=params.min_silence_duration,
                             min_speech=params.min_speech_duration, pad=params.speech_pad)
    return final, info.duration


def process(request: StageRequest, scorers) -> StageOutcome:
    from stages.vad.regions import quality

    params = request.params_as(VadParams)
    scorer = scorers[scorer_key(params)]
    audio = Path(request.inputs["audio"])
    started = time.monotonic()
    found, duration = detect(scorer, audio, params)
    elapsed = time.monotonic() - started
    summary = quality(found, duration, min_ratio=params.min_speech_ratio,
                      max_ratio=params.max_speech_ratio)
    output = request.output("speech_segments.json")
    atomic.write_json(output, {
        "backend": params.backend,
        "params": params.model_dump(mode="json"),
        "duration": round(duration, 3),
        "segments": [{"start": round(r.start, 3), "end": round(r.end, 3),
                      "confidence": round(r.confidence, 4)} for r in found],
        "quality": summary,
    })
    logger.info("%s: %d speech region(s), %.1f s of %.1f s (%.1f%%), longest silence %.1f s "
                "at %.1f s, mean confidence %s; %.1f s (%.4f x real time)", params.backend,
                summary["regions"], summary["speech_s"], duration, 100 * summary["speech_ratio"],
                summary["longest_silence_s"], summary["longest_silence_start"],
                summary["mean_confidence"], elapsed, elapsed / duration if duration else 0.0)
    for warning in summary["warnings"]:
        logger.warning("%s", warning)
    return StageOutcome(outputs=[output], info={
        "backend": params.backend, "regions": summary["regions"],
        "speech_s": summary["speech_s"], "speech_ratio": summary["speech_ratio"],
        "warnings": summary["warnings"]})

