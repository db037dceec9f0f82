"""The EnvironmentManager builds the exact child environment, streams output, enforces
timeouts and names the fix when a venv is unusable."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from shared import venvs
from shared.env_registry import load_registry
from shared.environment_manager import EnvironmentManager, stage_argv
from shared.errors import EnvironmentMissingError
from shared.hardware import HardwareInfo
from shared.hardware_cache import build
from shared.model_registry import load_models
from shared.paths import PROJECT_ROOT, venv_python
from shared.workflows import load_workflows

HW = HardwareInfo(os="linux", os_release="6", arch="x86_64", python="3.11", cpu_cores=2,
                  ram_mb=8000)


@pytest.fixture
def cache(tmp_path):
    return build(HW, load_registry(), load_models(), load_workflows(), cache_base=tmp_path / "c")


def fake_venv(tmp_path: Path, cache, env: str) -> Path:
    """A venv dir whose 'python' is this interpreter, marked ready for ``env``'s lock."""
    venv_dir = tmp_path / "venvs" / env
    python = venv_python(venv_dir)
    python.parent.mkdir(parents=True)
    python.symlink_to(sys.executable)
    spec = load_registry().get(env)
    (venv_dir / venvs.MARKER).write_text(json.dumps({"lock_sha256":
                                                     venvs.lock_sha256(spec.lock_file)}))
    cache.environments[env].path = venv_dir
    cache.environments[env].python = python
    return venv_dir


def test_child_environment_is_minimal_and_points_every_cache_at_the_project(cache, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("HOME", "/home/u")
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "fake-anthropic-key")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    for var in ("USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ",
                "TMPDIR", "TEMP", "TMP", "TERM", "LD_LIBRARY_PATH", "SSL_CERT_FILE",
                "REQUESTS_CA_BUNDLE", "NVIDIA_VISIBLE_DEVICES", "MALLOC_ARENA_MAX",
                "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.delenv(var, raising=False)
    manager = EnvironmentManager(cache)
    env = manager.build_env("whisperx")
    c = cache.cache
    venv = cache.environments["whisperx"].path
    assert env == {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": "/home/u",
        "CUDA_VISIBLE_DEVICES": "1",
        "TORCH_HOME": str(c.torch_home),
        "HF_HOME": str(c.hf_home),
        "HF_HUB_CACHE": str(c.hf_hub_cache),
        "TRANSFORMERS_CACHE": str(c.hf_hub_cache),
        "MLX_CACHE_DIR": str(c.mlx_home),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "PYTHONPATH": str(PROJECT_ROOT),
        "PYTHONUNBUFFERED": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONIOENCODING": "utf-8",
        "TOKENIZERS_PARALLELISM": "false",
        "PYANNOTE_METRICS_ENABLED": "false",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "DO_NOT_TRACK": "1",
        "VIRTUAL_ENV": str(venv),
        # the registry's fixed variables for whisperx (glibc malloc: asr's memory stays flat)
        "MALLOC_ARENA_MAX": "2",
        "MALLOC_MMAP_THRESHOLD_": "4194304",
        "MALLOC_TRIM_THRESHOLD_": "4194304",
    }
    online = manager.build_env("whisperx", offline=False)
    assert "HF_HUB_OFFLINE" not in online and "TRANSFORMERS_OFFLINE" not in online
    llm = manager.build_env("llm")
    assert llm["ANTHROPIC_API_KEY"] == "fake-anthropic-key"  # listed under passthrough for llm only
    assert "HF_TOKEN" not in llm
    assert "MALLOC_ARENA_MAX" not in llm  # fixed variables are the environment's own
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "1048576")  # the caller's value wins
    tuned = manager.build_env("whisperx")
    assert (tuned["MALLOC_MMAP_THRESHOLD_"], tuned["MALLOC_ARENA_MAX"]) == ("1048576", "2")
    assert "MALLOC_MMAP_THRESHOLD_" not in manager.build_env("llm")


def test_missing_half_built_and_stale_venvs_name_the_bootstrap_command(cache, tmp_path):
    manager = EnvironmentManager(cache)
    cache.environments["whisperx"].path = tmp_path / "nowhere"
    with pytest.raises(EnvironmentMissingError) as missing:
        manager.check_ready("whisperx")
    assert missing.value.fix == "./bootstrap.sh --envs whisperx"
    venv_dir = fake_venv(tmp_path, cache, "whisperx")
    assert manager.check_ready("whisperx") == venv_python(venv_dir)
    (venv_dir / venvs.MARKER).write_text(json.dumps({"lock_sha256": "old"}))
    with pytest.raises(EnvironmentMissingError, match="changed since"):
        manager.check_ready("whisperx")
    (venv_dir / venvs.MARKER).unlink()
    with pytest.raises(EnvironmentMissingError, match="never finished"):
        manager.check_ready("whisperx")


def test_environment_for_another_platform_is_refused_with_a_reason(cache):
    with pytest.raises(EnvironmentMissingError, match="darwin-arm64"):
        EnvironmentManager(cache).check_ready("mlx")


def test_run_streams_output_to_logs_and_progress_lines_only_to_the_callback(cache, tmp_path):
    fake_venv(tmp_path, cache, "common")
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    seen = []
    code = ("import os, sys; print('hello', os.environ['HF_HUB_OFFLINE']); "
            "print('@@progress {\"done\": 1, \"total\": 2}'); sys.stderr.write('warn\\n'); "
            "sys.exit(3)")
    result = EnvironmentManager(cache).run_in_environment(
        "common", ["-c", code], log_paths=logs, on_line=seen.append)
    assert result.returncode == 3 and not result.ok and not result.timed_out
    assert result.tail == ["hello 1", "warn"]
    assert '@@progress {"done": 1, "total": 2}' in seen
    for log in logs:
        command, *output = log.read_text().splitlines()
        assert command.startswith("$ [common] ")
        assert output == ["hello 1", "warn"]


def test_timeout_kills_the_child(cache, tmp_path):
    fake_venv(tmp_path, cache, "common")
    result = EnvironmentManager(cache).run_in_environment(
        "common", ["-c", "import time; print('start', flush=True); time.sleep(60)"],
        log_paths=[tmp_path / "t.log"], timeout=1.5)
    assert result.timed_out and not result.ok
    assert result.duration_s < 30
    assert "killed after" in (tmp_path / "t.log").read_text()


def test_stage_argv_lists_every_job_of_a_batch():
    argv = stage_argv("asr", [Path("/j/a"), Path("/j/b")])
    assert argv == ["-m", "shared.stage_main", "stages.asr", "--job", "/j/a", "--job", "/j/b"]
    assert stage_argv("subtitles", [Path("/j/a")], "subtitles:en")[-2:] == ["--key", "subtitles:en"]
