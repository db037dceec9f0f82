"""The one CLI behind bootstrap.sh, cache-models.sh, prepare-job.sh and run-pipeline.sh
(and bootstrap.ps1), so every shell shares all logic."""

from __future__ import annotations

import logging
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
import typer.main

from shared.errors import InputError, PipelineError
from shared.paths import DEFAULT_CACHE_DIR, DEFAULT_JOBS_ROOT

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Offline batch subtitling pipeline.")
logger = logging.getLogger("subpipe")
# Set by scripts/wrapper.sh to the script the user typed (./run-pipeline.sh): that script is
# its command, so help and usage errors name it instead of "python -m scripts.cli run".
PROG_ENV = "SUBPIPE_PROG"


def _examples(*lines: str) -> str:
    """A command's --help epilog: commands as a user types them."""
    return "Examples:\n" + "\n".join(f"  {line}" for line in lines)


class LogLevel(str, Enum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class VadChoice(str, Enum):
    SILERO = "silero"
    PYANNOTE = "pyannote"
    NONE = "none"


LogLevelOpt = Annotated[LogLevel, typer.Option("--log-level", case_sensitive=False,
                                               help="how much to log")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="log everything, show tracebacks")]
OutOpt = Annotated[Path, typer.Option("--out", help="jobs folder")]


def _setup_logging(level: LogLevel, debug: bool) -> str:
    name = "DEBUG" if debug else level.value
    logging.basicConfig(level=name, format="%(levelname)-7s %(message)s", stream=sys.stderr,
                        force=True)
    if not debug:  # one line per HTTP request is noise during downloads
        logging.getLogger("httpx").setLevel(logging.WARNING)
    return name


def _fail(error: BaseException, debug: bool) -> typer.Exit:
    if debug:
        logger.exception("failed")
    sys.stderr.write(f"error: {error}\n")
    return typer.Exit(getattr(error, "exit_code", 1))


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


@app.command(epilog=_examples(
    "./bootstrap.sh --skip-cache --yes               # venvs + the embedded model",
    "./bootstrap.sh --skip-cache --demo              # then transcribe a sample",
    "./bootstrap.sh --cache-models --profile cuda    # and download its models"))
def bootstrap(
    force: Annotated[bool, typer.Option("--force", help="rebuild the venvs")] = False,
    envs: Annotated[list[str] | None, typer.Option(
        "--envs", help="only these environments (comma-separated or repeated)")] = None,
    skip_cache: Annotated[bool, typer.Option(
        "--skip-cache", help="download no models (the embedded model is still installed)")] = False,
    cache_models: Annotated[bool, typer.Option(
        "--cache-models", help="download the models of the chosen profile")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="answer yes; never prompt")] = False,
    profile: Annotated[str | None, typer.Option(
        "--profile", help="model profile (cpu, cuda, apple); default: from the hardware")] = None,
    cache_dir: Annotated[Path, typer.Option("--cache-dir", help="model cache root")]
    = DEFAULT_CACHE_DIR,
    demo: Annotated[bool, typer.Option(
        "--demo", help="then transcribe a sample (or --demo-media) with the embedded model "
        "and print the subtitle path")] = False,
    demo_media: Annotated[Path | None, typer.Option(
        "--demo-media", help="media file for --demo (default: an espeak-ng sample)")] = None,
    with_groups: Annotated[list[str] | None, typer.Option(
        "--with", help="optional extras of the common venv: cluster (Ray, for --executor "
        "ray)")] = None,
    out: OutOpt = DEFAULT_JOBS_ROOT,
    log_level: LogLevelOpt = LogLevel.INFO,
    debug: DebugOpt = False,
) -> None:
    """Probe the hardware, build the per-stage venvs, create the caches."""
    from scripts.bootstrap import BootstrapOptions, run_bootstrap

    _setup_logging(log_level, debug)
    try:
        code = run_bootstrap(BootstrapOptions(
            force=force, envs=_split(envs), skip_cache=skip_cache, cache_models=cache_models,
            yes=yes, profile=profile, cache_dir=cache_dir.expanduser().resolve(),
            demo=demo or demo_media is not None,
            demo_media=demo_media.expanduser().resolve() if demo_media else None,
            jobs_root=out.expanduser().resolve(), with_groups=_split(with_groups)))
    except PipelineError as e:
        raise _fail(e, debug) from None
    raise typer.Exit(code)


