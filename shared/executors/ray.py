"""The Ray executor: a group of one stage across N jobs is split over the nodes that have the
stage's venv (the custom resource ``env:<name>`` that `node start` advertises), one stage
process per node and part, so a model still loads once per part. Ray retries a part whose
node or worker died (bounded); the driver records each part's jobs as soon as it returns.

The job root must be on storage every node mounts at the same path (README: Cluster)."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from shared.errors import InputError, PipelineError
from shared.executors import Launch, Needs, Outcome
from shared.threads import DEFAULT_THREADS, THREADS_ENV

logger = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
RETRIES = 2  # Ray re-runs a part this many times when its node or worker dies
NODE_WAIT_S = 60.0  # how long parts may wait while no alive node can run them (--ray-node-wait)
NODE_CHECK_S = 2.0  # how often a waiting driver asks the GCS which nodes are alive
MARKER = 0.001  # a task's demand on its env/model resources: a capability, not a count
MB = 1024 * 1024
NODE_NOTE = "# "  # the lines run_part adds to a stage's log (which node takes the job)
CONNECT_FIX = ("start a cluster first: ./run-pipeline.sh node start --head on one machine and "
               "./run-pipeline.sh node start --address HEAD:6379 on the others, then pass "
               "--ray-address HEAD:6379 (or auto on a node)")


def env_resource(env: str) -> str:
    return f"env:{env}"


def model_resource(name: str) -> str:
    return f"model:{name}"


def revision_resource(name: str, revision: str) -> str:
    """The resource naming the revision of a model a node holds (the fingerprint's)."""
    return f"{model_resource(name)}@{revision}"


def offered(nodes: list[dict]) -> dict[str, str | None]:
    """Model name -> the revision the alive nodes advertise for it (None: none or several),
    for every model:<name> resource an alive node has."""
    revisions: dict[str, set[str]] = {}
    for node in nodes:
        if not node.get("Alive"):
            continue
        for resource in node["Resources"]:
            if not resource.startswith("model:"):
                continue
            name, at, revision = resource.removeprefix("model:").partition("@")
            found = revisions.setdefault(name, set())
            if at:
                found.add(revision)
    return {name: next(iter(found)) if len(found) == 1 else None
            for name, found in revisions.items()}


def lacking(node: dict, needs: Needs) -> list[str]:
    """What of ``needs`` a node of ray.nodes() does not offer (empty: it qualifies)."""
    have = node["Resources"]
    missing = [] if have.get("CPU") else ["a CPU"]
    if not have.get(env_resource(needs.env)):
        missing.append(f"the {needs.env} environment")
    missing += [f"model {m}" for m in needs.models if not have.get(model_resource(m))]
    if needs.gpu and have.get("GPU", 0) < 1:
        missing.append("a GPU")
    if have.get("memory", 0) < needs.memory_mb * MB:
        missing.append(f"{needs.memory_mb} MB of memory")
    return missing


def task_options(needs: Needs, cpus: int = 1) -> dict[str, Any]:
    """The Ray task's demands: ``cpus`` CPUs, a GPU for cuda, the memory estimate, and a
    share of each env/model resource (only nodes that advertise them qualify)."""
    wanted = [env_resource(needs.env), *map(model_resource, needs.models)]
    return {"num_cpus": cpus, "num_gpus": 1 if needs.gpu else 0,
            "memory": needs.memory_mb * MB, "resources": dict.fromkeys(wanted, MARKER)}


def cpus_to_ask(needs: Needs, nodes: list[dict]) -> int:
    """A task's CPUs: the threads the job asks (its cpu_threads; else DEFAULT_THREADS, the
    machine default's cap), but no more than the smallest node that qualifies has, so every
    such node can take (or retry) any part. The stage process computes with that many."""
    have = [int(n["Resources"].get("CPU", 0)) for n in nodes]
    return max(1, min([needs.cpus or DEFAULT_THREADS, *have]))


def granted_threads(ray: Any) -> dict[str, str]:
    """On a node: the variables that size a stage process's compute threads to the CPUs the
    task was given (the stage's cpu_threads, and torch/OpenMP/BLAS pools). A stage process
    gets only the variables the EnvironmentManager passes, not the worker's OMP_NUM_THREADS."""
    cpus = str(max(1, round(ray.get_runtime_context().get_assigned_resources().get("CPU", 1))))
    return {THREADS_ENV: cpus, "OMP_NUM_THREADS": cpus, "MKL_NUM_THREADS": cpus,
            "OPENBLAS_NUM_THREADS": cpus}


def unmet(nodes: list[dict], needs: Needs) -> InputError | None:
    """Why no alive node can run a stage with ``needs``, with the fix; None if one can."""
    alive = [n for n in nodes if n.get("Alive")]
    gaps = {label(n): lacking(n, needs) for n in alive}
    if any(not gap for gap in gaps.values()):
        return None
    restart = "then restart it with ./run-pipeline.sh node start --address HEAD:6379"
    if not any(n["Resources"].get(env_resource(needs.env)) for n in alive):
        return InputError(
            f"no node of the Ray cluster has the {needs.env} environment ready (resource "
            f"{env_resource(needs.env)}), so its stages cannot run anywhere",
            fix=f"on a node: ./bootstrap.sh --envs {needs.env}, {restart}")
    gap_text = " ".join(sum(gaps.values(), []))
    fixes = []
    if "model " in gap_text:
        models = " ".join(f"--model {m}" for m in needs.models)
        fixes.append(f"cache the models on a node (./cache-models.sh {models}), {restart}")
    if "a GPU" in gap_text:
        fixes.append(f"start a node on a machine with a GPU, or run {needs.stage} on the CPU "
                     f"(prepare-job.sh --set {needs.stage}.device=cpu)")
    if "of memory" in gap_text:
        fixes.append("add a node with more free memory")
    env_gap = f"the {needs.env} environment"
    where = "; ".join(f"{node} lacks {', '.join(gap)}" for node, gap in gaps.items()
                      if env_gap not in gap)
    return InputError(f"no node of the Ray cluster offers all that {needs.stage} needs "
                      f"({where or 'no node is alive'})", fix="; or ".join(fixes) or CONNECT_FIX)


def label(node: dict) -> str:
    return f"{node.get('NodeManagerHostname', '?')}/{node.get('NodeID', '')[:8]}"


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


def split(lengths: list[float | None], parts: int) -> list[list[int]]:
    """The indices of jobs whose media last ``lengths`` seconds, dealt into ``parts``
    non-empty lists of nearly equal total length, each in job order: longest first, each to
    the part with the least so far (ties: the first part), so a library of films of unequal
    length keeps every node busy until near the end. Equal lengths deal round robin; an
    unknown length counts as the mean of the known ones."""
    known = [x for x in lengths if x]
    mean = sum(known) / len(known) if known else 1.0
    weight = [x or mean for x in lengths]
    parts = max(1, min(parts, len(lengths)))
    dealt: list[list[int]] = [[] for _ in range(parts)]
    totals = [0.0] * parts
    for index in sorted(range(len(weight)), key=lambda i: -weight[i]):
        least = totals.index(min(totals))
        dealt[least].append(index)
        totals[least] += weight[index]
    return [sorted(part) for part in dealt]


def media_lengths(launch: Launch) -> list[float | None]:
    """Each job's media duration (job.json; None where prepare could not tell)."""
    from shared import job as jobs

    return [jobs.load(job_dir).media.duration for job_dir in launch.job_dirs]


def run_part(launch: Launch) -> dict:
    """On a node (a Ray task): check the jobs' media are visible, then run the stage process
    through this node's EnvironmentManager, the task's worker as its parent (its watchdog
    stops it if the worker dies). Consecutive parts of one venv that reach the same Ray
    worker share a warm stage process, as local launches do (``node_executor``). A retried
    part runs only the jobs an earlier attempt did not finish (the runner removed every
    result.json before the launch)."""
    import ray

    from shared.environment_manager import RunResult

    node = node_label(ray)
    try:
        todo = unfinished(launch, node)
        earlier = {i: ran_on(launch.log_paths[i], launch.key) for i in
                   range(len(launch.job_dirs)) if i not in todo}
        if not todo:
            return {"node": node, "result": RunResult(launch.env, [], 0, 0.0),
                    "earlier": earlier}
        part = dataclasses.replace(launch.part(todo), extra_env={
            **launch.extra_env, **granted_threads(ray), "SUBPIPE_PARENT_PID": str(os.getpid())})
        result = node_executor().launch(part)
    except PipelineError as e:
        return {"node": node, "error": e.message, "fix": e.fix}
    return {"node": node, "result": result, "earlier": earlier}


_NODE_EXECUTOR: list[Any] = []  # this Ray worker's LocalExecutor, kept between its tasks


def node_executor() -> Any:
    """The LocalExecutor of this Ray worker process: Ray gives a node's next task to an idle
    worker of the same driver, so the warm stage process a part leaves (demux's, in common)
    serves the next part of that venv (metadata, glossary) without a new interpreter and its
    imports. It follows the node's config/pipeline.toml `warm_stage_processes`. Ray ends the
    worker when the driver goes, and the stage process's watchdog (its parent gone) then
    ends it."""
    if not _NODE_EXECUTOR:
        from shared import hardware_cache
        from shared.environment_manager import EnvironmentManager
        from shared.executors.local import LocalExecutor
        from shared.paths import hardware_cache_path

        manager = EnvironmentManager(hardware_cache.load(hardware_cache_path()))
        _NODE_EXECUTOR.append(LocalExecutor(manager))
    return _NODE_EXECUTOR[0]


def unfinished(launch: Launch, node: str) -> list[int]:
    """The indices of the launch's jobs this attempt must run (their media checked): those
    without an ok result.json. Each job's log says which node takes it."""
    from shared import job as jobs

    todo = []
    for index, (job_dir, log) in enumerate(zip(launch.job_dirs, launch.log_paths, strict=True)):
        job = jobs.load(job_dir)
        if finished_ok(launch, index):
            note(log, f"{launch.key}: finished by an earlier attempt; not run again on {node}")
            continue
        if not job.media.path.is_file():
            raise InputError(f"node {node} cannot see {job.media.path}",
                             fix="mount the media and the job root at the same path on "
                             "every node (README: Cluster)")
        note(log, f"{launch.key}: running on node {node}")
        todo.append(index)
    return todo


def ran_on(log: Path, key: str) -> str:
    """The node the log last says took the job (an earlier attempt's)."""
    mark = f"{NODE_NOTE}{key}: running on node "
    lines = [line for line in log.read_text("utf-8", errors="replace").splitlines()
             if line.startswith(mark)]
    return lines[-1][len(mark):].strip() if lines else "?"


def finished_ok(launch: Launch, index: int) -> bool:
    """The stage process wrote an ok result.json for the launch's job at ``index``."""
    from shared import job as jobs
    from shared.stage import RESULT_FILE, StageResult

    job_dir = launch.job_dirs[index]
    result = job_dir / jobs.load(job_dir).instance(launch.key).dir / RESULT_FILE
    try:
        return StageResult.model_validate_json(result.read_text("utf-8")).status == "ok"
    except (OSError, ValueError):
        return False


def failed_part(launch: Launch, indices: list[int], node: str,
                error: PipelineError) -> Iterator[Outcome]:
    """The outcomes of a part that failed for good: its jobs whose stage finished ok (on the
    node their log names) are ok, with a result for the runner to check and record; only
    the others fail with ``error``."""
    from shared.environment_manager import RunResult

    finished = [i for i in indices if finished_ok(launch, i)]
    for where in dict.fromkeys(ran_on(launch.log_paths[i], launch.key) for i in finished):
        yield Outcome([i for i in finished if ran_on(launch.log_paths[i], launch.key) == where],
                      where, result=RunResult(launch.env, [], 0, 0.0))
    rest = [i for i in indices if i not in finished]
    if rest:
        yield Outcome(rest, node, error=error)


def log_size(log: Path) -> int:
    return log.stat().st_size if log.is_file() else 0


def started_on(launch: Launch, indices: list[int], watch: dict[int, int]) -> str | None:
    """The node a part's first job's log says took it, from what was written to the log
    since the launch (None: not started yet)."""
    if not indices:
        return None
    log = launch.log_paths[indices[0]]
    if not log.is_file():
        return None
    with open(log, "rb") as handle:
        handle.seek(watch[indices[0]])
        text = handle.read(1 << 16).decode("utf-8", errors="replace")
    mark = f"{NODE_NOTE}{launch.key}: running on node "
    found = [line[len(mark):].strip() for line in text.splitlines() if line.startswith(mark)]
    return found[0] if found else None


def note(log: Path, text: str) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"{NODE_NOTE}{text}\n")


