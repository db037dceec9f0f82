"""The executor seam's pure parts, node start's checks and bootstrap --with (the cluster
itself: tests/e2e/test_ray_cluster.py)."""

from __future__ import annotations

import json
import shlex

import pytest

from shared import venvs
from shared.executors import Needs, combined
from shared.executors.ray import MB, cpus_to_ask, offered, split, task_options, unmet
from shared.paths import VENVS_DIR
from tests.helpers import run_script


def test_a_group_is_dealt_into_one_part_per_node_of_nearly_equal_audio():
    assert split([60.0] * 6, 2) == [[0, 2, 4], [1, 3, 5]]  # equal films: round robin
    assert split([60.0, 60.0], 5) == [[0], [1]]  # never an empty part
    assert split([60.0] * 3, 0) == [[0, 1, 2]]  # no node counted yet: one part
    films = [180 * 60.0, 90 * 60.0, 170 * 60.0, 100 * 60.0]  # round robin: 350 min vs 190
    parts = split(films, 2)
    assert parts == [[0, 1], [2, 3]]
    assert [sum(films[i] for i in part) for part in parts] == [270 * 60.0, 270 * 60.0]
    # a length prepare could not tell counts as the mean of the others
    assert split([100.0, None, 300.0, 200.0], 2) == [[0, 2], [1, 3]]  # 400 s each
    assert split([None, None, None], 2) == [[0, 2], [1]]


def node(name: str, **resources: float) -> dict:
    """One entry of ray.nodes() as Ray 2.58 returns it."""
    return {"Alive": True, "NodeManagerHostname": name, "NodeID": name * 8,
            "Resources": {"CPU": 1.0, "memory": 4096 * MB, **resources}}


ASR = Needs("asr", "whisperx", ("faster-whisper-base",), memory_mb=546)


def test_a_stage_runs_only_where_its_venv_models_gpu_and_memory_are():
    whole = node("a", **{"env:whisperx": 1.0, "model:faster-whisper-base": 1.0})
    no_model = node("b", **{"env:whisperx": 1.0})
    assert unmet([whole, no_model], ASR) is None
    problem = unmet([no_model], ASR)
    assert problem is not None
    assert "b/bbbbbbbb lacks model faster-whisper-base" in problem.message
    assert "./cache-models.sh --model faster-whisper-base" in problem.fix
    assert "node start --address" in problem.fix
    gpu = unmet([whole], Needs("asr", "whisperx", gpu=True))
    assert gpu is not None and "lacks a GPU" in gpu.message
    assert "--set asr.device=cpu" in gpu.fix
    big = unmet([whole], Needs("asr", "whisperx", memory_mb=8192))
    assert big is not None and "lacks 8192 MB of memory" in big.message
    venv = unmet([whole], Needs("source_separation", "demucs"))
    assert venv is not None and "./bootstrap.sh --envs demucs" in venv.fix


def test_the_driver_learns_which_models_and_revisions_the_alive_nodes_offer():
    a = node("a", **{"model:faster-whisper-base": 1.0, "model:faster-whisper-base@c1": 1.0,
                     "model:htdemucs": 1.0, "env:whisperx": 1.0})
    b = node("b", **{"model:faster-whisper-base": 1.0, "model:faster-whisper-base@c1": 1.0,
                     "model:htdemucs": 1.0, "model:htdemucs@c2": 1.0})
    c = node("c", **{"model:htdemucs@c3": 1.0, "model:htdemucs": 1.0, "model:nllb": 1.0})
    assert offered([a, b]) == {"faster-whisper-base": "c1", "htdemucs": "c2"}
    # two revisions of htdemucs: not one to fingerprint; a dead node's models do not count
    assert offered([a, b, c]) == {"faster-whisper-base": "c1", "htdemucs": None, "nllb": None}
    assert offered([a, {**c, "Alive": False}]) == {"faster-whisper-base": "c1",
                                                   "htdemucs": None}


