"""Errors a user can act on. Each names what went wrong and the command or step that fixes it.

Exit codes are decided only at the CLI edge: ``exit_code`` is a hint it reads.
"""

from __future__ import annotations

from pathlib import Path


class PipelineError(Exception):
    """Base of every expected failure; ``fix`` tells the user what to do about it."""

    exit_code = 1

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        if self.fix:
            return f"{self.message}\n  fix: {self.fix}"
        return self.message


class InputError(PipelineError):
    """Bad user input (a missing file, an unknown language, a malformed option): exit 2."""

    exit_code = 2


class ConfigError(PipelineError):
    """A config file (registry, hardware cache, job.json) is missing or invalid."""


class EnvironmentMissingError(PipelineError):
    """A stage's virtualenv is missing, half-built or stale."""


class ModelMissingError(PipelineError):
    """A model a stage needs is not in the project cache."""


class JobBusyError(PipelineError):
    """Another run-pipeline process holds this job."""


class PreflightError(InputError):
    """The check before any stage ran found problems (every one of every job, listed at
    once): exit 2, nothing ran."""

    def __init__(self, problems: list[tuple[list[str], PipelineError]]) -> None:
        """``problems``: (the "job X, stage Y" places it was found in, the error)."""
        lines = [f"{len(problems)} problem(s) found before any stage ran (nothing was run):"]
        for where, error in problems:
            shown = ", ".join(where[:6]) + (f" and {len(where) - 6} more" if len(where) > 6
                                             else "")
            lines.append(f"  - {shown}: {error.message}")
            if error.fix:
                lines.append(f"      fix: {error.fix}")
        super().__init__("\n".join(lines),
                         fix="fix each problem above, then run the same command again")
        self.problems = problems


class StageFailedError(PipelineError):
    """A stage process exited non-zero, timed out, or did not produce its outputs."""

    def __init__(self, stage: str, job_id: str, log_path: Path, tail: list[str], reason: str):
        lines = "\n".join(f"    {line}" for line in tail) if tail else "    (no output)"
        super().__init__(
            f"stage '{stage}' failed for job {job_id}: {reason}\n"
            f"  log: {log_path}\n  last lines:\n{lines}",
            fix=f"read {log_path}, fix the cause, then re-run: completed stages are kept",
        )
        self.stage = stage
        self.job_id = job_id
        self.log_path = log_path
        self.tail = tail
        self.reason = reason