def node_label(ray: Any) -> str:
    import socket

    return f"{socket.gethostname()}/{ray.get_runtime_context().get_node_id()[:8]}"


class Stranded:
    """Watches, while parts are pending, whether any alive node can run them; gives the error
    once none could for ``wait_s`` seconds (checked every NODE_CHECK_S)."""

    def __init__(self, ray: Any, needs: Needs, wait_s: float) -> None:
        self.ray, self.needs, self.wait_s = ray, needs, wait_s
        self.checked = time.monotonic()
        self.since: float | None = None  # when no node could first be seen

    def check(self) -> PipelineError | None:
        now = time.monotonic()
        if now - self.checked < NODE_CHECK_S:
            return None
        self.checked = now
        problem = unmet(self.ray.nodes(), self.needs)
        if problem is None:
            self.since = None
            return None
        self.since = self.since if self.since is not None else now
        waited = now - self.since
        return stranded_error(self.needs.stage, waited, problem) if waited >= self.wait_s \
            else None


def stranded_error(stage: str, waited: float, problem: PipelineError) -> PipelineError:
    """Why parts left waiting for a node failed: no alive node could run them for ``waited``
    seconds (their node died and none other qualifies)."""
    return PipelineError(f"{stage} waited {waited:.0f} s for a node that can run it (its node "
                      f"died or left, and no other qualifies): {problem.message}",
                      fix=f"{problem.fix}; then run the same command again: finished stages "
                      "are kept")


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None, node_wait_s: float = NODE_WAIT_S) -> None:
        self.ray = connect(address)
        self.node_wait_s = node_wait_s

    def nodes_for(self, needs: Needs) -> list[dict]:
        return [n for n in self.ray.nodes() if n.get("Alive") and not lacking(n, needs)]

    def check_ready(self, needs: Needs) -> None:
        """The plan's feasibility check: a stage no node can run fails the run at once
        (else Ray would wait forever for such a node)."""
        problem = unmet(self.ray.nodes(), needs)
        if problem is not None:
            raise problem

    def run(self, launch: Launch, on_line: Callable[[str], None] | None,
            on_start: Callable[[list[int], str], None] | None = None) -> Iterator[Outcome]:
        needs = launch.requirements
        nodes = self.nodes_for(needs)
        task = self.ray.remote(run_part).options(
            **task_options(needs, cpus_to_ask(needs, nodes)), max_retries=RETRIES,
            retry_exceptions=False)
        parts = split(media_lengths(launch), len(nodes))
        watch = {i: log_size(launch.log_paths[i]) for i in range(len(launch.job_dirs))}
        pending = {task.remote(launch.part(indices)): indices for indices in parts}
        unseen = list(pending) if on_start is not None else []  # parts not seen starting
        stranded = Stranded(self.ray, needs, self.node_wait_s)
        while pending:
            done, _ = self.ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in list(unseen):
                node = started_on(launch, pending[ref], watch)
                if node is not None and on_start is not None:
                    unseen.remove(ref)
                    on_start(pending[ref], node)
            for ref in done:
                unseen = [r for r in unseen if r != ref]
                yield from self._outcomes(launch, ref, pending.pop(ref))
            error = stranded.check() if pending and not done else None
            if error is not None:
                # Ray would keep a retried part waiting for a node that never comes
                for ref in list(pending):
                    self.ray.cancel(ref, force=True)
                    yield from failed_part(launch, pending.pop(ref), "?", error)

    def offered_models(self) -> dict[str, str | None]:
        return offered(self.ray.nodes())

    def slots(self) -> int:
        return max(1, sum(1 for n in self.ray.nodes()
                          if n.get("Alive") and n["Resources"].get("CPU")))

    def _outcomes(self, launch: Launch, ref: Any, indices: list[int]) -> Iterator[Outcome]:
        """How a part ended: the jobs an earlier attempt finished (on the node that ran
        them), then the rest. A part that failed for good fails only its jobs whose stage
        did not finish (no ok result.json): the finished ones are recorded ok."""
        try:
            answer = self.ray.get(ref)
        except self.ray.exceptions.RayError as e:
            error = PipelineError(
                f"the Ray task failed after {RETRIES} retries: {str(e).splitlines()[0]}",
                fix="check the nodes (ray status) and run the same command again: finished "
                "stages are kept")
            yield from failed_part(launch, indices, "?", error)
            return
        if "error" in answer:
            error = PipelineError(answer["error"], fix=answer["fix"])
            yield from failed_part(launch, indices, answer["node"], error)
            return
        earlier = answer.get("earlier", {})
        for node in dict.fromkeys(earlier.values()):
            yield Outcome([indices[i] for i, n in earlier.items() if n == node], node,
                          result=answer["result"])
        rest = [index for i, index in enumerate(indices) if i not in earlier]
        if rest:
            yield Outcome(rest, answer["node"], result=answer["result"])

    def close(self) -> None:
        self.ray.shutdown()
