"""How many compute threads a stage process uses.

A local run uses the stage's ``cpu_threads`` (its resolve fills in the machine's default,
hardware_cache's min(cores, DEFAULT_THREADS)). An executor that gives a stage process a
number of CPUs (Ray: the task's num_cpus) says so in SUBPIPE_CPU_THREADS, and that number
replaces the setting in the process, so a node never runs more compute threads than the
CPUs its tasks were given. The threads change how fast a stage runs, not what it writes:
``cpu_threads`` is not part of the fingerprint (shared/fingerprint.py RUNTIME_PARAMS).
"""

from __future__ import annotations

import os
from typing import Any

THREADS_ENV = "SUBPIPE_CPU_THREADS"
DEFAULT_THREADS = 8  # the machine default's cap (as hardware_cache.py resolves it)


def granted() -> int | None:
    """The CPUs the executor gave this process (None: it did not say)."""
    value = os.environ.get(THREADS_ENV, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def with_grant(params: dict[str, Any]) -> dict[str, Any]:
    """A request's params with ``cpu_threads`` set to the executor's grant; unchanged when
    there is none or the stage has no such setting."""
    cpus = granted()
    if cpus is None or "cpu_threads" not in params:
        return params
    return {**params, "cpu_threads": cpus}
