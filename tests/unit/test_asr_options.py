"""How the asr stage turns Params into decoder arguments, for every backend, without loading
a model: the mlx mapping is tested here on any machine (mlx-whisper is absent)."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest

from shared import hf_cache
from shared.env_registry import load_registry
from shared.errors import EnvironmentMissingError, InputError
from shared.hardware import HardwareInfo
from shared.hardware_cache import build
from shared.model_registry import load_models
from shared.stage import ResolveContext
from shared.workflows import load_workflows
from stages.asr import SPEC, AsrParams, resolve
from stages.asr.decode import decode_options, joined_clips, speech_groups
from stages.asr.mlx import mlx_options

HW = HardwareInfo(os="linux", os_release="6", arch="x86_64", python="3.11", cpu_cores=4,
                  ram_mb=8000)


@pytest.fixture
def ctx(tmp_path):
    cache = build(HW, load_registry(), load_models(), load_workflows(), cache_base=tmp_path)
    for repo in ("Systran/faster-whisper-base", "Systran/faster-whisper-tiny.en"):
        src = tmp_path / "model.bin"
        src.write_bytes(b"x")
        hf_cache.install_snapshot(cache.cache.hf_hub_cache, repo, "a" * 40, {"model.bin": src})

    def make(source_lang="hi", profile="cpu"):
        return ResolveContext(hardware=cache, models=load_models(), profile=profile, lang=None,
                              job=SimpleNamespace(source_lang=source_lang))
    return make


def test_defaults_come_from_the_profile_and_the_job(ctx):
    params = resolve(AsrParams(), ctx())
    assert (params.backend, params.model, params.device, params.compute_type) == (
        "faster-whisper", "Systran/faster-whisper-base", "cpu", "int8")
    assert params.language == "hi" and params.cpu_threads == 4 and params.batch_size == 1
    assert resolve(AsrParams(), ctx("auto")).language is None
    assert SPEC.environment(params, ctx()) == "whisperx"


def test_english_only_model_refuses_another_language(ctx):
    with pytest.raises(InputError, match="English-only model"):
        resolve(AsrParams(model="tiny.en"), ctx("hi"))
    assert resolve(AsrParams(model="tiny.en"), ctx("en")).model == \
        "Systran/faster-whisper-tiny.en"


def test_mlx_backend_off_apple_silicon_is_a_clear_error(ctx):
    with pytest.raises(EnvironmentMissingError, match="only on Apple Silicon") as error:
        resolve(AsrParams(backend="mlx"), ctx())
    assert "asr.backend=faster-whisper" in error.value.fix
    assert SPEC.environment(AsrParams(backend="mlx"), ctx()) == "mlx"


def test_mlx_argument_mapping_matches_the_faster_whisper_decoding():
    assert importlib.util.find_spec("mlx_whisper") is None  # really absent here
    params = AsrParams(backend="mlx", model="mlx-community/whisper-large-v3-mlx",
                       language="hi", initial_prompt="Shree", beam_size=5)
    options = mlx_options(params, [(1.0, 9.5), (12.0, 30.0)], None)
    assert options == {
        "path_or_hf_repo": "mlx-community/whisper-large-v3-mlx", "language": "hi",
        "task": "transcribe", "temperature": (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
        "compression_ratio_threshold": 2.4, "logprob_threshold": -1.0,
        "no_speech_threshold": 0.6, "condition_on_previous_text": False,
        "initial_prompt": "Shree", "word_timestamps": True,
        "hallucination_silence_threshold": None, "verbose": None, "best_of": 5,
        "clip_timestamps": [1.0, 9.5, 12.0, 30.0]}
    assert mlx_options(params, None, "en")["language"] == "en"


def test_batched_backend_gets_its_speech_as_clips_of_at_most_30_seconds():
    regions = [{"start": 0.0, "end": 75.0}, {"start": 80.0, "end": 90.0}]
    groups = speech_groups(regions, 30.0)
    assert groups == [[(0.0, 30.0)], [(30.0, 60.0)], [(60.0, 75.0), (80.0, 90.0)]]
    # in the joined speech audio (silence cut out) each group is one item of the batch
    assert joined_clips(groups) == [{"start": 0.0, "end": 30.0}, {"start": 30.0, "end": 60.0},
                                    {"start": 60.0, "end": 85.0}]
    joined = SimpleNamespace(clips=lambda: joined_clips(groups))  # JoinedSpeech minus audio
    options = decode_options(AsrParams(backend="batched", batch_size=8), "en", joined)
    assert options["batch_size"] == 8 and options["vad_filter"] is False
    assert options["clip_timestamps"][0] == {"start": 0.0, "end": 30.0}
    sequential = decode_options(AsrParams(backend="faster-whisper"), "en", joined)
    assert "batch_size" not in sequential and "clip_timestamps" not in sequential
    assert sequential["vad_filter"] is False  # the chunk's regions come from a VAD already


def test_float16_on_the_cpu_falls_back_to_int8(ctx, caplog):
    params = resolve(AsrParams(compute_type="float16"), ctx())
    assert params.compute_type == "int8"
    assert "not supported on the CPU: using int8" in caplog.text


def test_language_candidates_restrict_and_renormalise_detection():
    from stages.asr.decode import choose_language

    probabilities = [("la", 0.30), ("lv", 0.25), ("hi", 0.06), ("en", 0.04), ("ur", 0.02)]
    assert choose_language(probabilities, None)[0] == "la"
    language, probability, top = choose_language(probabilities, ["hi", "en"])
    assert (language, probability) == ("hi", 0.6) and top == {"hi": 0.6, "en": 0.4}
    assert choose_language([], ["ta"])[0] == "ta"
