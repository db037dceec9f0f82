"""The executor seam's pure parts, node start's checks and bootstrap --with (the cluster
itself: tests/e2e/test_ray_cluster.py)."""

from __future__ import annotations

import json
import shlex

from shared import venvs
from shared.executors.ray import split
from shared.paths import VENVS_DIR
from tests.helpers import run_script


def test_a_group_is_dealt_round_robin_into_one_part_per_node():
    assert split(6, 2) == [[0, 2, 4], [1, 3, 5]]
    assert split(2, 5) == [[0], [1]]  # never an empty part
    assert split(3, 0) == [[0, 1, 2]]  # no node counted yet: one part


def test_node_start_advertises_the_ready_venvs():
    proc = run_script("run-pipeline.sh", "node", "start", "--head", "--port", "6399",
                      "--num-cpus", "1", "--no-verify-models", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    command = shlex.split(proc.stdout.strip().splitlines()[-1])
    assert command[1:3] == ["start", "--resources"]
    resources = json.loads(command[3])
    assert resources["env:common"] == 1.0 and resources["env:whisperx"] == 1.0
    assert "--head" in command and "6399" in command and "--address" not in command


def test_node_start_needs_head_or_address():
    both = run_script("run-pipeline.sh", "node", "start", "--head", "--address",
                      "127.0.0.1:6379", "--no-verify-models", "--dry-run")
    assert both.returncode == 2
    assert "exactly one of --head or --address" in both.stderr


def test_bootstrap_with_cluster_keeps_ray_in_the_common_venv():
    proc = run_script("bootstrap.sh", "--skip-cache", "--yes", "--envs", "common", "--with",
                      "cluster")
    assert proc.returncode == 0, proc.stderr
    assert "cluster" in venvs.installed_groups(VENVS_DIR / "common")
    assert (VENVS_DIR / "common" / "bin" / "ray").exists()
    wrong = run_script("bootstrap.sh", "--skip-cache", "--yes", "--envs", "common", "--with",
                       "gpu-farm")
    assert wrong.returncode == 2 and "unknown --with group(s): gpu-farm" in wrong.stderr