@app.command("cache-models", epilog=_examples(
    "./cache-models.sh --list                        # cached and missing models",
    "./cache-models.sh --model faster-whisper-small  # one model, by name",
    "./cache-models.sh --workflow subtitle --verify  # load each one offline"))
def cache_models_cmd(
    list_: Annotated[bool, typer.Option("--list", help="show what is cached and missing")] = False,
    all_: Annotated[bool, typer.Option("--all", help="every model in the registry")] = False,
    workflow: Annotated[str | None, typer.Option("--workflow", help="models of a workflow")] = None,
    stage: Annotated[str | None, typer.Option("--stage", help="models of one stage")] = None,
    model: Annotated[list[str] | None, typer.Option(
        "--model", help="a model by registry name (repeatable; names: --list)")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="cpu, cuda, apple")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would download")] = False,
    verify: Annotated[bool, typer.Option(
        "--verify", help="load each model offline in its venv; report OK / missing / corrupt")]
    = False,
    log_level: LogLevelOpt = LogLevel.INFO,
    debug: DebugOpt = False,
) -> None:
    """List, download and verify models in the project cache."""
    from scripts import cache_models_cli

    _setup_logging(log_level, debug)
    try:
        code = cache_models_cli.main(list_=list_, every=all_, workflow=workflow, stage=stage,
                                     profile=profile, dry_run=dry_run, verify=verify,
                                     names=model)
    except PipelineError as e:
        raise _fail(e, debug) from None
    raise typer.Exit(code)


@app.command(epilog=_examples(
    "./prepare-job.sh --media film.mkv -s hi         # transcribe Hindi speech",
    "./prepare-job.sh --media films/ --workflow subtitle -s hi -t en,gu",
    "./prepare-job.sh --media film.mp4 -s auto --start-time 10:00 --end-time 12:00"))
def prepare(
    media: Annotated[list[Path], typer.Option(
        "--media", help="a media file or a folder (repeat for several); one job per file")],
    workflow: Annotated[str, typer.Option("--workflow", help="transcribe, translate, subtitle")]
    = "transcribe",
    source_lang: Annotated[str | None, typer.Option(
        "-s", "--source-lang", help="spoken language (hi, en, ta, ...) or auto")] = None,
    target_langs: Annotated[list[str] | None, typer.Option(
        "-t", "--target-langs", help="target languages, e.g. en,gu")] = None,
    start_time: Annotated[str | None, typer.Option(
        "--start-time", help="clip start (90, 1:30, 00:01:30.5)")] = None,
    end_time: Annotated[str | None, typer.Option("--end-time", help="clip end")] = None,
    title: Annotated[str | None, typer.Option("--title", help="film title (names outputs)")]
    = None,
    year: Annotated[int | None, typer.Option("--year", help="release year")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="cpu, cuda, apple")] = None,
    separate: Annotated[bool, typer.Option(
        "--separate", help="isolate the vocals with Demucs before VAD and ASR")] = False,
    vad: Annotated[VadChoice, typer.Option(
        "--vad", help="voice activity detection before ASR")] = VadChoice.NONE,
    sets: Annotated[list[str] | None, typer.Option(
        "--set", help="stage parameter override, e.g. asr.beam_size=3 (repeatable)")] = None,
    glossary: Annotated[Path | None, typer.Option(
        "--glossary", help="glossary TSV (term, translation, alternatives, context, source), "
        "copied into the job")] = None,
    out: OutOpt = DEFAULT_JOBS_ROOT,
    log_level: LogLevelOpt = LogLevel.INFO,
    debug: DebugOpt = False,
) -> None:
    """Validate a request and write out/<job-id>/job.json; prints the job id last."""
    from scripts.prepare import PrepareOptions
    from scripts.prepare import prepare as do_prepare

    _setup_logging(log_level, debug)
    try:
        created = do_prepare(PrepareOptions(
            media=media, workflow=workflow, source_lang=source_lang,
            target_langs=_split(target_langs), start_time=start_time, end_time=end_time,
            title=title, year=year, profile=profile, separate=separate, vad=vad.value,
            sets=sets or [], glossary=glossary, out=out))
    except PipelineError as e:
        raise _fail(e, debug) from None
    for _job_id, job_dir in created:
        sys.stderr.write(f"prepared {job_dir}\n")
    from shared import job as jobs

    batch = jobs.load(created[-1][1]).batch
    if batch:
        sys.stderr.write(f"batch {batch}: {len(created)} jobs\n"
                         f"next: ./run-pipeline.sh --batch {batch}\n")
    else:
        sys.stderr.write(f"next: ./run-pipeline.sh -j {created[-1][0]}\n")
    for job_id, _ in created:
        sys.stdout.write(job_id + "\n")


