"""Kill -9 a stage at a known point of its work: `python -m tests.halt_after N stages.X ARGS`
runs the stage as `python -m shared.stage_main stages.X ARGS` would, except that right after its
checkpoint (shared.checkpoint) records N finished pieces the process stops itself (SIGSTOP).
``kill_after`` starts that, waits until the process is stopped there, and kills it with
SIGKILL, as a crash or `kill -9` would: the real stage up to a real checkpoint, then no
chance to clean up."""

from __future__ import annotations

import os
import runpy
import signal
import subprocess
import sys
from pathlib import Path


def kill_after(pieces: int, python: Path, module: str, args: list[str], env: dict[str, str],
               cwd: Path, log: Path) -> None:
    """Run ``module`` until its checkpoint records ``pieces`` finished pieces, then kill it
    (-9); its output is appended to ``log``. Fails when it ends before that point."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen([str(python), "-m", "tests.halt_after", str(pieces), module,
                                 *args], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        _, status = os.waitpid(proc.pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            proc.returncode = os.waitstatus_to_exitcode(status)
            raise AssertionError(f"{module} ended (exit {proc.returncode}) before its "
                                 f"checkpoint recorded {pieces} pieces:\n{log.read_text()}")
        proc.kill()
        proc.wait()


def main() -> None:
    from shared import checkpoint

    pieces = int(sys.argv[1])
    sys.argv = ["shared.stage_main", *sys.argv[2:]]
    save = checkpoint.Checkpoint.save

    def save_then_stop(self, *args, **kwargs) -> None:
        save(self, *args, **kwargs)
        if self.done >= pieces:
            os.kill(os.getpid(), signal.SIGSTOP)

    checkpoint.Checkpoint.save = save_then_stop
    runpy.run_module("shared.stage_main", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
