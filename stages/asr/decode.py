"""The asr stage's work, in the whisperx venv: load the model once per batch, find the speech
(the vad stage's regions, or faster-whisper's own VAD) and group it into chunks, detect the
language on windows of speech (per speech region when they disagree), decode chunk by chunk
with a checkpoint after each (stages.asr.checkpoint: a killed run resumes after the last
finished chunk), stream segments to segments.jsonl, remove and report hallucinations, write
segments.json."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

from shared import atomic, transcript
from shared.errors import ModelMissingError
from shared.stage import StageOutcome, StageRequest, report_progress
from shared.transcript import Segment, Transcript
from stages.asr import AsrParams, checkpoint, languages, recheck, seeded, verify
from stages.asr.audio import block_speech, open_audio, whole
from stages.asr.coverage import transcript_shortfall

logger = logging.getLogger("stages.asr")

SAMPLE_RATE = 16000


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
    seeded.watch(model, lambda: _ctranslate2_model(params, compute))
    if params.backend == "batched":
        from faster_whisper import BatchedInferencePipeline

        return BatchedInferencePipeline(model)
    return model


def _ctranslate2_model(params: AsrParams, compute: str):
    """The ctranslate2 model WhisperModel loads, loaded again (stages.asr.seeded)."""
    import os

    import ctranslate2
    from faster_whisper.utils import download_model

    path = params.model if os.path.isdir(params.model) else \
        download_model(params.model, local_files_only=True)
    return ctranslate2.models.Whisper(path, device=params.device, compute_type=compute,
                                      intra_threads=params.cpu_threads)


Region = tuple[float, float]  # seconds on the audio's own timeline


def speech_groups(regions: list[dict], max_chunk_s: float) -> list[list[Region]]:
    """The vad stage's speech regions in time order, grouped so that each group holds at most
    ``max_chunk_s`` of speech (the silence between regions does not count: it is never
    decoded). A region longer than the limit is cut into pieces of the limit."""
    groups: list[list[Region]] = []
    speech = 0.0
    for region in sorted(regions, key=lambda r: float(r["start"])):
        start, end = float(region["start"]), float(region["end"])
        while end - start > 1e-3:
            piece_end = min(end, start + max_chunk_s)
            length = piece_end - start
            if not groups or speech + length > max_chunk_s:
                groups.append([])
                speech = 0.0
            groups[-1].append((round(start, 3), round(piece_end, 3)))
            speech += length
            start = piece_end
    return groups


def group_spans(groups: list[list[Region]]) -> list[Region]:
    """Each group as one span of the original audio (first start, last end)."""
    return [(group[0][0], group[-1][1]) for group in groups if group]


def joined_clips(groups: list[list[Region]]) -> list[dict]:
    """Each group's place in the joined speech audio, in seconds (the batched backend decodes
    them as separate items of a batch)."""
    clips, position = [], 0.0
    for group in groups:
        length = sum(e - s for s, e in group)
        clips.append({"start": round(position, 3), "end": round(position + length, 3)})
        position += length
    return clips


class JoinedSpeech:
    """Speech regions cut out of the audio and joined end to end, the way faster-whisper's own
    VAD filter feeds the decoder (no 30 s window is spent on silence), with the map back to
    the original timeline (faster-whisper's restore_speech_timestamps)."""

    def __init__(self, audio, groups: list[list[Region]]) -> None:
        import numpy as np

        self.groups = groups
        self.chunks = [{"start": int(s * SAMPLE_RATE), "end": int(e * SAMPLE_RATE)}
                       for group in groups for s, e in group]
        pieces = [audio[c["start"]:c["end"]] for c in self.chunks]
        self.audio = np.concatenate(pieces) if pieces else audio[:0]

    def clips(self) -> list[dict]:
        return joined_clips(self.groups)

    def restore(self, segments):
        from faster_whisper.transcribe import restore_speech_timestamps

        return restore_speech_timestamps(segments, self.chunks, SAMPLE_RATE)


def decode_options(params: AsrParams, language: str | None, joined: JoinedSpeech) -> dict:
    """faster-whisper transcribe() arguments: the decoding Params, and what to decode: one
    chunk's speech regions joined end to end (no VAD filter: the regions are the VAD's). The
    batched pipeline takes its pieces as {"start", "end"} dicts and a batch size."""
    options = dict(
        language=language or params.language, task=params.task, beam_size=params.beam_size,
        best_of=params.best_of, temperature=params.temperatures,
        condition_on_previous_text=params.condition_on_previous_text,
        no_speech_threshold=params.no_speech_threshold,
        log_prob_threshold=params.log_prob_threshold,
        compression_ratio_threshold=params.compression_ratio_threshold,
        hallucination_silence_threshold=params.hallucination_silence_threshold,
        initial_prompt=params.initial_prompt, hotwords=params.hotwords,
        word_timestamps=params.word_timestamps, vad_filter=False)
    if params.backend == "batched":
        options["batch_size"] = params.batch_size
        options["clip_timestamps"] = joined.clips()
    return options


def _whisper(model):
    """The WhisperModel behind a model or a BatchedInferencePipeline."""
    from faster_whisper import BatchedInferencePipeline

    return model.model if isinstance(model, BatchedInferencePipeline) else model


def choose_language(probabilities: list[tuple[str, float]],
                    allowed: list[str] | None) -> tuple[str, float, dict[str, float]]:
    """The most probable language among ``allowed`` (all when None), its probability
    renormalised over the allowed ones, and the top five candidates."""
    ranked = sorted(((lang, float(p)) for lang, p in probabilities
                     if allowed is None or lang in allowed), key=lambda item: -item[1])
    if not ranked:
        ranked = [(allowed[0], 0.0)] if allowed else [("und", 0.0)]
    total = sum(p for _, p in ranked) or 1.0
    top = {lang: round(p / total, 4) for lang, p in ranked[:5]}
    return ranked[0][0], top.get(ranked[0][0], 0.0), top


def _detect(model, sample, allowed: list[str] | None, result: dict) -> tuple:
    """One Whisper language detection (one encoder pass over at most 30 s), counted in
    ``result["language_detection"]["calls"]``."""
    _, _, probabilities = _whisper(model).detect_language(
        audio=sample, language_detection_segments=1)
    result["language_detection"]["calls"] += 1
    return choose_language(probabilities, allowed)


SPEECH_PAD_MS = 100  # speech_regions in segments.json: the vad stage's default pad


def own_speech_regions(audio, params: AsrParams, max_region_s: float | None = None,
                       pad_ms: int = 400) -> list[Region]:
    """Speech regions by faster-whisper's Silero VAD (a job without a vad stage), in seconds:
    what its vad_filter would decode (its 400 ms pad; SPEECH_PAD_MS for cue timing).
    ``max_region_s``: longer speech is split at its last pause of over 100 ms before the
    limit (Silero's rule, as for the batched pipeline), so a chunk boundary rarely falls
    inside a word. Run block by block over the file (stages.asr.audio.block_speech)."""
    from faster_whisper.vad import VadOptions

    options = VadOptions(min_silence_duration_ms=params.min_silence_duration_ms,
                         speech_pad_ms=pad_ms)
    if max_region_s is not None:
        options.max_speech_duration_s = max_region_s
    return [(round(start / SAMPLE_RATE, 3), round(end / SAMPLE_RATE, 3))
            for start, end in block_speech(audio, options)]


def detect_language(model, audio, params: AsrParams, regions: list[Region],
                    result: dict) -> None:
    """-s auto: the language of each detection window (speech spread over the whole file,
    not just the opening credits), kept in ``result["language_detection"]["windows"]``; the
    job's language is the windows' speech-weighted vote."""
    result["language_detection"] = {"calls": 0, "windows": []}
    windows = window_languages(model, audio, params.language_detection_windows, regions,
                               params.language_candidates, result)
    if not windows:
        logger.warning("no speech found to detect the language on")
        return
    language, probability, candidates = choose_language(languages.combine(windows), None)
    result.update(language=language, language_probability=probability,
                  language_candidates=candidates)
    logger.info("language %s (p=%.2f) over %d window(s): %s", language, probability,
                len(windows), ", ".join(f"{w['start']:.1f}-{w['end']:.1f} s {w['language']} "
                                        f"{w['probability']:.2f}" for w in windows))


def window_languages(model, audio, count: int, regions: list[Region],
                     allowed: list[str] | None, result: dict) -> list[dict]:
    """The language of each of ``count`` detection windows spread over the speech, kept in
    ``result["language_detection"]["windows"]``."""
    windows = []
    for group in languages.detection_windows(regions, count):
        lang, probability, top = _detect(model, JoinedSpeech(audio, [group]).audio, allowed,
                                         result)
        windows.append({"start": group[0][0], "end": group[-1][1],
                        "speech_s": round(sum(e - s for s, e in group), 3),
                        "language": lang, "probability": probability, "probabilities": top})
    result["language_detection"]["windows"] = windows
    return windows


def multilingual_plan(params: AsrParams, result: dict) -> dict:
    """Whether each speech region gets its own language: the user's asr.multilingual, else
    on by itself when the detection windows disagree with confidence; and among which
    languages the regions choose (the confident windows' when switched on by itself)."""
    if params.language is not None:
        return {"enabled": False, "auto": False, "reason": f"language set: {params.language}"}
    if params.multilingual is not None:
        return {"enabled": params.multilingual, "auto": False,
                "reason": f"asr.multilingual={str(params.multilingual).lower()}"}
    windows = result["language_detection"]["windows"]
    reason = languages.switch_reason(windows, result["language"],
                                     params.language_switch_probability,
                                     params.language_switch_share)
    if reason is None:
        return {"enabled": False, "auto": True, "reason": "the detection windows agree"}
    allowed = params.language_candidates or sorted(
        {result["language"]} | {w["language"] for w in windows
                                if w["probability"] >= params.language_switch_probability})
    logger.warning("mixed languages: %s; decoding every speech region in its own language "
                   "(among %s; --set asr.multilingual=false to keep one language)", reason,
                   ", ".join(allowed))
    return {"enabled": True, "auto": True, "reason": reason, "candidates": allowed}


def _record(index: int, segment, language: str | None) -> dict:
    """One segment as written to segments.json, from a faster-whisper Segment or an
    mlx-whisper segment dict."""
    get = segment.get if isinstance(segment, dict) else lambda k, d=None: getattr(segment, k, d)
    words = []
    for w in get("words") or []:
        wget = w.get if isinstance(w, dict) else lambda k, d=None, w=w: getattr(w, k, d)
        words.append({"start": round(wget("start"), 3), "end": round(wget("end"), 3),
                      "word": wget("word"),
                      "probability": round(float(wget("probability", 0.0)), 4)})
    return {"id": index, "start": round(get("start"), 3), "end": round(get("end"), 3),
            "text": get("text").strip(), "language": language,
            "avg_logprob": round(float(get("avg_logprob", 0.0)), 4),
            "no_speech_prob": round(float(get("no_speech_prob", 0.0)), 4),
            "compression_ratio": round(float(get("compression_ratio", 0.0)), 4),
            "temperature": get("temperature"), "words": words}


MIN_DETECT_S = 2.0  # speech regions shorter than this take their neighbour's language


def plan_languages(model, audio, params: AsrParams, groups, regions: list[Region] | None,
                   result: dict) -> list[tuple]:
    """What to decode in which language: [(groups, language)]. One item for the whole
    job, or when multilingual (multilingual_plan) one per run of consecutive speech regions
    detected as the same language (regions under 2 s take the language before them).
    ``regions``: the speech (vad stage or faster-whisper's VAD) when the language is to be
    detected, else None."""
    if params.language is None:
        assert regions is not None
        detect_language(model, audio, params, regions, result)
    elif regions:
        verify.prepare(params, regions, result)  # checked as each chunk is decoded
    plan = multilingual_plan(params, result)
    result["multilingual"] = plan
    language = params.language or result["language"]
    if not plan["enabled"]:
        return [(groups, language)]
    assert regions is not None
    allowed = plan.get("candidates", params.language_candidates)
    runs: list[tuple[list[Region], str]] = []
    for unit in regions:
        if runs and unit[1] - unit[0] < MIN_DETECT_S:
            detected = runs[-1][1]
        else:
            detected = _detect(model, JoinedSpeech(audio, [[unit]]).audio, allowed, result)[0]
        if runs and runs[-1][1] == detected:
            runs[-1][0].append(unit)
        else:
            runs.append(([unit], detected))
    return [(speech_groups([{"start": s, "end": e} for s, e in run], params.max_chunk_s), lang)
            for run, lang in runs]


Chunk = tuple[list[list[Region]], str | None]  # groups decoded in one call, their language


def plan_chunks(model, audio, params: AsrParams, groups: list[list[Region]],
                regions: list[Region] | None, result: dict) -> list[Chunk]:
    """The decoding calls, in time order: each group of speech on its own (the unit a resumed
    run continues after), or with the batched backend a batch of ``batch_size`` groups; each
    in the language plan_languages chose for it."""
    per_call = params.batch_size if params.backend == "batched" else 1
    return [(part[i:i + per_call], language)
            for part, language in plan_languages(model, audio, params, groups, regions, result)
            for i in range(0, len(part), per_call)]


def decode_chunk(model, audio, params: AsrParams, chunk: Chunk, result: dict) -> Iterator:
    """One chunk's faster-whisper segments on the original timeline, as they are decoded.
    Every chunk samples (temperature fallback) from ``params.seed`` alone, whatever the
    process decoded before (stages.asr.seeded), so a run resumed after any chunk decodes the
    rest exactly as an uninterrupted run does."""
    groups, language = chunk
    seeded.fresh_generator(model, params.seed)
    result["decode_passes"] += 1
    joined = JoinedSpeech(audio, groups)
    with verify.listening(model, audio, params, groups, result):  # a language the user set
        segments, _ = model.transcribe(joined.audio,
                                       **decode_options(params, language, joined))
        yield from joined.restore(segments)


def decode_mlx(audio, params: AsrParams, groups, result: dict) -> Iterator[dict]:
    """mlx-whisper decodes the whole job in one call (no checkpoints inside the stage)."""
    from stages.asr import mlx

    spans = group_spans(groups) if groups is not None else None
    segments, language = mlx.transcribe(whole(audio), params, spans, params.language)
    result["language"] = result["language"] or language
    result["decode_passes"] = 1
    for index, segment in enumerate(segments):
        yield _record(index, segment, result["language"])


def _remove_hallucinations(request: StageRequest, params: AsrParams, result: dict,
                           regions: list[dict] | None, model=None, audio=None) -> list[dict]:
    """The post-pass over ``result["segments"]``: write hallucinations.json (what was removed
    or changed, and why; with a ``model``, each removed loop's span decoded again:
    stages.asr.redecode) and return the segments to keep, renumbered. segments.jsonl keeps
    the raw decode."""
    from shared.hallucination import LOOP, FilterOptions, filter_segments

    segments = result["segments"]
    if not params.hallucination_filter:
        atomic.write_json(request.output("hallucinations.json"),
                          {"enabled": False, "removed": [], "changed": [], "redecoded": []})
        return segments
    speech = [(float(r["start"]), float(r["end"])) for r in regions] if regions is not None \
        else None
    options = FilterOptions(min_repeats=params.min_repeats, max_cps=params.max_cps,
                            max_compression_ratio=params.max_compression_ratio or None)
    report = filter_segments(segments, speech, options)
    for item in report.removed:
        logger.warning("removed segment %s (%.2f-%.2f s, %r): %s", item["segment"].get("id"),
                       item["segment"]["start"], item["segment"]["end"],
                       item["segment"]["text"][:60], item["reason"])
    for item in report.changed:
        logger.warning("segment %s: %s", item.get("id"), item["reason"])
    kept, redecoded = report.kept, []
    if params.redecode_loops and model is not None and \
            any(item.get("kind") == LOOP for item in report.removed):
        from stages.asr.redecode import redecode_loops

        kept, redecoded = redecode_loops(
            model, audio, params, report.removed, report.kept,
            _decoded_regions(audio, params, regions), speech, options, result)
    atomic.write_json(request.output("hallucinations.json"), {
        "enabled": True, "removed": report.removed, "changed": report.changed,
        "redecoded": redecoded})
    return [{**s, "id": i} for i, s in enumerate(kept)]


def _decoded_regions(audio, params: AsrParams, regions: list[dict] | None) -> list[Region]:
    """The speech regions as the chunks were cut from them: the vad stage's (pieces of at
    most asr.max_chunk_s), else faster-whisper's Silero regions."""
    if regions is not None:
        return [r for group in speech_groups(regions, params.max_chunk_s) for r in group]
    return own_speech_regions(audio, params, params.max_chunk_s)


def _vad_regions(request: StageRequest) -> list[dict] | None:
    if "speech" not in request.inputs:
        return None
    return json.loads(Path(request.inputs["speech"]).read_text("utf-8"))["segments"]


def with_glossary(request: StageRequest, params: AsrParams) -> AsrParams:
    """Hotwords / initial prompt from the glossary stage (names, the job's terms), unless the
    user set them or turned it off."""
    path = request.inputs.get("glossary")
    if path is None or params.glossary_prompt == "off":
        return params
    words = json.loads(Path(path).read_text("utf-8")).get("asr", {})
    update = {}
    if params.glossary_prompt in ("hotwords", "both") and not params.hotwords:
        update["hotwords"] = words.get("hotwords") or None
    if params.glossary_prompt in ("initial_prompt", "both") and not params.initial_prompt:
        update["initial_prompt"] = words.get("initial_prompt") or None
    if any(update.values()):
        logger.info("glossary: %s", "; ".join(f"{k} {v!r}" for k, v in update.items() if v))
    return params.model_copy(update=update)


def process(request: StageRequest, models) -> StageOutcome:
    params = with_glossary(request, request.params_as(AsrParams))
    model = models.get(model_key(params))
    audio = open_audio(Path(request.inputs["audio"]))  # read chunk by chunk, never whole
    duration = len(audio) / SAMPLE_RATE
    result = {"language": params.language, "language_probability": None,
              "duration": round(duration, 3), "model": params.model, "segments": []}
    result["decode_passes"] = 0
    regions = _vad_regions(request)
    groups = speech_groups(regions, params.max_chunk_s) if regions is not None else None
    if groups is not None:
        speech = sum(e - s for group in groups for s, e in group)
        result["speech_chunks"] = len(groups)
        result["speech_decoded_s"] = round(speech, 3)
        logger.info("vad: %d speech region(s) -> %d chunk(s): %.1f s of %.1f s decoded, the "
                    "silence between them skipped", len(regions or []), len(groups), speech,
                    duration)
    started = time.monotonic()
    chunking = {}
    if groups == [] or duration < 0.1:
        if groups == []:
            logger.warning("the vad stage found no speech: writing an empty transcript")
        else:
            logger.warning("the audio is empty (%.2f s): writing an empty transcript", duration)
        request.output("segments.jsonl").write_text("", encoding="utf-8")
    elif params.backend == "mlx":
        with open(request.output("segments.jsonl"), "wb") as stream:
            for record in decode_mlx(audio, params, groups, result):
                _stream(stream, record, result, duration)
    else:
        chunking = _decode_chunks(request, model, audio, params, groups, result)
        verify.judge(params, result)
    if regions is None and params.backend != "mlx" and duration >= 0.1:  # for cue timing
        result["speech_regions"] = own_speech_regions(audio, params, pad_ms=SPEECH_PAD_MS)
    result["language"] = result["language"] or "und"
    elapsed = time.monotonic() - started
    result["segments"] = _remove_hallucinations(request, params, result, regions, model, audio)
    _language_summary(result)
    shortfall = transcript_shortfall(result, request.params_as(AsrParams).model)
    if shortfall:
        logger.warning("%s", shortfall)
    transcript.save(request.output("segments.json"), Transcript.model_validate(result))
    request.output(checkpoint.FILE).unlink(missing_ok=True)
    logger.info("%d segments, language %s (p=%s), %.1f s audio in %.1f s (RTF %.3f)",
                len(result["segments"]), result["language"], result["language_probability"],
                duration, elapsed, elapsed / duration if duration else 0.0)
    info = {"language": result["language"], "segments": len(result["segments"]),
            "audio_s": round(duration, 3),
            "rtf": round(elapsed / duration, 4) if duration else None, **chunking}
    if "multilingual" in result:
        info.update(languages=result["language_shares"], multilingual=result["multilingual"])
    return StageOutcome(
        outputs=[request.output(name) for name in ("segments.json", "segments.jsonl",
                                                   "hallucinations.json")],
        info=info, degraded=([shortfall] if shortfall else []) + recheck.degraded_reasons(
            result, recheck.recheck_fix(result["language"], params.model))
        + verify.degraded_reasons(result))


def _stream(stream, record: dict, result: dict, duration: float) -> None:
    """One decoded segment: kept, appended to segments.jsonl at once, progress reported."""
    result["segments"].append(record)
    stream.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
    stream.flush()
    report_progress(record["end"], duration)


def _decode_chunks(request: StageRequest, model, audio, params: AsrParams,
                   groups: list[list[Region]] | None, result: dict) -> dict:
    """The faster-whisper backends, chunk by chunk, with a checkpoint after each chunk: a
    re-run of the same stage (the runner's fingerprint unchanged) continues after the last
    finished chunk with the language decisions of the first run. Without a vad stage the
    chunks are groups of faster-whisper's own VAD regions (whole file when vad_filter is off
    on the sequential backend). Returns the chunk counts for result.json's info."""
    jsonl = request.output("segments.jsonl")
    saved, records = checkpoint.load(request.output(checkpoint.FILE), request.fingerprint,
                                     jsonl)
    if saved.chunks:
        chunks = [(chunk_groups, language) for chunk_groups, language in saved.chunks]
        result.update(saved.decided)
        result["segments"] = records
        logger.info("resuming after chunk %d of %d (%.1f s of speech already decoded)",
                    saved.done, len(chunks), saved.speech_done_s)
    else:
        speech = None
        if groups is None:
            speech = own_speech_regions(audio, params, params.max_chunk_s)
            groups = speech_groups([{"start": s, "end": e} for s, e in speech],
                                   params.max_chunk_s) \
                if params.vad_filter or params.backend == "batched" \
                else [[(0.0, round(len(audio) / SAMPLE_RATE, 3))]]
            result["speech_chunks"] = len(groups)
            result["speech_decoded_s"] = round(sum(e - s for g in groups for s, e in g), 3)
            logger.info("faster-whisper's VAD: %d speech region(s) -> %d chunk(s) of %.1f s of "
                        "speech", len(speech), len(groups), result["speech_decoded_s"])
        regions = speech or [(s, e) for group in groups for s, e in group]
        chunks = plan_chunks(model, audio, params, groups, regions, result)
        saved.chunks = [[chunk_groups, language] for chunk_groups, language in chunks]
    first = saved.done
    duration = len(audio) / SAMPLE_RATE
    with open(jsonl, "r+b" if first else "wb") as stream:
        stream.truncate(saved.jsonl_bytes)
        stream.seek(saved.jsonl_bytes)
        if not first:
            saved.save(stream, result)  # the plan and the language decisions
        for n in range(first, len(chunks)):
            for segment, language in recheck.checked_chunk(model, audio, params, chunks[n],
                                                             result):
                _stream(stream, _record(len(result["segments"]), segment, language), result,
                        duration)
            saved.done = n + 1
            saved.speech_done_s += sum(e - s for group in chunks[n][0] for s, e in group)
            saved.save(stream, result)
    return {"chunks": len(chunks), "chunks_decoded": len(chunks) - first,
            "resumed_after_chunk": first}


def _language_summary(result: dict) -> None:
    """Each language's share of the decoded speech; with several languages the job's
    language becomes the dominant one (the source track is named after it)."""
    shares = languages.shares(map(Segment.model_validate, result["segments"]),
                              result["language"])
    result["language_shares"] = shares or {result["language"]: 1.0}
    result["languages"] = sorted(result["language_shares"])
    if result.get("multilingual", {}).get("enabled") and shares:
        dominant = languages.dominant(shares, result["language"])
        if dominant != result["language"]:
            logger.info("dominant language by speech: %s (detected %s)", dominant,
                        result["language"])
        result["language"] = dominant
