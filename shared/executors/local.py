"""The local executor: the whole group in one child process on this machine.

Consecutive launches in the same venv share one warm stage process (shared/stage_worker.py)
unless config/pipeline.toml says ``warm_stage_processes = false``; a launch in another venv
ends it, so at most one warm process waits at a time.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

from shared.config_files import load_toml
from shared.environment_manager import EnvironmentManager, RunResult, stage_argv
from shared.errors import PipelineError
from shared.executors import Launch, Needs, Outcome
from shared.paths import CONFIG_DIR
from shared.stage_worker import StageWorker


def warm_by_default() -> bool:
    runner = load_toml(CONFIG_DIR / "pipeline.toml").get("runner", {})
    return bool(runner.get("warm_stage_processes", True))


class LocalExecutor:
    name = "local"

    def __init__(self, manager: EnvironmentManager, warm: bool | None = None) -> None:
        self.manager = manager
        self.node = socket.gethostname()
        self.warm = warm_by_default() if warm is None else warm
        self.worker: StageWorker | None = None

    def check_ready(self, needs: Needs) -> None:
        self.manager.check_ready(needs.env)  # the plan checked the models are cached here

    def run(self, launch: Launch, on_line: Callable[[str], None] | None,
            on_start: Callable[[list[int], str], None] | None = None) -> Iterator[Outcome]:
        everyone = list(range(len(launch.job_dirs)))
        if on_start is not None:
            on_start(everyone, self.node)
        try:
            result = self._run(launch, on_line)
        except PipelineError as e:
            yield Outcome(everyone, self.node, error=e)
            return
        yield Outcome(everyone, self.node, result=result)

    def _run(self, launch: Launch, on_line: Callable[[str], None] | None) -> RunResult:
        if not self.warm:
            return self.manager.run_in_environment(
                launch.env, stage_argv(launch.stage, launch.job_dirs, launch.key),
                log_paths=launch.log_paths, timeout=launch.timeout, on_line=on_line,
                extra_env=launch.extra_env)
        if self.worker is not None and not self.worker.fits(launch.env, launch.extra_env):
            self.close()
        if self.worker is None:
            self.worker = StageWorker(self.manager, launch.env, launch.extra_env)
        result = self.worker.run(launch.stage, launch.job_dirs, launch.key,
                                 log_paths=launch.log_paths, timeout=launch.timeout,
                                 on_line=on_line)
        if not result.ok:
            self.worker = None  # it ended the process
        return result

    def slots(self) -> int:
        return 1

    def close(self) -> None:
        if self.worker is not None:
            self.worker, worker = None, self.worker
            worker.close()
