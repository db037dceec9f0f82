"""run: execute prepared jobs (resumable, skip-if-unchanged) and show their status."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from shared import hardware_cache, job_state, lockfile, prune
from shared import job as jobs
from shared.display import PlainDisplay, RichDisplay
from shared.errors import InputError, PipelineError
from shared.paths import hardware_cache_path
from shared.runner import Runner, RunOptions, RunReport
from shared.stage import RESULT_FILE, StageResult

logger = logging.getLogger("run")


@dataclass(frozen=True)
class Selection:
    """Which jobs a run takes: -j ids or folders, --latest, --batch ID, --all-pending."""
    refs: list[str]
    latest: bool = False
    batch: str | None = None
    all_pending: bool = False

    @property
    def any(self) -> bool:
        return bool(self.refs or self.latest or self.batch or self.all_pending)


def resolve_jobs(jobs_root: Path, chosen: Selection) -> list[Path]:
    """The selected job folders, each once, in the order given (a batch's and the pending
    jobs by job id). Only --all-pending may select none."""
    if not chosen.any:
        raise InputError("no job given", fix="pass -j <job-id> (printed by prepare-job.sh), "
                         "--latest, --batch <batch-id> or --all-pending")
    dirs = [jobs.find_job(jobs_root, ref) for ref in chosen.refs]
    if chosen.latest:
        dirs.append(jobs.latest_job(jobs_root))
    if chosen.batch:
        dirs += batch_jobs(jobs_root, chosen.batch)
    if chosen.all_pending:
        dirs += [d for d in all_jobs(jobs_root) if is_pending(d)]
    return list(dict.fromkeys(dirs))


def batch_jobs(jobs_root: Path, batch: str) -> list[Path]:
    found = [d for d in all_jobs(jobs_root) if jobs.load(d).batch == batch]
    if not found:
        raise InputError(f"no job of batch '{batch}' in {jobs_root}",
                         fix="use the batch id prepare-job.sh printed (`batch <id>: N jobs`) "
                         "and the same --out; ./run-pipeline.sh --status lists the jobs")
    return found


def is_pending(job_dir: Path) -> bool:
    """A stage instance of the job has no record in lock.json (never run, failed, stopped)
    and no live run holds the job (another run-pipeline.sh --all-pending started before this
    one is still at it: taking the job would make this whole run fail as busy)."""
    from shared.progress import run_in_progress

    recorded = lockfile.load(job_dir).stages
    return (any(inst.key not in recorded for inst in jobs.load(job_dir).stages)
            and not run_in_progress(job_dir))


def apply_overrides(job_dir: Path, sets: list[str]) -> None:
    """run --set stage.param=value: change a prepared job's overrides (validated), so the
    next run redoes exactly the stages the change reaches."""
    from shared.overrides import validate_overrides
    from shared.workflows import load_workflows

    job = jobs.load(job_dir)
    changes = validate_overrides(sets, [i.stage for i in job.stages])
    merged = {stage: dict(values) for stage, values in job.overrides.items()}
    for stage, values in changes.items():
        merged.setdefault(stage, {}).update(values)
    engine = merged.get("translation", {}).get("engine", "auto")
    if ("llm" in load_workflows().switched_on(merged)) != ("llm" in job.features):
        raise InputError(f"translation.engine={engine} changes the stages of job {job.job_id} "
                         "(the translation_llm stage)",
                         fix="prepare the job again with --set translation.engine=" + engine)
    jobs.save(job.model_copy(update={"overrides": merged}), job_dir)


def run_jobs(job_dirs: list[Path], options: RunOptions, log_level: str, *,
             executor: str = "local", ray_address: str | None = None,
             ray_node_wait: float | None = None) -> RunReport:
    from shared.environment_manager import EnvironmentManager
    from shared.executors import make_executor

    cache = hardware_cache.load(hardware_cache_path())
    display = RichDisplay() if sys.stdout.isatty() else PlainDisplay()
    manager = EnvironmentManager(cache)
    chosen = make_executor(executor, manager, ray_address, ray_node_wait)
    try:
        runner = Runner(cache, manager=manager, display=display, log_level=log_level,
                        executor=chosen)
        return runner.run(job_dirs, options)
    finally:
        chosen.close()


def deliverables(job_dir: Path) -> list[Path]:
    folder = job_dir / "subtitles"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def stage_states(job_dir: Path) -> list[dict]:
    job = jobs.load(job_dir)
    lock = lockfile.load(job_dir)
    rows = []
    for inst in job.stages:
        record = lock.stages.get(inst.key)
        result_file = job_dir / inst.dir / RESULT_FILE
        state, duration, outputs, node = "pending", None, [], ""
        if record is not None:
            state, duration, node = "done", record.duration_s, record.node or ""
            outputs = [o.path + (" (pruned)" if o.pruned else "") for o in record.outputs]
        elif result_file.is_file():
            try:
                result = StageResult.model_validate_json(result_file.read_text("utf-8"))
                if result.status != "ok":
                    state = "failed"
            except ValueError:
                state = "failed"
        rows.append({"key": inst.key, "env": job.environments.get(inst.key, "?"),
                     "state": state, "duration": duration, "outputs": outputs, "node": node})
    return rows


def print_status(job_dirs: list[Path]) -> None:
    from rich.table import Table

    from shared.display import make_console

    console = make_console()
    summaries = []
    for job_dir in job_dirs:
        try:
            summaries.append(job_summary(job_dir))
        except PipelineError:
            continue
    if summaries:
        console.print(job_table(summaries, "jobs"))
    if len(summaries) > 1:
        from shared.progress import batch_status

        readable = [d for d in job_dirs if d.name in {s["job"] for s in summaries}]
        console.print(batch_status(readable), markup=False)
    for job_dir in job_dirs:
        try:
            job = jobs.load(job_dir)
        except PipelineError as e:
            console.print(f"{job_dir.name}: unreadable ({e.message})", markup=False)
            continue
        table = Table(title=f"{job.job_id}  ({job.workflow}, {job.media.path.name})",
                      title_justify="left")
        for column in ("stage", "env", "state", "time", "node", "outputs"):
            table.add_column(column)
        for row in stage_states(job_dir):
            table.add_row(row["key"], row["env"], row["state"],
                          f"{row['duration']:.1f}s" if row["duration"] is not None else "",
                          row["node"], "\n".join(row["outputs"]))
        console.print(table)


def job_table(rows: list[dict], title: str):
    """The end table of a run and the head of --status: job, state, what degraded or failed,
    the nodes that ran its stages, where the log is."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in ("job", "state", "what", "nodes", "log"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["job"], row["state"], "\n".join(row["what"]), ", ".join(row["nodes"]),
                      str(row["log"]))
    return table


