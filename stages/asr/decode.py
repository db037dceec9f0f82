"""The asr stage's work, in the whisperx venv: load the model once per batch, choose what to
decode (the vad stage's speech chunks, or the whole file with faster-whisper's own VAD),
detect the language on speech, decode, stream segments to segments.jsonl, remove and report
hallucinations, write segments.json."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

from shared import atomic
from shared.errors import ModelMissingError
from shared.stage import StageOutcome, StageRequest, report_progress
from stages.asr import AsrParams

logger = logging.getLogger("stages.asr")

SAMPLE_RATE = 16000
WINDOW_S = 30.0


def setup(requests: list[StageRequest]):
    """Load each distinct model once for the whole batch."""
    models = {}
    for request in requests:
        params = request.params_as(AsrParams)
        key = model_key(params)
        if key not in models:
            models[key] = _load_model(params)
    return models


def model_key(params: AsrParams) -> tuple:
    return (params.model, params.device, params.compute_type, params.cpu_threads)


def _load_model(params: AsrParams):
    import ctranslate2
    from faster_whisper import WhisperModel

    compute = params.compute_type
    supported = ctranslate2.get_supported_compute_types(params.device)
    if compute not in supported:
        fallback = "int8" if "int8" in supported else "float32"
        logger.warning("compute type %s is not supported on %s: using %s", compute,
                       params.device, fallback)
        compute = fallback
    started = time.monotonic()
    try:
        model = WhisperModel(params.model, device=params.device, compute_type=compute,
                             cpu_threads=params.cpu_threads, local_files_only=True)
    except Exception as e:
        if "local" in str(e).lower() or "snapshot" in str(e).lower() or \
                type(e).__name__ in ("LocalEntryNotFoundError", "OfflineModeIsEnabled"):
            raise ModelMissingError(f"model {params.model} is not in the project cache ({e})",
                                    fix="./cache-models.sh --stage asr") from e
        raise
    logger.info("loaded %s on %s/%s in %.1fs", params.model, params.device, compute,
                time.monotonic() - started)
    return model


def speech_chunks(regions: list[dict], max_chunk_s: float) -> list[tuple[float, float]]:
    """Merge VAD speech regions (sorted or not) into chunks of at most ``max_chunk_s``: a
    region joins the current chunk while the chunk stays within the limit (short pauses
    inside a chunk are kept; the silence between chunks is never decoded). A region longer
    than the limit is a chunk of its own."""
    chunks: list[list[float]] = []
    for region in sorted(regions, key=lambda r: float(r["start"])):
        start, end = float(region["start"]), float(region["end"])
        if end <= start:
            continue
        if chunks and end - chunks[-1][0] <= max_chunk_s:
            chunks[-1][1] = max(chunks[-1][1], end)
        else:
            chunks.append([start, end])
    return [(round(s, 3), round(e, 3)) for s, e in chunks]


def fixed_windows(duration: float, size: float = WINDOW_S) -> list[tuple[float, float]]:
    """The whole file in ``size``-second windows (multilingual without a vad stage)."""
    count = max(1, int(-(-duration // size)))
    return [(round(i * size, 3), round(min(duration, (i + 1) * size), 3)) for i in range(count)]


def decode_options(params: AsrParams, clips: list[tuple[float, float]] | None,
                   language: str | None = None) -> dict:
    """faster-whisper transcribe() arguments: the decoding Params, and either speech chunks
    (clip_timestamps) or faster-whisper's own VAD filter."""
    options = dict(
        language=language or params.language, task=params.task, beam_size=params.beam_size,
        best_of=params.best_of, temperature=params.temperatures,
        condition_on_previous_text=params.condition_on_previous_text,
        no_speech_threshold=params.no_speech_threshold,
        log_prob_threshold=params.log_prob_threshold,
        compression_ratio_threshold=params.compression_ratio_threshold,
        hallucination_silence_threshold=params.hallucination_silence_threshold,
        initial_prompt=params.initial_prompt, hotwords=params.hotwords,
        word_timestamps=params.word_timestamps)
    if clips is not None:
        options.update(clip_timestamps=[t for clip in clips for t in clip], vad_filter=False)
    else:
        options.update(vad_filter=params.vad_filter,
                       vad_parameters={"min_silence_duration_ms": params.min_silence_duration_ms})
    return options


def speech_sample(audio, clips: list[tuple[float, float]], windows: int):
    """Up to ``windows`` 30-second pieces of speech spread over the whole file, joined: what
    the language is detected on (not just the opening credits' first 30 s)."""
    import numpy as np

    if not clips:
        return audio
    picks = clips if len(clips) <= windows else [
        clips[round(i * (len(clips) - 1) / (windows - 1))] if windows > 1 else clips[0]
        for i in range(windows)]
    pieces = [audio[int(s * SAMPLE_RATE):int(min(e, s + WINDOW_S) * SAMPLE_RATE)]
              for s, e in picks]
    return np.concatenate(pieces) if pieces else audio


def detect_language(model, audio, params: AsrParams, clips) -> dict:
    """Language, its probability and the top candidates, from speech (several windows)."""
    sample = speech_sample(audio, clips or [], params.language_detection_windows)
    language, probability, candidates = model.detect_language(
        audio=sample, vad_filter=clips is None,
        language_detection_segments=params.language_detection_windows)
    return {"language": language, "probability": round(float(probability), 4),
            "candidates": {lang: round(float(p), 4) for lang, p in candidates[:5]}}


