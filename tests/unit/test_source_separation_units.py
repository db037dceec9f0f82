"""source_separation's contract, in the common venv (no torch): chunk plan, params, where the
weights are looked for, and the errors that name their fix."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from shared import hf_cache
from shared.errors import InputError, ModelMissingError
from shared.hardware_cache import CachePaths
from shared.model_registry import load_models
from stages import source_separation as sep
from stages.source_separation import SeparationParams, chunk_sizes, chunk_windows
from stages.source_separation import run as separation


def test_windows_cover_the_audio_and_share_exactly_the_overlap():
    assert chunk_windows(10, 4, 1) == [(0, 5), (4, 9), (8, 10)]
    assert chunk_windows(9, 4, 1) == [(0, 5), (4, 9)]  # the last window reaches the end
    assert chunk_windows(3, 4, 1) == [(0, 3)]
    assert chunk_windows(0, 4, 1) == [(0, 0)]
    assert chunk_windows(12, 4, 0) == [(0, 4), (4, 8), (8, 12)]
    for total in range(1, 40):
        windows = chunk_windows(total, 5, 2)
        assert windows[0][0] == 0 and windows[-1][1] == total
        for (_, e1), (s2, e2) in zip(windows, windows[1:], strict=False):
            assert e1 - s2 == 2  # the shared part is the whole crossfade
            assert e2 > e1  # every window extends past the part it shares


def test_chunk_is_a_whole_number_of_model_steps():
    step = 132300  # the tiny test model: 4 s segments, 25 % overlap -> 3 s steps
    params = SeparationParams(chunk_seconds=4, overlap_seconds=1)
    assert chunk_sizes(params, 44100, step) == (step, 44100)
    params = SeparationParams(chunk_seconds=0.5, overlap_seconds=0.4)
    assert chunk_sizes(params, 44100, step) == (step, round(0.4 * 44100))  # at least one step
    htdemucs_step = int(0.75 * int(44100 * 7.8))
    assert chunk_sizes(SeparationParams(), 44100, htdemucs_step)[0] == 10 * htdemucs_step


def test_params_defaults_and_validation():
    params = SeparationParams()
    assert (params.model, params.device, params.chunk_seconds, params.shifts) == \
        ("htdemucs", None, 60.0, 0)
    with pytest.raises(ValidationError, match="must be smaller than chunk_seconds"):
        SeparationParams(chunk_seconds=2, overlap_seconds=2)
    with pytest.raises(ValidationError):
        SeparationParams(chunk_seconds=0)
    with pytest.raises(ValidationError):
        SeparationParams(shifts=-1)
    with pytest.raises(ValidationError):
        SeparationParams(stems="vocals")


def _ctx(tmp_path, device="cuda"):
    cache = CachePaths.under(tmp_path / "cache")
    cache.create()
    defaults = SimpleNamespace(device=device, cpu_threads=6)
    hardware = SimpleNamespace(cache=cache, defaults=defaults)
    return SimpleNamespace(hardware=hardware, models=load_models(), job=None, profile="cpu",
                           lang=None, offered={})


def test_resolve_fills_device_and_threads_and_checks_the_model(tmp_path):
    ctx = _ctx(tmp_path, device="cuda")
    params = sep.resolve(SeparationParams(), ctx)
    assert (params.device, params.cpu_threads, params.model) == ("cuda", 6, "htdemucs")
    assert sep.resolve(SeparationParams(device="cpu"), ctx).device == "cpu"
    assert sep.resolve(SeparationParams(model="adefossez/HTDemucs-ft"), ctx).model == \
        "htdemucs_ft"
    with pytest.raises(InputError, match="use one of: htdemucs, htdemucs_ft"):
        sep.resolve(SeparationParams(model="faster-whisper-base"), ctx)
    with pytest.raises(InputError, match="not one of cuda, mps, cpu"):
        sep.resolve(SeparationParams(device="tpu"), ctx)


def _hf_model(hub, repo_id="adefossez/HTDemucs", name="htdemucs", revision="a" * 40):
    folder = hub.parent / "src"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.yaml").write_text("models: ['0123abcd']\n")
    (folder / "0123abcd.safetensors").write_bytes(b"weights")
    return hf_cache.install_snapshot(hub, repo_id, revision, {
        f"{name}.yaml": folder / f"{name}.yaml",
        "0123abcd.safetensors": folder / "0123abcd.safetensors"})


def test_model_refs_name_the_hf_revision_or_the_legacy_checkpoints(tmp_path):
    ctx = _ctx(tmp_path)
    cache = ctx.hardware.cache
    params = sep.resolve(SeparationParams(), ctx)
    with pytest.raises(ModelMissingError) as missing:
        sep.model_refs(params, ctx)
    assert "./cache-models.sh --stage source_separation" in str(missing.value)
    assert "955717e8-8726e21a.th" in str(missing.value)

    checkpoint = cache.torch_home / "hub" / "checkpoints" / "955717e8-8726e21a.th"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"x" * 10)
    [ref] = sep.model_refs(params, ctx)
    assert (ref.repo_id, ref.revision) == (None, "torch_hub:955717e8-8726e21a.th:10")

    _hf_model(cache.hf_hub_cache)  # demucs reads the HF cache first
    [ref] = sep.model_refs(params, ctx)
    assert (ref.name, ref.repo_id, ref.revision) == ("htdemucs", "adefossez/HTDemucs", "a" * 40)
    _hf_model(cache.hf_hub_cache, revision="b" * 40)  # new weights: a new revision
    assert sep.model_refs(params, ctx)[0].revision == "b" * 40


def test_an_incomplete_hf_snapshot_does_not_count(tmp_path):
    ctx = _ctx(tmp_path)
    hub = ctx.hardware.cache.hf_hub_cache
    snap = _hf_model(hub)
    trees = hf_cache.repo_folder(hub, "adefossez/HTDemucs") / "trees"
    trees.mkdir()
    (trees / f"{snap.name}.json").write_text(json.dumps(
        {"files": ["htdemucs.yaml", "0123abcd.safetensors", "0123abcd.json"]}))
    assert sep.locate("htdemucs", "adefossez/HTDemucs", hub, ctx.hardware.cache.torch_home) \
        is None


def test_a_missing_quality_model_names_how_to_get_it(tmp_path):
    ctx = _ctx(tmp_path)
    params = sep.resolve(SeparationParams(model="htdemucs_ft"), ctx)
    with pytest.raises(ModelMissingError, match="./cache-models.sh --model htdemucs_ft"):
        sep.model_refs(params, ctx)


@pytest.mark.parametrize("error", [
    RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate "
                 "memory: you tried to allocate 8000000000 bytes"),
    MemoryError(),
])
def test_out_of_memory_becomes_an_error_naming_a_smaller_chunk(error):
    assert separation._is_out_of_memory(error)
    params = SeparationParams(chunk_seconds=60)
    message = str(separation.out_of_memory_error(error, params, "film-1", "cpu"))
    assert "out of memory separating 60 s chunks on cpu" in message
    assert "./run-pipeline.sh -j film-1 --set source_separation.chunk_seconds=30" in message
    gpu = str(separation.out_of_memory_error(error, params, "film-1", "cuda"))
    assert "source_separation.segment_seconds" in gpu and "device=cpu" in gpu


def test_other_runtime_errors_are_not_out_of_memory():
    assert not separation._is_out_of_memory(RuntimeError("shape mismatch"))
    assert not separation._is_out_of_memory(ValueError("out of memory"))


def test_the_contract_imports_no_heavy_module_at_top_level():
    from pathlib import Path

    assert sep.SPEC.environments == ("demucs",)
    assert sep.SPEC.inputs == {"audio": "demux:audio_44k.wav"}
    source = Path(sep.__file__).read_text(encoding="utf-8")
    top_level = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert not [line for line in top_level
                if any(m in line for m in ("torch", "demucs", "numpy", "soundfile"))]


@pytest.mark.parametrize("text, signatures", [
    ("models: ['955717e8']\n", ["955717e8"]),
    ("models: ['f7e0c4bc', 'd12395a8']\nweights: [\n  [1., 0.],\n  [0., 1.],\n]\n",
     ["f7e0c4bc", "d12395a8"]),
    ("models:\n- 955717e8\n- 'd12395a8'\nsegment: 7.8\n", ["955717e8", "d12395a8"]),
    ("segment: 7.8\n", []),
])
def test_bag_signatures_reads_flow_and_block_yaml(tmp_path, text, signatures):
    path = tmp_path / "bag.yaml"
    path.write_text(text)
    assert sep.bag_signatures(path) == signatures


def test_a_snapshot_without_the_weights_its_bag_names_does_not_count(tmp_path):
    ctx = _ctx(tmp_path)
    hub = ctx.hardware.cache.hf_hub_cache
    snap = _hf_model(hub)
    (snap / "htdemucs.yaml").unlink()
    (snap / "htdemucs.yaml").write_text("models: ['0123abcd', '4567ef01']\n")
    torch_home = ctx.hardware.cache.torch_home
    assert sep.locate("htdemucs", "adefossez/HTDemucs", hub, torch_home) is None
    (snap / "htdemucs.yaml").write_text("models: ['0123abcd']\n")
    assert sep.locate("htdemucs", "adefossez/HTDemucs", hub, torch_home) is not None