def job_nodes(job_dir: Path, keys: list[str] | None = None) -> list[str]:
    """The nodes lock.json records for the job's stages (``keys``, or all), each once."""
    try:
        records = lockfile.load(job_dir).stages
    except PipelineError:
        return []
    chosen = [records[k] for k in keys if k in records] if keys else records.values()
    return list(dict.fromkeys(r.node for r in chosen if r.node))


def print_summary(report: RunReport) -> None:
    from shared.display import make_console

    rows = []
    for jr in report.jobs:
        degraded = jr.degraded  # read from lock.json once per job
        state = job_state.state_of(jr.error is not None, degraded)
        what = ([jr.error.message.splitlines()[0]] if jr.error is not None else []) + degraded
        rows.append({"job": jr.job.job_id, "state": state, "what": what, "log": jr.log_path,
                     "nodes": job_nodes(jr.job_dir, jr.ran)})
    states = [r["state"] for r in rows]
    title = ", ".join(f"{states.count(s)} {s}" for s in dict.fromkeys(states))
    make_console().print(job_table(rows, f"jobs: {title}"))


def job_summary(job_dir: Path) -> dict:
    """--status's view of one job's state, from its lock and result files."""
    job = jobs.load(job_dir)
    states = [row["state"] for row in stage_states(job_dir)]
    degraded = job_state.degradations(job, job_dir)
    return {"job": job.job_id, "log": job_dir / "logs" / "pipeline.log", "what": degraded,
            "nodes": job_nodes(job_dir),
            "state": job_state.state_of("failed" in states, degraded, "pending" in states)}


def write_reports(job_dirs: list[Path], jobs_root: Path) -> None:
    """Each job's report.html and the output root's index.html (shared/report). A report
    that cannot be written is a warning: it never changes what the run did or its exit."""
    from shared.report.html import write_report
    from shared.report.index import write_index

    for job_dir in job_dirs:
        try:
            sys.stdout.write(f"report: {write_report(job_dir)}\n")
        except Exception as e:  # noqa: BLE001 - the run's outcome stands whatever the report does
            logger.warning("could not write the report of %s: %s: %s (fix: ./run-pipeline.sh "
                           "-j %s --report once the cause is fixed)", job_dir.name,
                           type(e).__name__, e, job_dir.name)
    try:
        sys.stdout.write(f"index: {write_index(jobs_root)}\n")
    except Exception as e:  # noqa: BLE001
        logger.warning("could not write %s/index.html: %s: %s", jobs_root, type(e).__name__, e)


def all_jobs(jobs_root: Path) -> list[Path]:
    return sorted(p.parent for p in jobs_root.glob(f"*/{jobs.JOB_FILE}"))


def print_prune(report: prune.PruneReport) -> None:
    from rich.table import Table

    from shared.display import make_console

    mb = 1024 * 1024
    table = Table()
    table.add_column("file", overflow="fold")
    table.add_column("MB", justify="right")
    for output in report.removed:
        table.add_row(output.path, f"{output.size / mb:.2f}")
    freed = report.size_before - report.size_after
    console = make_console()
    console.print(f"pruned {report.job_id}: {len(report.removed)} file(s)", markup=False)
    if report.removed:
        console.print(table)
    console.print(f"job folder: {report.size_before / mb:.1f} MB -> "
                  f"{report.size_after / mb:.1f} MB ({freed / mb:.1f} MB freed)", markup=False)
