"""shared/model_choice.py: one way from a model setting or a profile slot to what a stage
loads, or the standard error with its fix; and the device default."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from shared import hf_cache
from shared.env_registry import load_registry
from shared.errors import InputError, ModelMissingError
from shared.hardware_cache import build
from shared.model_choice import choose_model, device_for, model_ref
from shared.model_registry import load_models
from shared.stage import ResolveContext
from shared.workflows import load_workflows
from tests.unit.test_asr_options import HW

CACHED = "Systran/faster-whisper-base"


@pytest.fixture
def ctx(tmp_path):
    cache = build(HW, load_registry(), load_models(), load_workflows(), cache_base=tmp_path)
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"x")
    hf_cache.install_snapshot(cache.cache.hf_hub_cache, CACHED, "b" * 40, {"model.bin": weights})
    return ResolveContext(hardware=cache, models=load_models(), profile="cpu", lang=None,
                          job=SimpleNamespace(source_lang="en"))


def test_a_setting_by_name_alias_repo_or_folder_gives_what_to_load(ctx, tmp_path):
    assert choose_model("faster-whisper-base", ctx, what="ASR model") == CACHED
    assert choose_model("base", ctx, what="ASR model", aliases=("faster-whisper-base",)) == CACHED
    assert choose_model(CACHED, ctx, what="ASR model") == CACHED
    folder = tmp_path / "my-model"
    folder.mkdir()
    assert choose_model(str(folder), ctx, what="ASR model") == str(folder.resolve())
    assert model_ref(str(folder.resolve()), ctx).revision == "local"
    ref = model_ref(CACHED, ctx)
    assert (ref.name, ref.repo_id, ref.revision) == ("faster-whisper-base", CACHED, "b" * 40)


def test_without_a_setting_the_profile_slot_picks_the_first_cached_model(ctx):
    assert choose_model(None, ctx, what="ASR model", slot="asr") == CACHED


def test_unknown_and_uncached_models_are_errors_with_their_fix(ctx):
    with pytest.raises(InputError, match="unknown alignment model 'nonsense'") as error:
        choose_model("nonsense", ctx, what="alignment model")
    assert "./cache-models.sh --list" in error.value.fix
    with pytest.raises(ModelMissingError, match="ASR model Systran/faster-whisper-small is "
                       "not in the cache") as error:
        choose_model("faster-whisper-small", ctx, what="ASR model", missing_fix=" (or not)")
    assert error.value.fix == "./cache-models.sh --model faster-whisper-small   (needs network)" \
        " (or not)"
    with pytest.raises(ModelMissingError) as error:
        choose_model("org/unlisted", ctx, what="translation model")
    assert "download org/unlisted --cache-dir" in error.value.fix


def test_the_device_is_the_users_else_the_machines_when_supported(ctx):
    assert device_for("cuda", ctx) == "cuda"
    machine = ctx.hardware.defaults.device
    assert device_for(None, ctx, (machine,)) == machine
    assert device_for(None, ctx, ("not-this-machine",)) == "cpu"


def test_a_model_the_cluster_nodes_offer_counts_though_this_cache_lacks_it(ctx):
    """--executor ray: the driver's cache need not hold a model the nodes advertise; the
    stage gets its repo id (the node loads it) and the fingerprint the nodes' revision."""
    small = "Systran/faster-whisper-small"
    ctx.offered = {"faster-whisper-small": "c" * 40}
    assert choose_model("small", ctx, what="ASR model",
                        aliases=("faster-whisper-small",)) == small
    ref = model_ref(small, ctx)
    assert (ref.name, ref.repo_id, ref.revision) == ("faster-whisper-small", small, "c" * 40)
    assert model_ref(CACHED, ctx).revision == "b" * 40  # cached here: this cache's revision
    # the profile's first candidate that is cached here or offered
    first = load_models().candidates("cpu", "asr")[0]
    ctx.offered = {first.name: None}
    assert choose_model(None, ctx, what="ASR model", slot="asr") == first.repo_id


def test_the_process_bodies_load_on_the_device_the_plan_resolved(monkeypatch):
    """device_for (in resolve) is the one place a device defaults: the vad and alignment
    bodies load on the resolved device (cuda here, not their own "cpu") and refuse params
    that never went through resolve rather than guessing."""
    import sys

    from stages.alignment import AlignmentParams
    from stages.alignment.run import _aligner
    from stages.vad import VadParams
    from stages.vad.run import scorer_key

    assert scorer_key(VadParams(backend="pyannote", device="cuda"))[1] == "cuda"
    with pytest.raises(AssertionError, match="resolve\\(\\) sets the device"):
        scorer_key(VadParams(backend="pyannote"))
    built = []
    fake = SimpleNamespace(Aligner=lambda *args: built.append(args) or "aligner")
    monkeypatch.setitem(sys.modules, "stages.alignment.wav2vec2", fake)
    monkeypatch.setitem(sys.modules, "torch", SimpleNamespace(set_num_threads=lambda n: None))
    loaded: dict = {}
    assert _aligner(loaded, "org/tiny", "hi", AlignmentParams(device="cuda")) == "aligner"
    assert built[0][:3] == ("org/tiny", "hi", "cuda") and list(loaded) == [("org/tiny", "cuda")]
    with pytest.raises(AssertionError, match="resolve\\(\\) sets the device"):
        _aligner(loaded, "org/tiny", "hi", AlignmentParams())
