"""Benchmark: the same N one-minute jobs (transcribe workflow, embedded base model) run by the
local executor, and by the ray executor on a cluster of 1 and of 2 simulated nodes (one CPU
each, ray.cluster_utils.Cluster on 127.0.0.1, a head with no CPU).

A Ray task computes with the CPUs it was given (one here: asr, alignment and songs run one
thread), so the local reference for ray on one node is the local executor with one thread
(``--set asr.cpu_threads=1 --set alignment.cpu_threads=1 --set songs.cpu_threads=1``); the
local executor with the machine's default threads (every core) is printed too.

Printed: each configuration's wall time, throughput (audio-minutes per wall-minute), the
speed-up of 2 nodes over 1, the scaling efficiency (speed-up / 2) and ray-on-1-node against
local with one thread. Goals (issue 15): efficiency >= 0.85 at two nodes; ray on one node
within 10% of local. On a 2-core machine two one-CPU nodes already use every core, so what
others run at the same time weighs on the figures: the load average is printed.

The comparison: faster-whisper called directly (bench.common's DIRECT_CHILD, one thread,
the same audio), N children one after another and then two streams of N/2 side by side;
their efficiency is what two one-CPU workers on this machine give for the work that is 90%
of a job, with no pipeline and no Ray: the pipeline's efficiency is printed against it.

Each configuration runs ``--rounds`` times, the configurations taking turns; the ratios
(efficiency, ray against local) are taken within each round and their median is the figure:
on a shared machine identical work varies by a quarter from run to run, so only
configurations measured minutes apart are compared. Every round's walls are printed.

Where a batch's time goes (last_run.json of each job): the asr stage's span (first start to
last end over the batch) and the rest, the stages whose cost per batch does not split over
the nodes (a launch's process start, a stage's fixed work): Amdahl's share.

Run:  .venvs/common/bin/python bench/cluster_scaling.py [--jobs 4] [--minutes 1]
      [--rounds 3] [--json figures.json] [--keep]
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    bench_parser,
    build_speech,
    busy_note,
    check,
    direct_settings,
    log,
    machine_info,
    media_duration,
    prepare_job,
    print_machine,
    print_table,
    run_direct,
    run_measured,
    setup_cache,
    work_folder,
    write_figures,
)

LOOPBACK = "127.0.0.1"


ONE_THREAD = ("--set", "asr.cpu_threads=1", "--set", "alignment.cpu_threads=1",
              "--set", "songs.cpu_threads=1")


def prepare_jobs(audio: Path, folder: Path, n: int, *args: str) -> list[str]:
    ids = []
    for i in range(n):
        media = folder / "media" / f"m{i}" / "film.wav"
        media.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(audio, media)
        _, job_id = prepare_job(media, folder / "out", folder / f"prepare{i}.log",
                                "--workflow", "transcribe", *args)
        ids.append(job_id)
    return ids


def run_batch(folder: Path, ids: list[str], *args: str) -> tuple[float, set[str], float]:
    """The batch's wall time, the distinct subtitle files its jobs made (sha256 of each
    job's subtitles folder: one entry when every job's equal) and the asr stage's span."""
    cmd = [str(ROOT / "run-pipeline.sh"), "--out", str(folder / "out"), *args]
    cmd += [a for i in ids for a in ("-j", i)]
    measured = run_measured(cmd, folder / "run.log")
    # exit 3 (degraded) is a finished run: the synthetic speech has stretches no cue covers
    check(measured, f"run {' '.join(args) or 'local'}", folder / "run.log", ok=(0, 3))
    made = set()
    for job_id in ids:
        files = sorted((folder / "out" / job_id / "subtitles").iterdir())
        made.add(hashlib.sha256(b"".join(f.name.encode() + f.read_bytes() for f in files))
                 .hexdigest())
    return measured.wall_s, made, stage_span(folder / "out", ids, "asr")


