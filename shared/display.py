"""What the user sees while a run goes: plain lines when not a terminal (logs, CI), a rich
progress display in a terminal (stage n/N, per-stage progress, elapsed and ETA)."""

from __future__ import annotations

import json
import sys
import time
from typing import Protocol

from shared.stage import PROGRESS_PREFIX


class Display(Protocol):
    def begin(self, jobs: list[tuple[str, int]], dry_run: bool) -> None: ...
    def decision(self, job_id: str, key: str, action: str, reasons: list[str]) -> None: ...
    def stage_started(self, job_ids: list[str], key: str) -> None: ...
    def on_line(self, line: str) -> None: ...
    def stage_finished(self, job_id: str, key: str, seconds: float) -> None: ...
    def failed(self, job_id: str, key: str, reason: str) -> None: ...
    def progress(self, text: str) -> None: ...
    def end(self) -> None: ...


MAX_WARNINGS = 5  # per stage run; the rest stay in the stage's log


def stage_warning(line: str) -> str | None:
    """The message of a stage's WARNING log line ("<time> WARNING <logger>: <message>")."""
    if " WARNING " not in line:
        return None
    return line.split(" WARNING ", 1)[1].split(": ", 1)[-1]


class PlainDisplay:
    """One line per event on stdout: readable in logs and CI."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stdout
        self.multi = False
        self._last_progress = 0.0
        self._warnings = 0

    def _say(self, job_id: str, text: str) -> None:
        prefix = f"[{job_id}] " if self.multi else ""
        self.stream.write(f"{prefix}{text}\n")
        self.stream.flush()

    def begin(self, jobs, dry_run):
        self.multi = len(jobs) > 1
        for job_id, n in jobs:
            self._say(job_id, f"{'plan' if dry_run else 'run'} {job_id}: {n} stage(s)")

    def decision(self, job_id, key, action, reasons):
        self._say(job_id, f"  {key:<22} {action:<4}  {'; '.join(reasons)}")

    def stage_started(self, job_ids, key):
        self._started = time.monotonic()
        self._warnings = 0
        self.stream.write(f"  {key}: running ({len(job_ids)} job(s))\n")
        self.stream.flush()

    def on_line(self, line):
        warning = stage_warning(line)
        if warning is not None:
            self._warnings += 1
            if self._warnings <= MAX_WARNINGS:
                self.stream.write(f"    warning: {warning}\n")
            elif self._warnings == MAX_WARNINGS + 1:
                self.stream.write("    (more warnings in the stage's log)\n")
            self.stream.flush()
            return
        if not line.startswith(PROGRESS_PREFIX):
            return
        now = time.monotonic()
        if now - self._last_progress < 10:  # a line every 10 s at most
            return
        self._last_progress = now
        data = json.loads(line[len(PROGRESS_PREFIX):])
        if data.get("total"):
            pct = 100 * data["done"] / data["total"]
            self.stream.write(f"    {pct:5.1f}%  {data.get('note', '')}\n".rstrip() + "\n")
            self.stream.flush()

    def stage_finished(self, job_id, key, seconds):
        self._say(job_id, f"  {key}: done in {seconds:.1f}s")

    def failed(self, job_id, key, reason):
        self._say(job_id, f"  {key}: FAILED: {reason.splitlines()[0] if reason else ''}")

    def progress(self, text):
        self.stream.write(f"  {text}\n")
        self.stream.flush()

    def end(self):
        pass


class RichDisplay:
    """A live progress display for terminals."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console()
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.percentage:>5.1f}%"), TimeElapsedColumn(),
                                 TimeRemainingColumn(), console=self.console, transient=False)
        self.overall = None
        self.current = None
        self.total = 0

    def begin(self, jobs, dry_run):
        self.dry_run = dry_run
        self.total = sum(n for _, n in jobs)
        self.multi = len(jobs) > 1
        if not dry_run:
            self.progress.start()
            self.overall = self.progress.add_task("pipeline", total=self.total)

    def _print(self, text: str) -> None:
        (self.progress.console if not self.dry_run else self.console).print(text, markup=False)

    def decision(self, job_id, key, action, reasons):
        prefix = f"[{job_id}] " if self.multi else ""
        self._print(f"{prefix}{key:<22} {action:<4}  {'; '.join(reasons)}")
        if action == "skip" and self.overall is not None:
            self.progress.advance(self.overall)

    def stage_started(self, job_ids, key):
        done = int(self.progress.tasks[0].completed) + 1 if self.overall is not None else 0
        self.current = self.progress.add_task(f"{key} ({done}/{self.total})", total=None)

    def on_line(self, line):
        warning = stage_warning(line)
        if warning is not None:
            self.progress.console.print(f"  warning: {warning}", markup=False,
                                        style="yellow")
            return
        if self.current is None or not line.startswith(PROGRESS_PREFIX):
            return
        data = json.loads(line[len(PROGRESS_PREFIX):])
        self.progress.update(self.current, completed=data["done"], total=data["total"] or None)

    def stage_finished(self, job_id, key, seconds):
        if self.current is not None:
            task = self.progress.tasks[-1]
            self.progress.update(self.current, completed=task.total or 1, total=task.total or 1)
            self.current = None
        if self.overall is not None:
            self.progress.advance(self.overall)
        self._print(f"{key}: done in {seconds:.1f}s")

    def failed(self, job_id, key, reason):
        self._print(f"{key}: FAILED: {reason.splitlines()[0] if reason else ''}")

    def progress(self, text):
        self._print(text)

    def end(self):
        if not self.dry_run:
            self.progress.stop()


def make_console():
    """A rich Console: the terminal's width in a terminal; wide enough not to truncate table
    cells when the output goes to a file or a pipe."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=240)
