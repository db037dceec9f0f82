"""The local executor: the whole group in one child process on this machine.

Launches in the same venv share one warm stage process (shared/stage_worker.py) unless
config/pipeline.toml says ``warm_stage_processes = false``. When a launch goes to another
venv, the warm processes of the others are ended, except small ones (resident memory under
IDLE_KEEP_MB: the common venv's, which the subtitles stage uses again after asr): a process
that held a model never waits idle beside the next stage's. The process of the venv the
runner expects next (``Launch.then``) is started ahead, as the launch before it begins, and
imports that stage's libraries meanwhile; it holds no model until its own launch.
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

IDLE_KEEP_MB = 256


def warm_by_default() -> bool:
    runner = load_toml(CONFIG_DIR / "pipeline.toml").get("runner", {})
    return bool(runner.get("warm_stage_processes", True))


class LocalExecutor:
    name = "local"

    def __init__(self, manager: EnvironmentManager, warm: bool | None = None) -> None:
        self.manager = manager
        self.node = socket.gethostname()
        self.warm = warm_by_default() if warm is None else warm
        self.workers: dict[str, StageWorker] = {}  # venv -> its warm stage process

    def check_ready(self, needs: Needs) -> None:
        self.manager.check_ready(needs.env)  # the plan checked the models are cached here

    def run(self, launch: Launch, on_line: Callable[[str], None] | None,
            on_start: Callable[[list[int], str], None] | None = None) -> Iterator[Outcome]:
        everyone = list(range(len(launch.job_dirs)))
        if on_start is not None:
            on_start(everyone, self.node)
        try:
            result = self.launch(launch, on_line)
        except PipelineError as e:
            yield Outcome(everyone, self.node, error=e)
            return
        yield Outcome(everyone, self.node, result=result)

    def launch(self, launch: Launch, on_line: Callable[[str], None] | None = None
               ) -> RunResult:
        """Run the whole launch in one stage process of this machine (warm, when on)."""
        if not self.warm:
            return self.manager.run_in_environment(
                launch.env, stage_argv(launch.stage, launch.job_dirs, launch.key),
                log_paths=launch.log_paths, timeout=launch.timeout, on_line=on_line,
                extra_env=launch.extra_env)
        for env, worker in list(self.workers.items()):
            if env == launch.env and worker.fits(launch.env, launch.extra_env):
                continue
            if env != launch.env and worker.launches == 0 and worker.proc.poll() is None:
                continue  # started ahead: it holds no model
            if env == launch.env or (worker.resident_mb() or IDLE_KEEP_MB) >= IDLE_KEEP_MB:
                del self.workers[env]
                worker.close()
        worker = self.workers.get(launch.env)
        if worker is None:
            worker = self.workers[launch.env] = StageWorker(self.manager, launch.env,
                                                            launch.extra_env)
        self.start_ahead(launch.then, launch.extra_env)
        result = worker.run(launch.stage, launch.job_dirs, launch.key,
                            log_paths=launch.log_paths, timeout=launch.timeout, on_line=on_line)
        if not result.ok:
            del self.workers[launch.env]  # it ended the process
        return result

    def start_ahead(self, then: tuple[str, str] | None, extra_env: dict[str, str]) -> None:
        """Start the process of the launch expected next, in another venv, and have it import
        that stage's libraries while this launch runs (nothing when it is there already, or
        the venv is not ready: that launch will say so)."""
        if then is None:
            return
        stage, env = then
        if env in self.workers:
            return
        try:
            worker = StageWorker(self.manager, env, extra_env)
        except PipelineError:
            return
        worker.import_ahead(stage)
        self.workers[env] = worker

    def slots(self) -> int:
        return 1

    def offered_models(self) -> dict[str, str | None]:
        return {}  # stages run here: only this machine's cache counts

    def close(self) -> None:
        while self.workers:
            _, worker = self.workers.popitem()
            worker.close()