def stage_span(out: Path, ids: list[str], key: str) -> float:
    """Seconds from the stage's first start to its last end over the batch (last_run.json)."""
    from datetime import datetime

    starts, ends = [], []
    for job_id in ids:
        entry = json.loads((out / job_id / "logs" / "last_run.json").read_text("utf-8")
                           )["stages"][key]
        starts.append(datetime.fromisoformat(entry["started_at"]))
        ends.append(datetime.fromisoformat(entry["finished_at"]))
    return (max(ends) - min(starts)).total_seconds()


def on_cluster(audio: Path, folder: Path, n_jobs: int, nodes: int, cache
               ) -> tuple[float, set[str], float]:
    from ray.cluster_utils import Cluster

    from scripts.node import node_resources

    # what node start advertises: the venvs the jobs use and the models the cache holds
    resources = {"env:common": 1.0, "env:whisperx": 1.0,
                 **{k: v for k, v in node_resources(cache, verify_models=False).items()
                    if k.startswith("model:")}}
    os.environ["PYTHONPATH"] = str(ROOT)  # as node start sets it: workers import the project
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "node_ip_address": LOOPBACK, "include_dashboard": False})
    try:
        for _ in range(nodes):
            cluster.add_node(num_cpus=1, node_ip_address=LOOPBACK,
                             resources=resources)
        ids = prepare_jobs(audio, folder, n_jobs)
        return run_batch(folder, ids, "--executor", "ray", "--ray-address", cluster.address)
    finally:
        cluster.shutdown()


