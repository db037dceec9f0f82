"""node start: join this machine to a Ray cluster (thin wrapper over `ray start`), after the
bootstrap checks, advertising what it can run: `env:<name>` for each ready venv, `model:<name>`
for each cached model that loads offline (cache-models --verify), and the device (CPUs, GPUs,
memory come from Ray's own probe)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from shared import venvs
from shared.env_registry import load_registry
from shared.environment_manager import EnvironmentManager
from shared.errors import InputError
from shared.executors.ray import env_resource, model_resource, revision_resource
from shared.hardware_cache import HardwareCache
from shared.model_registry import load_models
from shared.paths import PROJECT_ROOT

logger = logging.getLogger("node")


def ready_envs(cache: HardwareCache) -> list[str]:
    """The venvs of this machine that are built from their current lock."""
    ready = []
    for spec in load_registry().select([]):
        entry = cache.environments.get(spec.name)
        if entry is not None and not entry.applicable:
            continue
        state, reason = venvs.venv_state(spec.venv_dir, spec.lock_file)
        if state == "ready":
            ready.append(spec.name)
        else:
            logger.warning("env %s not advertised: %s (fix: ./bootstrap.sh --envs %s)",
                           spec.name, reason, spec.name)
    return ready


def verified_models(cache: HardwareCache, verify: bool = True) -> list[str]:
    """The cached models that load offline here (cache-models.sh --verify on each), or,
    without ``verify``, every model the cache holds."""
    from scripts import model_cache

    registry = load_models()
    cached = [r.spec for r in model_cache.list_rows(cache, registry)
              if r.status in ("cached", "bundled")]
    if not verify:
        return [spec.name for spec in cached]
    rows = model_cache.verify(cache, cached, EnvironmentManager(cache))
    for row in rows:
        if row.status != "ok":
            logger.warning("model %s not advertised: %s %s", row.spec.name, row.status,
                           row.detail)
    return [r.spec.name for r in rows if r.status == "ok"]


def node_resources(cache: HardwareCache, verify_models: bool) -> dict[str, float]:
    """env:<name> per ready venv, model:<name> per verified model and model:<name>@<commit>
    for its revision (a driver without the model puts it in the stage's fingerprint)."""
    resources = {env_resource(name): 1.0 for name in ready_envs(cache)}
    registry = load_models()
    for name in verified_models(cache, verify_models):
        resources[model_resource(name)] = 1.0
        revision = registry.model(name).cached_revision(cache.cache.hf_hub_cache)
        if revision:
            resources[revision_resource(name, revision)] = 1.0
    return resources


def ray_start_command(head: bool, address: str | None, port: int,
                      resources: dict[str, float], num_cpus: int | None) -> list[str]:
    if head == bool(address):
        raise InputError("node start needs exactly one of --head or --address HOST:PORT",
                         fix="./run-pipeline.sh node start --head on the first machine, "
                         "./run-pipeline.sh node start --address HEAD:6379 on the others")
    ray = Path(sys.executable).parent / "ray"
    if not ray.exists():
        raise InputError("node start needs Ray, which this machine's common venv lacks",
                         fix="./bootstrap.sh --with cluster")
    cmd = [str(ray), "start", "--resources", json.dumps(resources, sort_keys=True)]
    cmd += ["--head", "--port", str(port), "--include-dashboard=false"] if head else [
        "--address", str(address)]
    if num_cpus is not None:
        cmd += ["--num-cpus", str(num_cpus)]
    return cmd


def start(cmd: list[str]) -> int:
    """Run `ray start` with the project on PYTHONPATH, so its workers import the pipeline."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run(cmd, env=env, cwd=PROJECT_ROOT).returncode