@app.command(epilog=_examples(
    "./run-pipeline.sh --latest                      # the job prepared last",
    "./run-pipeline.sh -j JOB --dry-run              # what would run, what is kept",
    "./run-pipeline.sh -j JOB --set asr.beam_size=3  # re-runs what it affects",
    "./run-pipeline.sh -j JOB --prune                # free the intermediates' disk",
    "./run-pipeline.sh -j JOB --report               # rebuild report.html, run nothing"))
def run(
    job: Annotated[list[str] | None, typer.Option("-j", "--job", help="job id (repeatable)")]
    = None,
    latest: Annotated[bool, typer.Option("--latest", help="the most recently prepared job")]
    = False,
    batch: Annotated[str | None, typer.Option(
        "--batch", help="every job of the batch prepare-job.sh made from several media or a "
        "folder (the id it printed)")] = None,
    all_pending: Annotated[bool, typer.Option(
        "--all-pending", help="every job under --out with a stage not done yet (never run, "
        "failed or stopped)")] = False,
    from_stage: Annotated[str | None, typer.Option("--from", help="start at this stage")] = None,
    to_stage: Annotated[str | None, typer.Option("--to", help="stop after this stage")] = None,
    only: Annotated[list[str] | None, typer.Option("--only", help="run only this stage")] = None,
    force: Annotated[list[str] | None, typer.Option(
        "--force", help="re-run every selected stage, or only the named one (--force asr)")]
    = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the plan; run nothing")]
    = False,
    status: Annotated[bool, typer.Option("--status", help="show the jobs' stages and state")]
    = False,
    sets: Annotated[list[str] | None, typer.Option(
        "--set", help="change a stage parameter of the job(s) before running "
        "(asr.beam_size=3); only the stages it affects run again")] = None,
    executor: Annotated[str, typer.Option(
        "--executor", help="local (this machine) or ray (the nodes of a Ray cluster: "
        "./run-pipeline.sh node start)")] = "local",
    ray_address: Annotated[str | None, typer.Option(
        "--ray-address", help="with --executor ray: auto (the cluster of this node) or "
        "HOST:PORT of the head")] = None,
    ray_node_wait: Annotated[float | None, typer.Option(
        "--ray-node-wait", min=0, help="with --executor ray: seconds a stage waits while no "
        "live node can run it (its node died, none other qualifies) before its jobs fail "
        "[default: 60]")] = None,
    prune: Annotated[bool, typer.Option(
        "--prune", help="remove the large intermediates (audio, stems, segments.jsonl) of "
        "finished jobs; lock.json remembers them, so nothing re-runs only because they are "
        "gone")] = False,
    report_only: Annotated[bool, typer.Option(
        "--report", help="rebuild the jobs' report.html and the output root's index.html "
        "from what they hold; runs no stage")] = False,
    out: OutOpt = DEFAULT_JOBS_ROOT,
    log_level: LogLevelOpt = LogLevel.INFO,
    debug: DebugOpt = False,
) -> None:
    """Run prepared jobs; re-running skips what is done and unchanged."""
    from scripts import run as run_mod
    from shared.prune import prune_job
    from shared.runner import RunOptions

    level = _setup_logging(log_level, debug)
    jobs_root = out.expanduser().resolve()
    try:
        chosen = run_mod.Selection(job or [], latest, batch, all_pending)
        if status:
            dirs = (run_mod.resolve_jobs(jobs_root, chosen) if chosen.any
                    else run_mod.all_jobs(jobs_root))
            run_mod.print_status(dirs)
            raise typer.Exit(0)
        dirs = run_mod.resolve_jobs(jobs_root, chosen)
        if not dirs:  # --all-pending alone, and every job is done or being run
            sys.stderr.write(f"nothing pending: every job in {jobs_root} is done or being "
                             "run by another process\n")
            raise typer.Exit(0)
        if prune:
            if sets or dry_run or from_stage or to_stage or only or force:
                raise InputError("--prune runs no stage: it takes only the job selection "
                                 "(-j, --latest, --batch, --all-pending) and --out",
                                 fix="run the stages first, then ./run-pipeline.sh -j JOB "
                                 "--prune on its own")
            for job_dir in dirs:
                run_mod.print_prune(prune_job(job_dir))
            raise typer.Exit(0)
        if report_only:
            if sets or dry_run or from_stage or to_stage or only or force:
                raise InputError("--report runs no stage: it takes only the job selection "
                                 "(-j, --latest, --batch, --all-pending) and --out",
                                 fix="run the stages first, then ./run-pipeline.sh -j JOB "
                                 "--report on its own")
            run_mod.write_reports(dirs, jobs_root)
            raise typer.Exit(0)
        if sets and not dry_run:
            for job_dir in dirs:
                run_mod.apply_overrides(job_dir, sets)
        report = run_mod.run_jobs(dirs, RunOptions(
            from_stage=from_stage, to_stage=to_stage, only=_split(only), force=_split(force),
            dry_run=dry_run), level, executor=executor, ray_address=ray_address,
            ray_node_wait=ray_node_wait)
    except PipelineError as e:
        raise _fail(e, debug) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: completed stages are kept; run the same command to "
                         "resume\n")
        raise typer.Exit(130) from None
    if dry_run:
        raise typer.Exit(0)
    for jr in report.jobs:
        if jr.error is not None:
            sys.stderr.write(f"error: {jr.error}\n")
            continue
        files = run_mod.deliverables(jr.job_dir)
        sys.stdout.write(f"{jr.job.job_id}: {len(jr.ran)} ran, {len(jr.skipped)} skipped\n")
        for path in files:
            sys.stdout.write(f"  {path}\n")
    run_mod.print_summary(report)
    run_mod.write_reports([jr.job_dir for jr in report.jobs], jobs_root)
    # 0: every job ok; 3: all finished, some degraded; 1: a job failed (README: exit codes)
    raise typer.Exit(report.exit_code)


