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

Run:  .venvs/common/bin/python bench/cluster_scaling.py [--jobs 4] [--minutes 1]
      [--json figures.json] [--keep]
"""

from __future__ import annotations

import hashlib
import os
import shutil
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


def run_batch(folder: Path, ids: list[str], *args: str) -> tuple[float, set[str]]:
    """The batch's wall time and the distinct subtitle files its jobs made (sha256 of each
    job's subtitles folder: one entry when every job's equal)."""
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
    return measured.wall_s, made


def on_cluster(audio: Path, folder: Path, n_jobs: int, nodes: int, cache
               ) -> tuple[float, set[str]]:
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
    parser = bench_parser(__doc__, rounds=1, rounds_help="unused (one round)")
    parser.add_argument("--jobs", type=int, default=4, help="number of jobs")
    parser.set_defaults(minutes=1.0)
    args = parser.parse_args()
    load_before = os.getloadavg()
    with work_folder("cluster-bench-", args.keep) as folder:
        cache = setup_cache(folder / "cache")
        audio = build_speech(folder, args.minutes)
        audio_min = args.jobs * media_duration(audio) / 60
        runs = {}
        log("local executor, the machine's default threads")
        runs["local"] = run_batch(folder / "local", prepare_jobs(audio, folder / "local",
                                                                  args.jobs))
        log("local executor, one thread")
        runs["local 1 thread"] = run_batch(folder / "local1", prepare_jobs(
            audio, folder / "local1", args.jobs, *ONE_THREAD))
        for nodes in (1, 2):
            log(f"ray executor, {nodes} node(s)")
            runs[f"ray {nodes} node"] = on_cluster(audio, folder / f"ray{nodes}", args.jobs,
                                                   nodes, cache)
        log("faster-whisper called directly, one thread: one process, then two side by side")
        plain = direct(audio, folder / "direct", args.jobs, cache)
    walls = {k: wall for k, (wall, _) in runs.items()}
    same = {k: made == runs["local"][1] for k, (_, made) in runs.items()}
    machine = {**machine_info(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()}
    throughput = {k: audio_min / (w / 60) for k, w in walls.items()}
    speedup = throughput["ray 2 node"] / throughput["ray 1 node"]
    print_machine(machine)
    print(f"jobs     {args.jobs} x {audio_min / args.jobs:.1f} min (transcribe, base int8)\n")
    print_table(["executor", "wall s", "audio-min / wall-min"],
                [[k, f"{w:.1f}", f"{throughput[k]:.2f}"] for k, w in walls.items()])
    ratio = walls["ray 1 node"] / walls["local 1 thread"]
    ceiling = plain["1 process"] / (2 * plain["2 processes"])
    print(f"\nspeed-up 2 nodes / 1 node {speedup:.2f}, efficiency {speedup / 2:.2f} "
          "(goal >= 0.85)")
    print(f"faster-whisper directly, one thread, the same {args.jobs} inputs: 1 process "
          f"{plain['1 process']:.1f} s, 2 side by side {plain['2 processes']:.1f} s, "
          f"efficiency {ceiling:.2f} (this machine's two one-CPU workers, no pipeline)")
    print(f"pipeline efficiency / direct efficiency {speedup / 2 / ceiling:.2f}")
    print(f"ray on 1 node / local with one thread, wall {ratio:.2f} (goal <= 1.10)")
    print(f"ray on 2 nodes / local with the default threads, wall "
          f"{walls['ray 2 node'] / walls['local']:.2f}")
    print("subtitles equal to the local run's (every job): "
          + ", ".join(f"{k} {'yes' if ok else 'NO'}" for k, ok in same.items()))
    note = busy_note(machine)
    if note:
        print(f"caution: {note}")
    write_figures({"machine": machine, "walls": walls, "throughput": throughput,
                   "speedup": speedup, "efficiency": speedup / 2, "ray1_over_local": ratio,
                   "direct_walls": plain, "direct_efficiency": ceiling,
                   "same_subtitles": same},
                  args.json)


if __name__ == "__main__":
    main()
