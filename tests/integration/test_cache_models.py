"""cache-models reports the embedded model as cached and loads it offline in its venv; it
tells missing from corrupt and names the fix."""

from __future__ import annotations

import shutil

import pytest

from shared import embedded_model, hf_cache
from tests.helpers import NO_NETWORK, make_model_cache, run_script

pytestmark = pytest.mark.integration


def test_list_shows_the_embedded_model_cached_and_the_rest_missing(test_cache):
    proc = run_script("cache-models.sh", "--list")
    assert proc.returncode == 0, proc.stderr
    rows = {line.split("│")[1].strip(): line for line in proc.stdout.splitlines()
            if line.count("│") > 3}
    assert "cached" in rows["faster-whisper-base"]
    assert "missing" in rows["faster-whisper-small"]
    assert "bundled" in rows["silero-vad"]
    assert "cached" in rows["pyannote-segmentation"]  # installed by the fixture from whisperx


def test_verify_loads_the_embedded_model_offline(test_cache):
    proc = run_script("cache-models.sh", "--verify", "--workflow", "transcribe")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = next(line for line in proc.stdout.splitlines() if "faster-whisper-base" in line)
    assert "OK" in line and "multilingual" in proc.stdout


def test_verify_for_the_whole_profile_names_what_is_missing(test_cache):
    proc = run_script("cache-models.sh", "--verify", "--profile", "cpu")
    assert proc.returncode == 1
    assert "MISSING" in proc.stdout and "./cache-models.sh --model" in proc.stdout


def test_dry_run_lists_downloads_without_touching_the_network(test_cache):
    proc = run_script("cache-models.sh", "--dry-run", "--stage", "asr", "--profile", "cuda")
    assert proc.returncode == 0, proc.stderr
    assert "would download Systran/faster-whisper-large-v3" in proc.stderr


def test_dry_run_of_named_models_and_a_stage_with_several_slots(test_cache):
    proc = run_script("cache-models.sh", "--dry-run", "--model", "nllb-200-3.3B",
                      "--model", "indictrans2-en-indic-1B")
    assert proc.returncode == 0, proc.stderr
    assert "would download facebook/nllb-200-3.3B" in proc.stderr
    assert "would download ai4bharat/indictrans2-en-indic-1B" in proc.stderr
    proc = run_script("cache-models.sh", "--dry-run", "--stage", "translation", "--profile", "cpu")
    assert proc.returncode == 0, proc.stderr
    for repo in ("indictrans2-indic-en-dist-200M", "indictrans2-en-indic-dist-200M",
                 "indictrans2-indic-indic-dist-320M", "nllb-200-distilled-600M"):
        assert repo in proc.stderr
    proc = run_script("cache-models.sh", "--dry-run", "--model", "no-such-model")
    assert proc.returncode != 0 and "unknown model 'no-such-model'" in proc.stderr


def test_verify_reports_a_corrupt_model_with_the_fix(tmp_path):
    cache, path = make_model_cache(tmp_path)
    snap = hf_cache.snapshot_dir(cache.cache.hf_hub_cache, embedded_model.REPO_ID)
    blob = (snap / "model.bin").resolve()
    with open(blob, "r+b") as handle:  # a download cut short
        handle.truncate(blob.stat().st_size // 2)
    proc = run_script("cache-models.sh", "--verify", "--workflow", "transcribe",
                      env={"SUBPIPE_HARDWARE_CACHE": str(path)})
    assert proc.returncode == 1
    assert "CORRUPT" in proc.stdout and "model.bin" in proc.stdout
    assert "./bootstrap.sh" in proc.stdout  # the embedded model's fix
    shutil.rmtree(hf_cache.repo_folder(cache.cache.hf_hub_cache, embedded_model.REPO_ID))
    proc = run_script("cache-models.sh", "--list", env={"SUBPIPE_HARDWARE_CACHE": str(path)})
    assert "missing" in next(line for line in proc.stdout.splitlines()
                             if "faster-whisper-base" in line)


def test_whisper_base_resolves_by_name_offline_in_the_whisperx_venv(test_cache, tmp_path):
    from shared.environment_manager import EnvironmentManager

    code = NO_NETWORK + (
        "from faster_whisper import WhisperModel\n"
        "model = WhisperModel('base', device='cpu', compute_type='int8')\n"
        "print('resolved', model.model.is_multilingual, 'attempts', len(attempts))")
    result = EnvironmentManager(test_cache).run_in_environment(
        "whisperx", ["-c", code], log_paths=[tmp_path / "base.log"], timeout=300)
    assert result.ok, "\n".join(result.tail)
    assert result.tail[-1] == "resolved True attempts 0"


def test_pyannote_segmentation_is_installed_from_the_whisperx_wheel_and_loads_offline(
        tmp_path):
    """pyannote/segmentation is gated on the hub; cache-models installs the whisperx wheel's
    copy (the same checkpoint) with no network, and --verify loads it in the pyannote venv."""
    from shared import pyannote_checkpoint

    cache, path = make_model_cache(tmp_path, embedded=False)
    env = {"SUBPIPE_HARDWARE_CACHE": str(path), "HF_ENDPOINT": "http://127.0.0.1:9"}
    if pyannote_checkpoint.wheel_copy(cache.environments["whisperx"].path) is None:
        pytest.skip("needs the whisperx venv (./bootstrap.sh --envs whisperx)")
    proc = run_script("cache-models.sh", "--model", "pyannote-segmentation", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "installed from the whisperx wheel" in proc.stderr
    check = hf_cache.check_repo(cache.cache.hf_hub_cache, pyannote_checkpoint.REPO_ID)
    assert check.status == "ok" and check.revision == pyannote_checkpoint.REVISION
    proc = run_script("cache-models.sh", "--verify", "--model", "pyannote-segmentation", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = next(line for line in proc.stdout.splitlines() if "pyannote-segmentation" in line)
    assert "OK" in line and "PyanNet" in proc.stdout