def _segment_record(index: int, segment, language: str | None) -> dict:
    words = [{"start": round(w.start, 3), "end": round(w.end, 3), "word": w.word,
              "probability": round(w.probability, 4)} for w in (segment.words or [])]
    return {"id": index, "start": round(segment.start, 3), "end": round(segment.end, 3),
            "text": segment.text.strip(), "language": language,
            "avg_logprob": round(segment.avg_logprob, 4),
            "no_speech_prob": round(segment.no_speech_prob, 4),
            "compression_ratio": round(segment.compression_ratio, 4),
            "temperature": segment.temperature, "words": words}


def decode(model, audio, params: AsrParams, clips, result: dict) -> Iterator[dict]:
    """Segment records as they are decoded; fills result's language fields."""
    import ctranslate2

    if params.language is None:
        detected = detect_language(model, audio, params, clips)
        result.update(language=detected["language"],
                      language_probability=detected["probability"],
                      language_candidates=detected["candidates"])
        logger.info("language %s (p=%.2f), candidates %s", detected["language"],
                    detected["probability"], detected["candidates"])
    plan: list[tuple[list[tuple[float, float]] | None, str | None]]
    if params.multilingual and params.language is None:
        windows = clips if clips is not None else fixed_windows(len(audio) / SAMPLE_RATE)
        plan = []
        for window in windows:
            piece = audio[int(window[0] * SAMPLE_RATE):int(window[1] * SAMPLE_RATE)]
            language, _, _ = model.detect_language(audio=piece)
            plan.append(([window], language))
        result["languages"] = sorted({lang for _, lang in plan})
    else:
        plan = [(clips, params.language or result["language"])]
    index = 0
    for window_clips, language in plan:
        ctranslate2.set_random_seed(params.seed)
        segments, _ = model.transcribe(audio, **decode_options(params, window_clips, language))
        for segment in segments:
            yield _segment_record(index, segment, language)
            index += 1


def _remove_hallucinations(request: StageRequest, params: AsrParams, segments: list[dict],
                           regions: list[dict] | None) -> list[dict]:
    """The post-pass: write hallucinations.json (what was removed or changed, and why) and
    return the segments to keep, renumbered. segments.jsonl keeps the raw decode."""
    from shared.hallucination import FilterOptions, filter_segments

    if not params.hallucination_filter:
        atomic.write_json(request.output("hallucinations.json"),
                          {"enabled": False, "removed": [], "changed": []})
        return segments
    speech = [(float(r["start"]), float(r["end"])) for r in regions] if regions is not None \
        else None
    report = filter_segments(segments, speech, FilterOptions(
        min_repeats=params.min_repeats, max_cps=params.max_cps))
    atomic.write_json(request.output("hallucinations.json"), {
        "enabled": True, "removed": report.removed, "changed": report.changed})
    for item in report.removed:
        logger.warning("removed segment %s (%.2f-%.2f s, %r): %s", item["segment"].get("id"),
                       item["segment"]["start"], item["segment"]["end"],
                       item["segment"]["text"][:60], item["reason"])
    for item in report.changed:
        logger.warning("segment %s: %s", item.get("id"), item["reason"])
    return [{**s, "id": i} for i, s in enumerate(report.kept)]


def _vad_regions(request: StageRequest) -> list[dict] | None:
    if "speech" not in request.inputs:
        return None
    return json.loads(Path(request.inputs["speech"]).read_text("utf-8"))["segments"]


def process(request: StageRequest, models) -> StageOutcome:
    from faster_whisper import decode_audio

    params = request.params_as(AsrParams)
    model = models[model_key(params)]
    audio = decode_audio(str(request.inputs["audio"]), sampling_rate=SAMPLE_RATE)
    duration = len(audio) / SAMPLE_RATE
    result = {"language": params.language, "language_probability": None,
              "duration": round(duration, 3), "model": params.model, "segments": []}
    regions = _vad_regions(request)
    clips = speech_chunks(regions, params.max_chunk_s) if regions is not None else None
    if clips is not None:
        result["speech_chunks"] = len(clips)
        logger.info("vad: %d speech region(s) -> %d chunk(s), %.1f s of %.1f s decoded",
                    len(regions or []), len(clips), sum(e - s for s, e in clips), duration)
    started = time.monotonic()
    with open(request.output("segments.jsonl"), "w", encoding="utf-8") as stream:
        if clips == []:
            logger.warning("the vad stage found no speech: writing an empty transcript")
        elif duration < 0.1:
            logger.warning("the audio is empty (%.2f s): writing an empty transcript", duration)
        else:
            for record in decode(model, audio, params, clips, result):
                result["segments"].append(record)
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
                stream.flush()
                report_progress(record["end"], duration)
    result["language"] = result["language"] or "und"
    elapsed = time.monotonic() - started
    result["segments"] = _remove_hallucinations(request, params, result["segments"], regions)
    atomic.write_json(request.output("segments.json"), result)
    logger.info("%d segments, language %s (p=%s), %.1f s audio in %.1f s (RTF %.3f)",
                len(result["segments"]), result["language"], result["language_probability"],
                duration, elapsed, elapsed / duration if duration else 0.0)
    return StageOutcome(
        outputs=[request.output(name) for name in ("segments.json", "segments.jsonl",
                                                   "hallucinations.json")],
        info={"language": result["language"], "segments": len(result["segments"]),
              "audio_s": round(duration, 3),
              "rtf": round(elapsed / duration, 4) if duration else None})