def direct(audio: Path, folder: Path, n_jobs: int, cache) -> dict[str, float]:
    """Wall times of faster-whisper called directly with one thread on ``audio``: ``n_jobs``
    children one after another ("1 process"), then two streams of n_jobs / 2 children side
    by side ("2 processes")."""
    from concurrent.futures import ThreadPoolExecutor

    settings = direct_settings(cache, audio, "en")
    settings["model_kwargs"]["cpu_threads"] = 1
    folder.mkdir(parents=True, exist_ok=True)

    def stream(name: str, count: int) -> None:
        for i in range(count):
            run_direct(settings, cache, folder, f"{name}{i}")

    started = time.perf_counter()
    stream("one", n_jobs)
    walls = {"1 process": time.perf_counter() - started}
    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(stream, ("a", "b"), (n_jobs // 2, n_jobs - n_jobs // 2)))
    walls["2 processes"] = time.perf_counter() - started
    return walls


def main() -> None:
    parser = bench_parser(__doc__, rounds=3, rounds_help="runs of each configuration (ratios "
                          "within a round; their median counts)")
    parser.add_argument("--jobs", type=int, default=4, help="number of jobs")
    parser.set_defaults(minutes=1.0)
    args = parser.parse_args()
    load_before = os.getloadavg()
    with work_folder("cluster-bench-", args.keep) as folder:
        cache = setup_cache(folder / "cache")
        audio = build_speech(folder, args.minutes)
        audio_min = args.jobs * media_duration(audio) / 60
        rounds: dict[str, list[float]] = {}
        asr_spans: dict[str, list[float]] = {}
        made: dict[str, set[str]] = {}
        direct_rounds: dict[str, list[float]] = {}

        def keep(name: str, result: tuple[float, set[str], float]) -> None:
            rounds.setdefault(name, []).append(result[0])
            made.setdefault(name, set()).update(result[1])
            asr_spans.setdefault(name, []).append(result[2])

        for r in range(args.rounds):
            here = folder / f"round{r}"
            log(f"round {r + 1}/{args.rounds}: local executor, the machine's default threads")
            keep("local", run_batch(here / "local", prepare_jobs(audio, here / "local",
                                                                  args.jobs)))
            log("local executor, one thread")
            keep("local 1 thread", run_batch(here / "local1", prepare_jobs(
                audio, here / "local1", args.jobs, *ONE_THREAD)))
            for nodes in (1, 2):
                log(f"ray executor, {nodes} node(s)")
                keep(f"ray {nodes} node", on_cluster(audio, here / f"ray{nodes}", args.jobs,
                                                     nodes, cache))
            log("faster-whisper called directly, one thread: one process, then two side by "
                "side")
            for k, wall in direct(audio, here / "direct", args.jobs, cache).items():
                direct_rounds.setdefault(k, []).append(wall)
    report(args, audio_min, rounds, asr_spans, direct_rounds, made, load_before)


def report(args, audio_min: float, rounds: dict[str, list[float]],
           asr_spans: dict[str, list[float]], direct_rounds: dict[str, list[float]],
           made: dict[str, set[str]], load_before: tuple[float, ...]) -> None:
    median = statistics.median
    walls = {k: median(v) for k, v in rounds.items()}
    throughput = {k: audio_min / (w / 60) for k, w in walls.items()}
    efficiency = [one / (2 * two) for one, two in zip(rounds["ray 1 node"],
                                                       rounds["ray 2 node"], strict=True)]
    direct_eff = [one / (2 * two) for one, two in zip(direct_rounds["1 process"],
                                                       direct_rounds["2 processes"], strict=True)]
    ray1_local = [ray / local for ray, local in zip(rounds["ray 1 node"],
                                                     rounds["local 1 thread"], strict=True)]
    same = {k: subs == made["local"] and len(subs) == 1 for k, subs in made.items()}
    machine = {**machine_info(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()}
    print_machine(machine)
    print(f"jobs     {args.jobs} x {audio_min / args.jobs:.1f} min (transcribe, base int8), "
          f"{args.rounds} round(s)\n")
    rows = [[k, " ".join(f"{x:.1f}" for x in rounds[k]), f"{walls[k]:.1f}",
             f"{throughput[k]:.2f}", f"{median(asr_spans[k]):.1f}",
             f"{walls[k] - median(asr_spans[k]):.1f}"] for k in rounds]
    rows += [[f"faster-whisper directly, {k}", " ".join(f"{x:.1f}" for x in v),
              f"{median(v):.1f}", f"{audio_min / (median(v) / 60):.2f}", "", ""]
             for k, v in direct_rounds.items()]
    print_table(["configuration", "wall s, each round", "median", "audio-min / wall-min",
                 "asr span s", "the rest s"], rows)
    print(f"\n2-node efficiency (ray 1 node / (2 x ray 2 nodes), each round): "
          f"{' '.join(f'{e:.2f}' for e in efficiency)}, median {median(efficiency):.2f} "
          "(goal >= 0.85)")
    print(f"faster-whisper directly, one thread, one process vs two side by side, each round: "
          f"{' '.join(f'{e:.2f}' for e in direct_eff)}, median {median(direct_eff):.2f} (what "
          "this machine's two one-CPU workers give, no pipeline)")
    asr_scaling = [one / two for one, two in zip(asr_spans["ray 1 node"],
                                                  asr_spans["ray 2 node"], strict=True)]
    print(f"the asr stage's span, 1 node / 2 nodes, each round: "
          f"{' '.join(f'{e:.2f}' for e in asr_scaling)} (2.00: it halves)")
    print(f"ray on 1 node / local with one thread, each round: "
          f"{' '.join(f'{e:.2f}' for e in ray1_local)}, median {median(ray1_local):.2f} "
          "(goal <= 1.10)")
    print(f"ray on 2 nodes / local with the default threads (medians): "
          f"{walls['ray 2 node'] / walls['local']:.2f}")
    print("subtitles equal to the local run's (every job, every round): "
          + ", ".join(f"{k} {'yes' if ok else 'NO'}" for k, ok in same.items()))
    note = busy_note(machine)
    if note:
        print(f"caution: {note}")
    write_figures({"machine": machine, "rounds": rounds, "asr_spans": asr_spans,
                   "median_walls": walls, "throughput": throughput,
                   "efficiency": efficiency, "direct_rounds": direct_rounds,
                   "direct_efficiency": direct_eff, "asr_scaling": asr_scaling,
                   "ray1_over_local1": ray1_local, "same_subtitles": same}, args.json)


if __name__ == "__main__":
    main()
