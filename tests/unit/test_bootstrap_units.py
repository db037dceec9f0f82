"""Bootstrap's failure paths that a real machine rarely shows: no uv and no network, a disk
too small, a hardware cache written for another checkout."""

from __future__ import annotations

import json
import subprocess
from collections import namedtuple

import pytest

from scripts import bootstrap
from shared import hardware_cache, venvs
from shared.env_registry import load_registry
from shared.errors import ConfigError, PipelineError
from shared.hardware import CudaDevice, HardwareInfo
from shared.model_registry import load_models
from shared.workflows import load_workflows

HW = HardwareInfo(os="linux", os_release="6", arch="x86_64", python="3.11", cpu_cores=4,
                  ram_mb=8000)


def test_no_uv_and_no_network_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setattr(venvs.shutil, "which", lambda name: None)

    def offline(cmd, **kwargs):
        if "pip" in cmd:
            raise subprocess.CalledProcessError(1, cmd)
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(venvs.subprocess, "run", offline)
    with pytest.raises(RuntimeError) as error:
        venvs.ensure_uv(tmp_path / "tools", "/usr/bin/python3")
    message = str(error.value)
    assert "uv is not installed and could not be installed" in message
    assert f"-m pip install uv=={venvs.UV_VERSION}" in message


def test_too_little_disk_is_refused_before_building(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(bootstrap.shutil, "disk_usage", lambda p: usage(10, 9, 2 * 2**30))
    with pytest.raises(PipelineError, match="not enough disk for the whisperx venv: 2.0 GB free"):
        bootstrap.check_disk(tmp_path, 7.5, "the whisperx venv")
    bootstrap.check_disk(tmp_path, 1.0, "the llm venv")  # enough: no error


def test_hardware_cache_from_another_checkout_asks_for_a_new_bootstrap(tmp_path):
    cache = hardware_cache.build(HW, load_registry(), load_models(), load_workflows(),
                                 cache_base=tmp_path / "c")
    data = json.loads(cache.model_dump_json())
    data["project_root"] = "/somewhere/else"
    data["environments"]["common"]["path"] = "/somewhere/else/.venvs/common"
    path = tmp_path / "hw.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="was written for /somewhere/else") as error:
        hardware_cache.load(path)
    assert "./bootstrap.sh --skip-cache" in error.value.fix


def test_hardware_cache_with_a_wrong_field_names_it(tmp_path):
    cache = hardware_cache.build(HW, load_registry(), load_models(), load_workflows(),
                                 cache_base=tmp_path / "c")
    data = json.loads(cache.model_dump_json())
    data["defaults"]["batch_size"] = "lots"
    path = tmp_path / "hw.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="defaults.batch_size") as error:
        hardware_cache.load(path)
    assert "./bootstrap.sh" in error.value.fix


def test_profile_follows_the_hardware():
    registry, workflows = load_registry(), load_workflows()
    cpu = hardware_cache.build(HW, registry, load_models(), workflows)
    assert (cpu.defaults.profile, cpu.defaults.device, cpu.defaults.compute_type) == (
        "cpu", "cpu", "int8")
    gpu = HW.model_copy(update={"cuda_devices": [CudaDevice(index=0, name="T4", vram_mb=15360)]})
    cuda = hardware_cache.build(gpu, registry, load_models(), workflows)
    assert (cuda.defaults.profile, cuda.defaults.compute_type) == ("cuda", "float16")
    assert cuda.defaults.batch_size == 8  # 16 GB card: half the profile's batch
    mac = HW.model_copy(update={"os": "darwin", "arch": "arm64", "apple_silicon": True})
    assert hardware_cache.build(mac, registry, load_models(), workflows).defaults.profile == "apple"
