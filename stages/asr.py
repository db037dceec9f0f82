"""asr: speech to timed text with faster-whisper (CTranslate2), in the whisperx venv.

Segments are streamed to segments.jsonl as they are decoded (an interrupted run leaves a
readable partial file), then written as segments.json with the detected language. The model
is loaded once per batch and resolved from the project cache by repo id, offline.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Literal

from pydantic import Field

from shared import atomic
from shared.stage import (
    ModelRef,
    StageOutcome,
    StageParams,
    StageRequest,
    StageSpec,
    report_progress,
)

logger = logging.getLogger(__name__)

WHISPER_SIZES = ("tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium",
                 "medium.en", "large-v1", "large-v2", "large-v3")


class AsrParams(StageParams):
    backend: Literal["faster-whisper"] = Field(
        "faster-whisper", description="ASR engine (faster-whisper: CTranslate2, CPU or CUDA)")
    model: str | None = Field(
        None, description="registry name (faster-whisper-small), Whisper size (small), hub repo "
        "id, or local folder; default: the first cached model of the machine's profile")
    device: str | None = Field(None, description="cpu or cuda; default: the profile's")
    compute_type: str | None = Field(None, description="int8, float16, ...; default: profile's")
    cpu_threads: int = Field(0, description="CPU threads; 0 = the machine default")
    batch_size: int = Field(1, description="reserved for batched backends")
    language: str | None = Field(None, description="ISO code; None = detect (job -s auto)")
    beam_size: int = Field(5, ge=1)
    best_of: int = Field(5, ge=1)
    temperatures: list[float] = Field(default_factory=lambda: [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    condition_on_previous_text: bool = Field(
        False, description="off: a mistake cannot propagate into a repetition loop")
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4
    hallucination_silence_threshold: float | None = None
    initial_prompt: str | None = None
    hotwords: str | None = None
    word_timestamps: bool = True
    vad_filter: bool = Field(True, description="skip non-speech with faster-whisper's Silero VAD "
                             "(used only when the job has no vad stage)")
    min_silence_duration_ms: int = Field(500, description="VAD: silence that splits speech")
    max_chunk_s: float = Field(30.0, gt=0, description="speech regions from the vad stage are "
                               "merged into chunks of at most this many seconds; only those "
                               "chunks are decoded, never the silence between them")
    task: Literal["transcribe"] = Field(
        "transcribe", description="always transcribe: translation is its own stage")
    seed: int = Field(0, description="seed of the sampling used by temperature fallback: the "
                      "same audio and params give the same transcript")
    hallucination_filter: bool = Field(
        True, description="remove repetition loops, boilerplate (\"thanks for watching\"), "
        "segments over non-speech and impossible reading speeds; listed in hallucinations.json")
    max_cps: float = Field(35.0, gt=0, description="hallucination filter: characters per second "
                           "above which a segment cannot be speech")
    min_repeats: int = Field(3, ge=2, description="hallucination filter: a phrase repeated this "
                             "many times in a row is a loop")


SPEC = StageSpec(
    name="asr",
    environment="whisperx",
    version=1,
    params=AsrParams,
    inputs={"audio": ("source_separation:vocals_16k.wav", "demux:audio_16k.wav"),
            "speech": "vad:speech_segments.json?"},
    outputs=("segments.json", "segments.jsonl", "hallucinations.json"),
    description="transcribe speech with Whisper",
    model_slots=("asr",),
    code=("shared.hallucination",),
)


def resolve(params: AsrParams, ctx) -> AsrParams:
    """Fill what the machine and the job decide: model, device, compute type, language."""

    defaults = ctx.hardware.defaults
    hub = ctx.hardware.cache.hf_hub_cache
    registry = ctx.models
    update: dict = {}
    if params.model is None:
        update["model"] = registry.resolve(ctx.profile, "asr", hub).repo_id
    else:
        update["model"] = _resolve_model_ref(params.model, registry, hub, ctx)
    device = params.device or (defaults.device if defaults.device in ("cpu", "cuda") else "cpu")
    update["device"] = device
    compute = params.compute_type or defaults.compute_type
    if device == "cpu" and compute in ("float16", "int8_float16", "bfloat16"):
        logger.warning("compute type %s is not supported on the CPU: using int8", compute)
        compute = "int8"
    update["compute_type"] = compute
    update["cpu_threads"] = params.cpu_threads or defaults.cpu_threads
    if params.language is None and ctx.job.source_lang != "auto":
        update["language"] = ctx.job.source_lang
    return params.model_copy(update=update)


def _resolve_model_ref(ref: str, registry, hub: Path, ctx) -> str:
    """A user's --set asr.model=...: a registry name, a Whisper size, a hub repo id or a local
    CTranslate2 folder; it must be in the cache (a run never downloads)."""
    from shared import hf_cache
    from shared.errors import InputError, ModelMissingError

    if Path(ref).expanduser().is_dir():
        return str(Path(ref).expanduser().resolve())
    spec = registry.by_repo_or_name(ref) or registry.by_repo_or_name(f"faster-whisper-{ref}")
    repo_id = spec.repo_id if spec else ref
    if spec is None and "/" not in ref:
        if ref not in WHISPER_SIZES:
            raise InputError(f"unknown ASR model '{ref}'",
                             fix=f"use a Whisper size ({', '.join(WHISPER_SIZES)}), a registry "
                             "name (./cache-models.sh --list), a hub repo id or a local folder")
        repo_id = f"Systran/faster-whisper-{ref}"
    assert repo_id
    if not hf_cache.is_cached(hub, repo_id):
        fix = ("./cache-models.sh --stage asr   (or pick a cached model: ./cache-models.sh --list)"
               if spec else f"with network: HF_HOME={ctx.hardware.cache.hf_home} "
               f"huggingface-cli download {repo_id}")
        raise ModelMissingError(f"ASR model {repo_id} is not in the cache ({hub})", fix=fix)
    return repo_id


def model_refs(params: AsrParams, ctx) -> list[ModelRef]:
    from shared import hf_cache

    assert params.model
    if Path(params.model).is_dir():
        return [ModelRef(name=params.model, repo_id=None, revision="local")]
    revision = hf_cache.read_ref(ctx.hardware.cache.hf_hub_cache, params.model)
    spec = ctx.models.by_repo_or_name(params.model)
    return [ModelRef(name=spec.name if spec else params.model, repo_id=params.model,
                     revision=revision)]


def setup(requests: list[StageRequest]):
    """Load each distinct model once for the whole batch."""
    models = {}
    for request in requests:
        params = request.params_as(AsrParams)
        key = (params.model, params.device, params.compute_type, params.cpu_threads)
        if key not in models:
            models[key] = _load_model(params)
    return models


def _load_model(params: AsrParams):
    import ctranslate2
    from faster_whisper import WhisperModel

    from shared.errors import ModelMissingError

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


def decode_options(params: AsrParams, clips: list[tuple[float, float]] | None) -> dict:
    """faster-whisper transcribe() arguments: the decoding Params, and either the vad
    stage's speech chunks (clip_timestamps) or faster-whisper's own VAD filter."""
    options = dict(
        language=params.language, task=params.task, beam_size=params.beam_size,
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


def _segment_record(index: int, segment) -> dict:
    words = [{"start": round(w.start, 3), "end": round(w.end, 3), "word": w.word,
              "probability": round(w.probability, 4)} for w in (segment.words or [])]
    return {"id": index, "start": round(segment.start, 3), "end": round(segment.end, 3),
            "text": segment.text.strip(), "avg_logprob": round(segment.avg_logprob, 4),
            "no_speech_prob": round(segment.no_speech_prob, 4),
            "compression_ratio": round(segment.compression_ratio, 4),
            "temperature": segment.temperature, "words": words}


def process(request: StageRequest, models) -> StageOutcome:
    params = request.params_as(AsrParams)
    model = models[(params.model, params.device, params.compute_type, params.cpu_threads)]
    audio = Path(request.inputs["audio"])
    jsonl = request.output("segments.jsonl")
    duration = _wav_duration(audio)
    result = {"language": params.language, "language_probability": None,
              "duration": round(duration, 3), "model": params.model, "segments": []}
    started = time.monotonic()
    clips: list[tuple[float, float]] | None = None
    regions: list[dict] | None = None
    if "speech" in request.inputs:
        regions = json.loads(Path(request.inputs["speech"]).read_text("utf-8"))["segments"]
        clips = speech_chunks(regions, params.max_chunk_s)
        result["speech_chunks"] = len(clips)
        logger.info("vad: %d speech region(s) -> %d chunk(s), %.1f s of %.1f s decoded",
                    len(regions), len(clips), sum(e - s for s, e in clips), duration)
    import ctranslate2

    ctranslate2.set_random_seed(params.seed)
    with open(jsonl, "w", encoding="utf-8") as stream:
        if clips == []:
            logger.warning("the vad stage found no speech: writing an empty transcript")
        elif duration >= 0.1:
            segments, info = model.transcribe(str(audio), **decode_options(params, clips))
            result["language"] = info.language
            result["language_probability"] = round(info.language_probability, 4)
            for index, segment in enumerate(segments):
                record = _segment_record(index, segment)
                result["segments"].append(record)
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
                stream.flush()
                report_progress(segment.end, duration)
        else:
            logger.warning("%s holds no audio (%.2f s): writing an empty transcript", audio,
                           duration)
    if result["language"] is None:
        result["language"] = "und"
    elapsed = time.monotonic() - started
    result["segments"] = _remove_hallucinations(request, params, result["segments"], regions)
    atomic.write_json(request.output("segments.json"), result)
    logger.info("%d segments, language %s (p=%s), %.1f s audio in %.1f s (RTF %.3f)",
                len(result["segments"]), result["language"], result["language_probability"],
                duration, elapsed, elapsed / duration if duration else 0.0)
    return StageOutcome(
        outputs=[request.output("segments.json"), jsonl, request.output("hallucinations.json")],
        info={"language": result["language"], "segments": len(result["segments"]),
              "audio_s": round(duration, 3), "rtf": round(elapsed / duration, 4) if duration
              else None})


def _wav_duration(path: Path) -> float:
    import wave

    with wave.open(str(path), "rb") as handle:
        return handle.getnframes() / handle.getframerate()


if __name__ == "__main__":
    from shared import stage_main

    stage_main.run(SPEC, process, setup)
