"""Every bootstrapped venv sees the project's caches and the offline switches, through the
EnvironmentManager, and bootstrap keeps a ready machine as it is (or repairs it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from shared import venvs
from shared.env_registry import load_registry
from shared.environment_manager import EnvironmentManager
from shared.paths import venv_python
from tests.helpers import ROOT, run_script

pytestmark = pytest.mark.integration

PROBE = str(Path(__file__).with_name("env_probe.py"))
HUB_USERS = {"common", "whisperx", "pyannote", "indictrans2", "nllb", "demucs"}
TORCH_USERS = {"whisperx", "pyannote", "indictrans2", "nllb", "demucs"}


def applicable_envs() -> list[str]:
    return [e.name for e in load_registry().environments.values() if e.applies_here()[0]]


@pytest.mark.parametrize("env", applicable_envs())
def test_probe_in_each_venv_sees_the_project_cache(env, test_cache, tmp_path):
    manager = EnvironmentManager(test_cache)
    result = manager.run_in_environment(env, [PROBE], log_paths=[tmp_path / "probe.log"],
                                        timeout=300)
    assert result.ok, f"probe failed in {env}:\n" + "\n".join(result.tail)
    report = json.loads(result.tail[-1])
    cache = test_cache.cache
    assert Path(report["prefix"]).resolve() == (ROOT / ".venvs" / env).resolve()
    assert report["env"]["HF_HOME"] == str(cache.hf_home)
    assert report["env"]["TORCH_HOME"] == str(cache.torch_home)
    assert report["env"]["MLX_CACHE_DIR"] == str(cache.mlx_home)
    assert report["env"]["HF_HUB_OFFLINE"] == "1"
    assert report["env"]["PYANNOTE_METRICS_ENABLED"] == "false"
    assert report["shared_imports"] is True
    if env in HUB_USERS:
        assert report["hf_hub_cache"] == str(cache.hf_hub_cache)
        assert report["hf_hub_offline"] is True
    if env in TORCH_USERS:
        assert report["torch_hub_dir"] == str(cache.torch_home / "hub")


def _bootstrap(tmp_path: Path, *args: str):
    env = {"SUBPIPE_HARDWARE_CACHE": str(tmp_path / "hw.json"), "CI": "true"}
    return run_script("bootstrap.sh", "--skip-cache", "--yes", "--cache-dir",
                      str(tmp_path / "cache"), *args, env=env, timeout=1200)


def test_bootstrap_rerun_on_a_ready_machine_changes_nothing(tmp_path, test_cache):
    envs = ",".join(applicable_envs())
    markers = {e: (ROOT / ".venvs" / e / venvs.MARKER).read_text() for e in applicable_envs()}
    proc = _bootstrap(tmp_path, "--envs", envs)
    assert proc.returncode == 0, proc.stderr
    for env in applicable_envs():
        assert f"ok   {env:<11} ready" in proc.stderr
        assert (ROOT / ".venvs" / env / venvs.MARKER).read_text() == markers[env]
    assert "build" not in proc.stderr
    written = json.loads((tmp_path / "hw.json").read_text())
    assert written["cache"]["hf_home"] == str(tmp_path / "cache" / "huggingface")
    assert (tmp_path / "cache" / "huggingface" / "hub" /
            "models--Systran--faster-whisper-base" / "refs" / "main").is_file()
    assert {"tmdb", "musicbrainz", "glossary"} <= set(written["cache"]["application_caches"])
    assert written["stage_environments"]["asr"] == ["whisperx"]
    assert "whisperx" in written["workflow_environments"]["transcribe"]


@pytest.mark.alone  # it deletes and rebuilds .venvs/llm, which other tests run
def test_bootstrap_repairs_a_half_built_venv(tmp_path, test_cache):
    llm = load_registry().get("llm")
    venv_python(llm.venv_dir).unlink()  # as if bootstrap was killed while building it
    (llm.venv_dir / venvs.MARKER).unlink()
    with pytest.raises(Exception, match="never finished|no interpreter"):
        EnvironmentManager(test_cache).check_ready("llm")
    proc = _bootstrap(tmp_path, "--envs", "llm")
    assert proc.returncode == 0, proc.stderr
    assert "build llm" in proc.stderr and "ok   llm" in proc.stderr
    assert venvs.venv_state(llm.venv_dir, llm.lock_file)[0] == "ready"
    forced = _bootstrap(tmp_path, "--envs", "llm", "--force")
    assert forced.returncode == 0 and "build llm        forced rebuild" in forced.stderr
    assert venvs.venv_state(llm.venv_dir, llm.lock_file)[0] == "ready"


def test_bootstrap_rejects_an_unknown_environment(tmp_path):
    proc = _bootstrap(tmp_path, "--envs", "common,whisperz")
    assert proc.returncode == 2
    assert "unknown environment 'whisperz'" in proc.stderr and "whisperx" in proc.stderr
    assert "Traceback" not in proc.stderr
    debug = _bootstrap(tmp_path, "--envs", "whisperz", "--debug")
    assert debug.returncode == 2 and "Traceback" in debug.stderr


def test_wrapper_without_a_usable_python_names_the_fix(tmp_path):
    fresh = tmp_path / "checkout"  # a fresh machine: the scripts, no venvs yet
    (fresh / "scripts").mkdir(parents=True)
    for name in ("prepare-job.sh", "scripts/wrapper.sh", "scripts/ensure_common.py", "uv.lock"):
        shutil.copy2(ROOT / name, fresh / name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "env"):
        real = next(Path(p) / tool for p in os.environ["PATH"].split(os.pathsep)
                    if (Path(p) / tool).exists())
        (bin_dir / tool).symlink_to(real)
    old = bin_dir / "python3"
    old.write_text("#!/bin/sh\nexit 1\n")  # a Python that is too old
    old.chmod(0o755)
    proc = subprocess.run([str(fresh / "prepare-job.sh"), "--help"], capture_output=True,
                          text=True, env={"PATH": str(bin_dir), "SUBPIPE_PYTHON": ""})
    assert proc.returncode == 2
    assert "no Python 3.10-3.13 found" in proc.stderr and "fix:" in proc.stderr
