"""The local executor: the whole group in one child process on this machine."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

from shared.environment_manager import EnvironmentManager, stage_argv
from shared.errors import PipelineError
from shared.executors import Launch, Needs, Outcome


class LocalExecutor:
    name = "local"

    def __init__(self, manager: EnvironmentManager) -> None:
        self.manager = manager
        self.node = socket.gethostname()

    def check_ready(self, needs: Needs) -> None:
        self.manager.check_ready(needs.env)  # the plan checked the models are cached here

    def run(self, launch: Launch, on_line: Callable[[str], None] | None,
            on_start: Callable[[list[int], str], None] | None = None) -> Iterator[Outcome]:
        everyone = list(range(len(launch.job_dirs)))
        if on_start is not None:
            on_start(everyone, self.node)
        try:
            result = self.manager.run_in_environment(
                launch.env, stage_argv(launch.stage, launch.job_dirs, launch.key),
                log_paths=launch.log_paths, timeout=launch.timeout, on_line=on_line,
                extra_env=launch.extra_env)
        except PipelineError as e:
            yield Outcome(everyone, self.node, error=e)
            return
        yield Outcome(everyone, self.node, result=result)

    def slots(self) -> int:
        return 1

    def offered_models(self) -> dict[str, str | None]:
        return {}  # stages run here: only this machine's cache counts

    def close(self) -> None:
        pass
