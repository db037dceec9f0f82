"""A warm stage process: one `python -m shared.stage_main --serve` child in a venv that runs
consecutive stage launches of that venv one after another (demux, metadata, glossary in
common; asr, alignment, songs in whisperx), so the interpreter start and the imports are paid
once per run of consecutive stages instead of once per stage.

Each launch stays what it was: the runner writes its request.json files, the process writes
each job's result.json, and the runner reads them and records lock.json after the launch, as
for a one-shot process. Its output goes to that launch's own logs (the process marks the end
of each launch with ``@@stage-done <token> <code>``). A launch that fails, times out or is
interrupted ends the warm process; the next launch starts a fresh one.

A process may be started ahead (``ahead``): the local executor starts the next venv's
process while the stages before it run and has it import that stage's modules and heavy
libraries, so the interpreter start and the imports overlap the earlier stages' work.
"""

from __future__ import annotations

import collections
import json
import queue
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from shared.environment_manager import (
    TAIL_LINES,
    EnvironmentManager,
    RunResult,
    deliver,
    kill,
    open_logs,
    stage_argv,
)
from shared.stage_main import DONE_PREFIX

SERVE_ARGV = ["-m", "shared.stage_main", "--serve"]


class StageWorker:
    def __init__(self, manager: EnvironmentManager, env: str, extra_env: dict[str, str]) -> None:
        python = manager.check_ready(env)
        self.env = env
        self.extra_env = dict(extra_env)
        self.command = [str(python), *SERVE_ARGV]
        self.proc = manager.start(self.command, manager.build_env(env, extra=self.extra_env),
                                  stdin=subprocess.PIPE)
        self.launches = 0
        self.ahead: str | None = None  # the stage it was started ahead for
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True, name=f"worker-{env}").start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self._lines.put(raw.rstrip("\n"))
        self._lines.put(None)

    def fits(self, env: str, extra_env: dict[str, str]) -> bool:
        """Can this process run a launch in ``env`` with ``extra_env``?"""
        return self.proc.poll() is None and env == self.env and extra_env == self.extra_env

    def import_ahead(self, stage: str) -> None:
        """Have the idle process import what ``stage``'s launch will (stage_main.import_ahead);
        its line goes to the log of the launch that follows."""
        self.ahead = stage
        self._send({"ahead": f"stages.{stage}"})

    def resident_mb(self) -> float | None:
        """The idle process's resident memory (Linux /proc), None where unknown or gone."""
        try:
            with open(f"/proc/{self.proc.pid}/status", encoding="ascii") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except (OSError, ValueError, IndexError):
            pass
        return None

    def run(self, stage: str, job_dirs: Sequence[Path], key: str, *,
            log_paths: Sequence[Path] = (), timeout: float | None = None,
            on_line: Callable[[str], None] | None = None) -> RunResult:
        """One stage launch in this process, its output into ``log_paths``; the process is
        stopped if the launch does not end well."""
        argv = stage_argv(stage, job_dirs, key)
        self.launches += 1
        started_ahead = ", started ahead" if self.ahead and self.launches == 1 else ""
        header = (f"$ [{self.env}] {' '.join(self.command[:1] + argv)}  "
                  f"(warm stage process {self.proc.pid}, launch {self.launches}{started_ahead})")
        handles = open_logs(log_paths, header)
        tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        started = time.monotonic()
        token = secrets.token_hex(6)
        timed_out, code = False, None
        try:
            self._order(stage, job_dirs, key, token)
            code = self._follow(token, started, timeout, handles, tail, on_line)
            timed_out = code is None
        except BaseException:  # Ctrl-C: take the process down with us, then re-raise
            kill(self.proc)
            raise
        finally:
            for handle in handles:
                if timed_out:
                    handle.write(f"[environment-manager] killed after {timeout:.0f}s timeout\n")
                handle.close()
        if timed_out:
            kill(self.proc)
        elif code != 0:  # a failed launch may leave the process in any state
            self.close()
        code = code if code is not None else self.proc.returncode
        return RunResult(env=self.env, argv=argv, returncode=code, duration_s=time.monotonic()
                         - started, log_paths=list(log_paths), timed_out=timed_out,
                         tail=list(tail))

    def _order(self, stage: str, job_dirs: Sequence[Path], key: str, token: str) -> None:
        self._send({"stage": f"stages.{stage}", "jobs": [str(j) for j in job_dirs], "key": key,
                    "token": token})

    def _send(self, order: dict) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(order) + "\n")
            self.proc.stdin.flush()
        except OSError:  # the process is gone: _follow reads its last words and exit code
            pass

    def _follow(self, token: str, started: float, timeout: float | None, handles: list,
                tail: collections.deque, on_line: Callable[[str], None] | None) -> int | None:
        """Deliver the launch's lines until its done line: its exit code; the process's own
        exit code if it died; None after ``timeout`` seconds."""
        done = f"{DONE_PREFIX}{token} "
        while True:
            left = None if timeout is None else timeout - (time.monotonic() - started)
            if left is not None and left <= 0:
                return None
            try:
                line = self._lines.get(timeout=min(left, 1.0) if left is not None else 1.0)
            except queue.Empty:
                continue
            if line is None:
                return self.proc.wait()
            if line.startswith(done):
                return int(line[len(done):] or 1)
            deliver(line, handles, tail, on_line)

    def close(self) -> None:
        """End the process: stdin closed (it exits after the current launch), then stopped."""
        if self.proc.poll() is None and self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        kill(self.proc)
