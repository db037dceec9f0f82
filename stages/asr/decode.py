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
    """Load each distinct model once for the whole batch (mlx loads its own, lazily)."""
    models = {}
    for request in requests:
        params = request.params_as(AsrParams)
        key = model_key(params)
        if key not in models and params.backend != "mlx":
            models[key] = _load_model(params)
    return models


def model_key(params: AsrParams) -> tuple:
    return (params.backend, params.model, params.device, params.compute_type,
            params.cpu_threads)


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
    if params.backend == "batched":
        from faster_whisper import BatchedInferencePipeline

        return BatchedInferencePipeline(model)
    return model


def speech_chunks(regions: list[dict], max_chunk_s: float,
                  split_long: bool = False) -> list[tuple[float, float]]:
    """Merge VAD speech regions (sorted or not) into chunks of at most ``max_chunk_s``: a
    region joins the current chunk while the chunk stays within the limit (short pauses
    inside a chunk are kept; the silence between chunks is never decoded). A region longer
    than the limit is a chunk of its own, or with ``split_long`` (the batched backend decodes
    at most 30 s per chunk) cut into pieces of the limit."""
    chunks: list[list[float]] = []
    for region in sorted(regions, key=lambda r: float(r["start"])):
        start, end = float(region["start"]), float(region["end"])
        if end <= start:
            continue
        if chunks and end - chunks[-1][0] <= max_chunk_s:
            chunks[-1][1] = max(chunks[-1][1], end)
            continue
        while split_long and end - start > max_chunk_s:
            chunks.append([start, start + max_chunk_s])
            start += max_chunk_s
        chunks.append([start, end])
    return [(round(s, 3), round(e, 3)) for s, e in chunks]


def fixed_windows(duration: float, size: float = WINDOW_S) -> list[tuple[float, float]]:
    """The whole file in ``size``-second windows (multilingual without a vad stage)."""
    count = max(1, int(-(-duration // size)))
    return [(round(i * size, 3), round(min(duration, (i + 1) * size), 3)) for i in range(count)]


def decode_options(params: AsrParams, clips: list[tuple[float, float]] | None,
                   language: str | None = None) -> dict:
    """faster-whisper transcribe() arguments: the decoding Params, and either speech chunks
    (clip_timestamps) or faster-whisper's own VAD filter. The batched pipeline takes its
    chunks as {"start", "end"} dicts and a batch size."""
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
    if params.backend == "batched":
        options["batch_size"] = params.batch_size
        if clips is not None:
            options.update(clip_timestamps=[{"start": s, "end": e} for s, e in clips],
                           vad_filter=False)
        else:
            options.update(vad_filter=True, vad_parameters={
                "min_silence_duration_ms": params.min_silence_duration_ms})
    elif clips is not None:
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


def _whisper(model):
    """The WhisperModel behind a model or a BatchedInferencePipeline."""
    from faster_whisper import BatchedInferencePipeline

    return model.model if isinstance(model, BatchedInferencePipeline) else model


def detect_language(model, audio, params: AsrParams, clips) -> dict:
    """Language, its probability and the top candidates, from speech (several windows)."""
    sample = speech_sample(audio, clips or [], params.language_detection_windows)
    language, probability, candidates = _whisper(model).detect_language(
        audio=sample, vad_filter=clips is None,
        language_detection_segments=params.language_detection_windows)
    return {"language": language, "probability": round(float(probability), 4),
            "candidates": {lang: round(float(p), 4) for lang, p in candidates[:5]}}


def _record(index: int, segment, language: str | None, offset: float = 0.0) -> dict:
    """One segment as written to segments.json, from a faster-whisper Segment or an
    mlx-whisper segment dict; ``offset`` shifts times of a piece decoded on its own."""
    get = segment.get if isinstance(segment, dict) else lambda k, d=None: getattr(segment, k, d)
    words = []
    for w in get("words") or []:
        wget = w.get if isinstance(w, dict) else lambda k, d=None, w=w: getattr(w, k, d)
        words.append({"start": round(wget("start") + offset, 3),
                      "end": round(wget("end") + offset, 3), "word": wget("word"),
                      "probability": round(float(wget("probability", 0.0)), 4)})
    return {"id": index, "start": round(get("start") + offset, 3),
            "end": round(get("end") + offset, 3), "text": get("text").strip(),
            "language": language, "avg_logprob": round(float(get("avg_logprob", 0.0)), 4),
            "no_speech_prob": round(float(get("no_speech_prob", 0.0)), 4),
            "compression_ratio": round(float(get("compression_ratio", 0.0)), 4),
            "temperature": get("temperature"), "words": words}


def plan_windows(model, audio, params: AsrParams, clips, result: dict
                 ) -> list[tuple[list[tuple[float, float]] | None, str | None]]:
    """What to decode in which language: one pass over all clips, or with ``multilingual``
    one pass per chunk in the language detected on that chunk."""
    if params.language is None and params.backend != "mlx":
        detected = detect_language(model, audio, params, clips)
        result.update(language=detected["language"],
                      language_probability=detected["probability"],
                      language_candidates=detected["candidates"])
        logger.info("language %s (p=%.2f), candidates %s", detected["language"],
                    detected["probability"], detected["candidates"])
    if not (params.multilingual and params.language is None) or params.backend == "mlx":
        return [(clips, params.language or result["language"])]
    windows = clips if clips is not None else fixed_windows(len(audio) / SAMPLE_RATE)
    plan = []
    for start, end in windows:
        piece = audio[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)]
        language, _, _ = _whisper(model).detect_language(audio=piece)
        plan.append(([(start, end)], language))
    result["languages"] = sorted({lang for _, lang in plan if lang})
    return plan


def decode(model, audio, params: AsrParams, clips, result: dict) -> Iterator[dict]:
    """Segment records as they are decoded; fills result's language fields."""
    if params.backend == "mlx":
        from stages.asr import mlx

        segments, language = mlx.transcribe(audio, params, clips, params.language)
        result["language"] = result["language"] or language
        for index, segment in enumerate(segments):
            yield _record(index, segment, result["language"])
        return
    import ctranslate2

    index = 0
    for window_clips, language in plan_windows(model, audio, params, clips, result):
        ctranslate2.set_random_seed(params.seed)
        segments, _ = model.transcribe(audio, **decode_options(params, window_clips, language))
        for segment in segments:
            yield _record(index, segment, language)
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
    model = models.get(model_key(params))
    audio = decode_audio(str(request.inputs["audio"]), sampling_rate=SAMPLE_RATE)
    duration = len(audio) / SAMPLE_RATE
    result = {"language": params.language, "language_probability": None,
              "duration": round(duration, 3), "model": params.model, "segments": []}
    regions = _vad_regions(request)
    clips = (speech_chunks(regions, params.max_chunk_s, split_long=params.backend == "batched")
             if regions is not None else None)
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
