"""The Ray executor: a group of one stage across N jobs is split over the nodes that have the
stage's venv (the custom resource ``env:<name>`` that `node start` advertises), one stage
process per node and part, so a model still loads once per part. Ray retries a part whose
node or worker died (bounded); the driver records each part's jobs as soon as it returns.

The job root must be on storage every node mounts at the same path (README: Cluster)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

from shared.errors import InputError, PipelineError
from shared.executors import Launch, Outcome

logger = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
RETRIES = 2  # Ray re-runs a part this many times when its node or worker dies
MARKER = 0.001  # a task's demand on its env resource: a capability, not a count
CONNECT_FIX = ("start a cluster first: ./run-pipeline.sh node start --head on one machine and "
               "./run-pipeline.sh node start --address HEAD:6379 on the others, then pass "
               "--ray-address HEAD:6379 (or auto on a node)")


def env_resource(env: str) -> str:
    return f"env:{env}"


def connect(address: str | None) -> Any:
    """ray, connected to the cluster at ``address`` (auto: the one this machine belongs to)."""
    if address and address.rpartition(":")[0] in LOOPBACK:
        # a cluster on this machine only: keep Ray from swapping 127.0.0.1 for the host's
        # address (its nodes listen on loopback alone)
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    try:
        import ray
    except ImportError as e:
        raise InputError("--executor ray needs Ray, which this machine's common venv lacks",
                         fix="./bootstrap.sh --with cluster") from e
    if ray.is_initialized():
        return ray
    try:
        # the driver attaches to this machine's node: the one on the address facing the head
        local = reachable(address) if address and address != "auto" else None
        ray.init(address=address or "auto", logging_level=logging.ERROR,
                 log_to_driver=False, configure_logging=False, _node_ip_address=local)
    except (OSError, RuntimeError, ValueError) as e:
        raise InputError(f"no Ray cluster reachable at {address or 'auto'}: "
                         f"{str(e).splitlines()[0] if str(e) else type(e).__name__}",
                         fix=CONNECT_FIX) from e
    return ray


def reachable(address: str) -> str:
    """This machine's IP address towards the head; OSError unless the head's port answers
    (ray.init would retry for minutes)."""
    import socket

    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"'{address}' is not HOST:PORT")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        return conn.getsockname()[0]


def split(count: int, parts: int) -> list[list[int]]:
    """0..count-1 dealt round-robin into ``parts`` non-empty lists."""
    parts = max(1, min(parts, count))
    return [list(range(start, count, parts)) for start in range(parts)]


def run_part(launch: Launch) -> dict:
    """On a node (a Ray task): check the jobs' media are visible, then run the stage process
    through this node's EnvironmentManager, the task's worker as its parent (its watchdog
    stops it if the worker dies)."""
    import ray

    from shared import hardware_cache
    from shared import job as jobs
    from shared.environment_manager import EnvironmentManager, stage_argv
    from shared.paths import hardware_cache_path

    node = node_label(ray)
    try:
        for job_dir in launch.job_dirs:
            media = jobs.load(job_dir).media.path
            if not media.is_file():
                raise InputError(f"node {node} cannot see {media}",
                                 fix="mount the media and the job root at the same path on "
                                 "every node (README: Cluster)")
        manager = EnvironmentManager(hardware_cache.load(hardware_cache_path()))
        result = manager.run_in_environment(
            launch.env, stage_argv(launch.stage, launch.job_dirs, launch.key),
            log_paths=launch.log_paths, timeout=launch.timeout,
            extra_env={**launch.extra_env, "SUBPIPE_PARENT_PID": str(os.getpid())})
    except PipelineError as e:
        return {"node": node, "error": e.message, "fix": e.fix}
    return {"node": node, "result": result}


def node_label(ray: Any) -> str:
    import socket

    return f"{socket.gethostname()}/{ray.get_runtime_context().get_node_id()[:8]}"


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None) -> None:
        self.ray = connect(address)

    def nodes_with(self, env: str) -> list[dict]:
        wanted = env_resource(env)
        return [n for n in self.ray.nodes() if n.get("Alive")
                and n["Resources"].get(wanted) and n["Resources"].get("CPU")]

    def check_ready(self, env: str) -> None:
        if not self.nodes_with(env):
            raise InputError(
                f"no node of the Ray cluster has the {env} environment ready (resource "
                f"{env_resource(env)}), so its stages cannot run anywhere",
                fix=f"on a node: ./bootstrap.sh --envs {env}, then restart it with "
                "./run-pipeline.sh node start --address HEAD:6379")

    def run(self, launch: Launch, on_line: Callable[[str], None] | None
            ) -> Iterator[Outcome]:
        task = self.ray.remote(run_part).options(
            num_cpus=1, resources={env_resource(launch.env): MARKER}, max_retries=RETRIES,
            retry_exceptions=False)
        parts = split(len(launch.job_dirs), len(self.nodes_with(launch.env)))
        pending = {task.remote(launch.part(indices)): indices for indices in parts}
        while pending:
            done, _ = self.ray.wait(list(pending), num_returns=1)
            indices = pending.pop(done[0])
            yield self._outcome(done[0], indices)

    def _outcome(self, ref: Any, indices: list[int]) -> Outcome:
        try:
            answer = self.ray.get(ref)
        except self.ray.exceptions.RayError as e:
            return Outcome(indices, "?", error=PipelineError(
                f"the Ray task failed after {RETRIES} retries: {str(e).splitlines()[0]}",
                fix="check the nodes (ray status) and run the same command again: finished "
                "stages are kept"))
        if "error" in answer:
            return Outcome(indices, answer["node"],
                           error=PipelineError(answer["error"], fix=answer["fix"]))
        return Outcome(indices, answer["node"], result=answer["result"])

    def close(self) -> None:
        self.ray.shutdown()
