"""How the runner executes one stage process for a group of jobs.

The runner decides what runs, writes each job's request.json and, after each success, the
job's lock.json; an executor only launches stage processes and reports how each ended:
`local` (one child process on this machine, through the EnvironmentManager: the default;
consecutive launches in one venv share a warm process, shared/stage_worker.py) or `ray` (the
group split over the nodes of a Ray cluster that have the stage's venv; on each node the
parts run through a local executor kept in Ray's worker, so its stage processes stay warm).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from shared.environment_manager import EnvironmentManager, RunResult
from shared.errors import InputError, PipelineError

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class Needs:
    """What a stage process needs of the machine that runs it: its venv, the registry models
    it loads, a GPU when its device is cuda, an estimate of its memory, and the CPU threads
    its job asks (the stage's cpu_threads setting; 0: the machine's default)."""
    stage: str
    env: str
    models: tuple[str, ...] = ()
    gpu: bool = False
    memory_mb: int = 0
    cpus: int = 0


def combined(needs: list[Needs]) -> Needs:
    """What one process running several jobs' instances of a stage needs: all of it."""
    first = needs[0]
    return Needs(first.stage, first.env,
                 tuple(dict.fromkeys(m for n in needs for m in n.models)),
                 any(n.gpu for n in needs), max(n.memory_mb for n in needs),
                 max(n.cpus for n in needs))


@dataclass
class Launch:
    """One stage process for ``job_dirs`` (their request.json files are written)."""
    key: str
    stage: str
    env: str
    job_dirs: list[Path]
    log_paths: list[Path]
    timeout: float
    extra_env: dict[str, str]
    needs: Needs | None = None  # None: the venv only
    # (stage, venv) of the next launch the runner expects in another venv: an executor with
    # warm processes may start that one now (shared/stage_worker.py, started ahead)
    then: tuple[str, str] | None = None

    def part(self, indices: list[int]) -> Launch:
        return Launch(self.key, self.stage, self.env, [self.job_dirs[i] for i in indices],
                      [self.log_paths[i] for i in indices], self.timeout, dict(self.extra_env),
                      self.needs, self.then)

    @property
    def requirements(self) -> Needs:
        return self.needs or Needs(self.stage, self.env)


@dataclass
class Outcome:
    """How the process that ran the jobs at ``indices`` of a Launch ended, and where."""
    indices: list[int]
    node: str
    result: RunResult | None = None
    error: PipelineError | None = None


class Executor(Protocol):
    name: str

    def check_ready(self, needs: Needs) -> None:
        """Raise a PipelineError (with the fix) if no process with ``needs`` can start."""

    def run(self, launch: Launch, on_line: Callable[[str], None] | None,
            on_start: Callable[[list[int], str], None] | None = None) -> Iterator[Outcome]:
        """Run the launch; call ``on_start(indices, node)`` when a part starts on a node;
        yield each part's outcome as soon as it ends."""

    def slots(self) -> int:
        """How many stage processes run at once (the ETA divides by it)."""

    def offered_models(self) -> dict[str, str | None]:
        """Registry models the machines that run stages have though this one may not (name
        -> revision, None when not one): the plan counts them as available."""

    def close(self) -> None: ...


def make_executor(name: str, manager: EnvironmentManager, address: str | None = None,
                  node_wait_s: float | None = None) -> Executor:
    if name == "local":
        from shared.executors.local import LocalExecutor
        return LocalExecutor(manager)
    if name == "ray":
        from shared.executors.ray import NODE_WAIT_S, RayExecutor
        return RayExecutor(address, NODE_WAIT_S if node_wait_s is None else node_wait_s)
    raise InputError(f"unknown executor '{name}'", fix=f"use one of: {', '.join(EXECUTORS)}")