def test_a_task_asks_for_what_the_stage_needs():
    options = task_options(Needs("asr", "whisperx", ("faster-whisper-base",), True, 546))
    assert options["num_gpus"] == 1 and options["memory"] == 546 * MB
    assert set(options["resources"]) == {"env:whisperx", "model:faster-whisper-base"}
    group = combined([ASR, Needs("asr", "whisperx", ("faster-whisper-base",), memory_mb=900)])
    assert group.memory_mb == 900 and group.models == ("faster-whisper-base",)


def test_a_task_asks_for_the_threads_its_job_asks_as_far_as_every_node_has_them():
    small = node("a", **{"env:whisperx": 1.0})
    big = {**node("b"), "Resources": {**node("b")["Resources"], "CPU": 16.0}}
    assert cpus_to_ask(ASR, [big]) == 8  # no cpu_threads set: the machine default's cap
    assert cpus_to_ask(Needs("asr", "whisperx", cpus=4), [big]) == 4  # --set asr.cpu_threads
    assert cpus_to_ask(Needs("asr", "whisperx", cpus=4), [big, small]) == 1  # fits anywhere
    assert task_options(ASR, cpus_to_ask(ASR, [small]))["num_cpus"] == 1
    group = combined([ASR, Needs("asr", "whisperx", cpus=2)])
    assert group.cpus == 2


def test_a_stage_process_computes_with_the_cpus_its_executor_gave_it(monkeypatch):
    from shared import threads

    params = {"cpu_threads": 2, "beam_size": 5}
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    assert threads.with_grant(params) == params  # a local run: the resolved setting
    monkeypatch.setenv(threads.THREADS_ENV, "1")
    assert threads.with_grant(params) == {"cpu_threads": 1, "beam_size": 5}
    assert threads.with_grant({"beam_size": 5}) == {"beam_size": 5}  # no such setting
    monkeypatch.setenv(threads.THREADS_ENV, "zero")
    assert threads.with_grant(params) == params


def test_node_start_advertises_the_ready_venvs():
    proc = run_script("run-pipeline.sh", "node", "start", "--head", "--port", "6399",
                      "--num-cpus", "1", "--no-verify-models", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    command = shlex.split(proc.stdout.strip().splitlines()[-1])
    assert command[1:3] == ["start", "--resources"]
    resources = json.loads(command[3])
    assert resources["env:common"] == 1.0 and resources["env:whisperx"] == 1.0
    assert resources["model:faster-whisper-base"] == 1.0  # cached (embedded), not loaded
    from shared import hardware_cache
    from shared.model_registry import load_models
    from shared.paths import hardware_cache_path

    hub = hardware_cache.load(hardware_cache_path()).cache.hf_hub_cache
    commit = load_models().model("faster-whisper-base").cached_revision(hub)
    assert resources[f"model:faster-whisper-base@{commit}"] == 1.0  # for the fingerprint
    assert "--head" in command and "6399" in command and "--address" not in command


def test_node_start_needs_head_or_address():
    both = run_script("run-pipeline.sh", "node", "start", "--head", "--address",
                      "127.0.0.1:6379", "--no-verify-models", "--dry-run")
    assert both.returncode == 2
    assert "exactly one of --head or --address" in both.stderr


@pytest.mark.alone  # bootstrap on the project: may add Ray to .venvs/common
def test_bootstrap_with_cluster_keeps_ray_in_the_common_venv():
    proc = run_script("bootstrap.sh", "--skip-cache", "--yes", "--envs", "common", "--with",
                      "cluster")
    assert proc.returncode == 0, proc.stderr
    assert "cluster" in venvs.installed_groups(VENVS_DIR / "common")
    assert (VENVS_DIR / "common" / "bin" / "ray").exists()
    wrong = run_script("bootstrap.sh", "--skip-cache", "--yes", "--envs", "common", "--with",
                       "gpu-farm")
    assert wrong.returncode == 2 and "unknown --with group(s): gpu-farm" in wrong.stderr
