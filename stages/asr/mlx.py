"""The mlx backend: mlx-whisper on Apple Silicon, in the mlx venv. The argument mapping is a
pure function (tested on any machine); the import of mlx_whisper happens only when it runs."""

from __future__ import annotations

from shared.errors import EnvironmentMissingError
from stages.asr import AsrParams


def mlx_options(params: AsrParams, clips: list[tuple[float, float]] | None,
                language: str | None) -> dict:
    """mlx_whisper.transcribe() keyword arguments equal to the faster-whisper decoding."""
    options = {
        "path_or_hf_repo": params.model,
        "language": language or params.language,
        "task": params.task,
        "temperature": tuple(params.temperatures),
        "compression_ratio_threshold": params.compression_ratio_threshold,
        "logprob_threshold": params.log_prob_threshold,
        "no_speech_threshold": params.no_speech_threshold,
        "condition_on_previous_text": params.condition_on_previous_text,
        "initial_prompt": params.initial_prompt,
        "word_timestamps": params.word_timestamps,
        "hallucination_silence_threshold": params.hallucination_silence_threshold,
        "verbose": None,
    }
    if params.beam_size > 1:  # mlx-whisper decodes greedily; best_of applies to sampling
        options["best_of"] = params.best_of
    if clips is not None:
        options["clip_timestamps"] = [t for clip in clips for t in clip]
    return options


def transcribe(audio, params: AsrParams, clips, language) -> tuple[list[dict], str]:
    """Segments (dicts as mlx-whisper returns them) and the language."""
    try:
        import mlx_whisper
    except ImportError as e:
        raise EnvironmentMissingError(
            "the mlx backend needs mlx-whisper, which runs only on Apple Silicon",
            fix="use --set asr.backend=faster-whisper (or batched on a GPU)") from e
    result = mlx_whisper.transcribe(audio, **mlx_options(params, clips, language))
    return result.get("segments", []), result.get("language") or language or "und"
