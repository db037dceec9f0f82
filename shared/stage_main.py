"""The one entry point of every stage process:
`python -m shared.stage_main stages.<name> --job DIR [--job DIR ...] [--key K]`.

Loads the requests, calls the stage's ``setup`` once for the whole batch (so a model loads
once per batch), then ``process`` per job, writing each job's result.json as soon as that
job is done: a crash in job 7 loses nothing of jobs 1-6.

`python -m shared.stage_main --serve` is a warm stage process (shared/stage_worker.py starts
it): it reads one order per line on stdin (``{"stage", "jobs", "key", "token"}``), runs that
batch exactly as above, and prints ``@@stage-done <token> <exit code>`` when it is done, so
consecutive stages of one venv pay the interpreter start and the imports once. An order
``{"ahead": "stages.<name>"}`` (a process started while the stages before run) imports that
stage's modules and its ``warm_imports`` and prints one line saying so, no done line.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared.errors import PipelineError
from shared.stage import (
    RESULT_FILE,
    StageOutcome,
    StageRequest,
    StageResult,
    StageSpec,
    load_callable,
    load_request,
    load_spec,
    relative_outputs,
    write_result,
)
from shared.threads import with_grant

logger = logging.getLogger("stages")

PARENT_PID_ENV = "SUBPIPE_PARENT_PID"
DONE_PREFIX = "@@stage-done "
_watching: list[bool] = []  # the parent watchdog runs once per process
_children_peak_kib: list[int] = [0]  # children's peak RSS before this batch (--serve)


def _watch_parent() -> None:
    """Exit when the runner that started us dies (kill -9, closed terminal): an orphaned
    stage must not keep writing into a job that the next run will redo."""
    expected = os.environ.get(PARENT_PID_ENV)
    if not expected or os.name == "nt" or _watching:
        return
    _watching.append(True)

    def watch() -> None:
        while True:
            if os.getppid() != int(expected):
                logging.getLogger("stages").error("runner (pid %s) is gone: stopping", expected)
                os._exit(3)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True, name="parent-watchdog").start()


def stage_dir_for(job_dir: Path, key: str) -> Path:
    job = json.loads((job_dir / "job.json").read_text("utf-8"))
    for instance in job.get("stages", []):
        if instance.get("key") == key:
            return job_dir / instance["dir"]
    raise PipelineError(f"job {job_dir} has no stage '{key}'")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--serve"]:
        return serve()
    parser = argparse.ArgumentParser(prog="python -m shared.stage_main",
                                     description="run one stage for a batch of jobs")
    parser.add_argument("stage", help="the stage's package, e.g. stages.asr")
    parser.add_argument("--job", action="append", required=True, type=Path,
                        help="job folder (repeat for a batch)")
    parser.add_argument("--key", help="stage instance, e.g. subtitles:en (default: the stage)")
    args = parser.parse_args(argv)
    spec = load_spec(args.stage.removeprefix("stages."))
    return run_batch(spec, args.job, args.key or spec.name)


def serve() -> int:
    """Run the batches ordered on stdin one after another until stdin closes. Orders come on
    a private copy of stdin; fd 0 becomes /dev/null, so a child (ffmpeg) cannot eat them."""
    orders = os.fdopen(os.dup(0), "r", encoding="utf-8")  # os.dup: not inherited
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - for the process's life
    for line in orders:
        if not line.strip():
            continue
        order = json.loads(line)
        if "ahead" in order:
            import_ahead(order["ahead"])
            continue
        _reset_peak_rss()
        try:
            spec = load_spec(order["stage"].removeprefix("stages."))
            code = run_batch(spec, [Path(j) for j in order["jobs"]], order.get("key") or spec.name)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except Exception as e:  # noqa: BLE001 - the runner reads the missing result.json
            _describe(e)
            code = 1
        gc.collect()  # the batch's models go before the next stage loads its own
        sys.stderr.flush()
        sys.stdout.write(f"{DONE_PREFIX}{order.get('token', '')} {code}\n")
        sys.stdout.flush()
    return 0


def import_ahead(stage: str) -> None:
    """Import what ``stage``'s first launch will (its modules, its warm_imports) before it is
    ordered; one line on stderr says what and how long. What fails to import is left to the
    launch, which reports it as it always does; a warm import this venv lacks is skipped."""
    import importlib

    started = time.perf_counter()
    done = []
    stage = stage.removeprefix("stages.")
    try:
        spec = load_spec(stage)
        for reference in filter(None, (spec.process, spec.setup)):
            load_callable(reference)
            done.append(reference.partition(":")[0])
        for module in spec.warm_imports:
            try:
                importlib.import_module(module)
            except ImportError:  # not in this venv (an engine that does without it)
                continue
            done.append(module)
    except Exception as e:  # noqa: BLE001 - the launch imports them again and says why
        sys.stderr.write(f"[warm] importing ahead for {stage} stopped: {e}\n")
    sys.stderr.write(f"[warm] imported ahead for {stage} while earlier stages ran: "
                     f"{', '.join(dict.fromkeys(done)) or 'nothing'} "
                     f"({time.perf_counter() - started:.2f} s)\n")
    sys.stderr.flush()


def _reset_peak_rss() -> None:
    """A warm process measures each batch's peak on its own: reset the kernel's high-water
    mark (Linux; elsewhere the figure is the process's peak so far) and remember the
    children's, which cannot be reset."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass
    try:
        import resource
    except ImportError:
        return
    _children_peak_kib[0] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def run_batch(spec: StageSpec, job_dirs: list[Path], key: str) -> int:
    """setup once, then process each job, writing each job's result.json as it finishes."""
    process: Callable[[StageRequest, Any], StageOutcome] = load_callable(spec.process)
    setup = load_callable(spec.setup) if spec.setup else None
    logging.basicConfig(level=os.environ.get("SUBPIPE_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    _watch_parent()

    requests: list[StageRequest] = []
    for job_dir in job_dirs:
        stage_dir = stage_dir_for(job_dir.resolve(), key)
        (stage_dir / RESULT_FILE).unlink(missing_ok=True)
        request = load_request(stage_dir)
        request.params = with_grant(request.params)  # the CPUs an executor gave this process
        requests.append(request)

    try:
        state = setup(requests) if setup else None
    except Exception as e:  # noqa: BLE001 - reported per job below
        message = _describe(e)
        for request in requests:
            write_result(request.stage_dir, StageResult(status="failed", error=message))
        return 1

    failed = 0
    for request in requests:
        started = time.monotonic()
        logger.info("%s: job %s", request.key, request.job_id)
        try:
            outcome = process(request, state)
        except Exception as e:  # noqa: BLE001 - one job's failure must not lose the others
            failed += 1
            write_result(request.stage_dir, StageResult(
                status="failed", error=_describe(e), duration_s=time.monotonic() - started))
            continue
        write_result(request.stage_dir, StageResult(
            status="ok", outputs=relative_outputs(request, outcome.outputs),
            info={**outcome.info, "peak_rss_mb": peak_rss_mb(), **threads_used(request)},
            degraded=list(outcome.degraded), duration_s=round(time.monotonic() - started, 3)))
    return 1 if failed else 0


def threads_used(request: StageRequest) -> dict[str, int]:
    """The compute threads the stage ran with (lock.json info; not in the fingerprint), for
    a stage that has the setting."""
    threads = request.params.get("cpu_threads")
    return {"cpu_threads": threads} if isinstance(threads, int) else {}


def peak_rss_mb() -> float | None:
    """This stage process's peak resident memory in this batch, or that of a child it waited
    for (ffmpeg) when larger, in MB (lock.json info: bench/long_film.py reads it). A child's
    peak counts only if it grew in this batch (a warm process ran earlier stages' children)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    scale = 2**20 if sys.platform == "darwin" else 2**10  # bytes on macOS, KiB on Linux
    own = _high_water_kib() if scale == 2**10 else None
    if own is None:
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if children <= _children_peak_kib[0]:
        children = 0
    return round(max(own, children) / scale, 1)


def _high_water_kib() -> int | None:
    """VmHWM of /proc/self/status (reset by _reset_peak_rss, unlike getrusage's figure)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _describe(error: BaseException) -> str:
    if isinstance(error, PipelineError):
        logger.error("%s", error)
    else:
        logger.error("%s", "".join(traceback.format_exception(error)).rstrip())
    return str(error) or type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