node_app = typer.Typer(add_completion=False, no_args_is_help=True,
                       help="Join this machine to a Ray cluster (for --executor ray).")
app.add_typer(node_app, name="node")


@node_app.command("start", epilog=_examples(
    "./run-pipeline.sh node start --head                      # the first machine",
    "./run-pipeline.sh node start --address 10.0.0.5:6379     # every other machine"))
def node_start(
    head: Annotated[bool, typer.Option("--head", help="start the cluster's head here")]
    = False,
    address: Annotated[str | None, typer.Option(
        "--address", help="join the cluster whose head is at HOST:PORT")] = None,
    port: Annotated[int, typer.Option("--port", help="with --head: the head's port")] = 6379,
    num_cpus: Annotated[int | None, typer.Option(
        "--num-cpus", help="CPUs this node offers (default: all)")] = None,
    verify_models: Annotated[bool, typer.Option(
        "--verify-models/--no-verify-models", help="load each cached model offline "
        "(cache-models.sh --verify) and advertise only those that load; off: advertise "
        "every cached model unloaded")] = True,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="run the checks, print the ray start command; start nothing")]
    = False,
    log_level: LogLevelOpt = LogLevel.INFO,
    debug: DebugOpt = False,
) -> None:
    """Check this machine (venvs, models), then `ray start` advertising what it can run."""
    from scripts import node
    from shared import hardware_cache
    from shared.paths import hardware_cache_path

    _setup_logging(log_level, debug)
    try:
        cache = hardware_cache.load(hardware_cache_path())
        cmd = node.ray_start_command(head, address, port,
                                     node.node_resources(cache, verify_models), num_cpus)
    except PipelineError as e:
        raise _fail(e, debug) from None
    import shlex

    sys.stdout.write(shlex.join(cmd) + "\n")
    raise typer.Exit(0 if dry_run else node.start(cmd))


def normalize_argv(argv: list[str]) -> list[str]:
    """`--force` with no stage name means every stage: turn it into `--force=*`."""
    out = []
    for i, arg in enumerate(argv):
        if arg == "--force" and "run" in argv[:i] and (i + 1 == len(argv)
                                                      or argv[i + 1].startswith("-")):
            out.append("--force=*")
        else:
            out.append(arg)
    return out


def main() -> None:
    sys.argv[1:] = normalize_argv(sys.argv[1:])
    prog = os.environ.pop(PROG_ENV, "")
    if sys.argv[1:3] == ["run", "node"]:  # ./run-pipeline.sh node start ...: the node group
        sys.argv[1:3] = ["node"]
        prog = f"{prog} node" if prog else prog
    commands = typer.main.get_command(app).commands
    if prog and sys.argv[1:2] and sys.argv[1] in commands:
        commands[sys.argv[1]].main(sys.argv[2:], prog_name=prog)
    else:
        app()


if __name__ == "__main__":
    main()
