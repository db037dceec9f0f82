"""Benchmark: the audio front-end (VAD, Demucs) and what VAD does to the ASR wall time.

It builds a film-like clip (the real recordings of the shared speech folder separated by long
silences of 10-35 s, under a faint pink-noise room tone: 3 minutes, ~30% speech, 16 kHz
mono), sets up a throw-away model cache the way tests/conftest.py does (the embedded
Systran/faster-whisper-base, plus the tiny random HTDemucs of tests/tiny_demucs.py), and
measures, through ./prepare-job.sh + ./run-pipeline.sh:

  (a) VAD   both backends (silero, pyannote): prepare-job --vad X, run-pipeline --to vad.
            The stage's processing time is lock.json's duration_s (process(): scoring and
            writing speech_segments.json, without interpreter start, imports and model
            load); its whole process is pipeline.log's "vad: done in"; the load is vad.log's
            "loaded ... in". Then the backend call alone: stages.vad.run.load_scorer() +
            detect() called in a child in the whisperx venv (the stage's environment), no
            runner, no job.
  (b) Demucs  prepare-job --separate, run-pipeline --to source_separation on ~1 minute of
            44.1 kHz stereo (speech over a tone; 70 s, so the default 60 s chunk_seconds
            gives two chunks and the crossfade runs), from separation.json (separation_s,
            rtf, model_load_s) and lock.json. The model is a TINY RANDOM HTDemucs: the real
            htdemucs weights cannot be downloaded here, so the figure measures the chunked
            streaming machinery (reading, apply_model's segmenting, crossfade, writing,
            resampling), not the real model's speed.
  (c) ASR with and without VAD on the film-like clip, run-pipeline --to asr:
            vad stage (--vad silero)  -> asr decodes only the speech chunks
            no vad stage              -> asr's own faster-whisper VAD filter (the default)
            no VAD at all             -> --set asr.vad_filter=false: the whole file
            the asr stage's process time from lock.json, its ratio to the no-vad-stage line,
            and the word error rate between the transcripts (reference: no vad stage).
            Targets: the vad stage makes asr faster, not slower (printed, never asserted).

--rounds N re-runs each timed stage N times (run-pipeline --only X --force X) and keeps the
fastest: on a small shared machine one slow round says more about the neighbours.

Run:  cd /work/main && .venvs/common/bin/python bench/audio_frontend.py [--rounds 1]
      [--json figures.json] [--keep]
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    WHISPERX_PYTHON,
    Measured,
    asr_log_times,
    bench_parser,
    build_speech,
    busy_note,
    check,
    last_json_line,
    lock_stage,
    log,
    machine_info,
    media_duration,
    prepare_job,
    print_machine,
    print_table,
    run_job,
    run_measured,
    segments_text,
    setup_cache,
    stage_dir,
    stage_env,
    stage_walls,
    wer_between,
    work_folder,
    write_figures,
)
from tests.helpers import concat_audio, ffmpeg, make_silence, speech_dir  # noqa: E402

VAD_BACKENDS = ("silero", "pyannote")
# the film-like clip: (recording, silence after it); LEAD_S of silence first. 51 s of speech
# pieces in 183 s (28%); the gaps are long pauses between scenes.
LEAD_S = 10.0
FILM = [("jfk.flac", 22.0), ("stereo_diarization.wav", 15.0), ("hotwords.mp3", 35.0),
        ("jfk.flac", 12.0), ("stereo_diarization.wav", 18.0), ("hotwords.mp3", 10.0),
        ("jfk.flac", 10.0)]
ROOM_TONE = 0.002  # anoisesrc amplitude of the pink-noise floor (about -60 dBFS RMS)
DEMUCS_SECONDS = 70.0

ASR_CONFIGS = {  # name -> (prepare-job arguments, description)
    "vad_stage": (("--vad", "silero"), "vad stage (silero), asr decodes its chunks"),
    "fw_filter": ((), "no vad stage, faster-whisper VAD filter on"),
    "no_vad": (("--set", "asr.vad_filter=false"), "no VAD at all (asr.vad_filter=false)"),
}
REFERENCE = "fw_filter"

# The vad backend alone, in the whisperx venv: the stage's own load_scorer() and detect()
# on the WAV, no runner, no job. argv[1]: {"backend", "audio"}; prints one JSON line.
VAD_CHILD = r"""
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from stages.vad import VadParams
from stages.vad.run import detect, load_scorer
t1 = time.perf_counter()
cfg = json.loads(sys.argv[1])
params = VadParams(backend=cfg["backend"], device="cpu")
scorer = load_scorer(params)
t2 = time.perf_counter()
regions, duration = detect(scorer, Path(cfg["audio"]), params)
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "detect_s": t3 - t2,
                  "duration": duration, "regions": len(regions),
                  "speech_s": sum(r.end - r.start for r in regions)}))
"""


# -- inputs ----------------------------------------------------------------------------------
def build_film(folder: Path) -> tuple[Path, float]:
    """The film-like clip (16 kHz mono WAV) and the seconds of speech pieces in it."""
    parts = [make_silence(folder / "lead.wav", LEAD_S)]
    speech_s = 0.0
    for n, (name, gap) in enumerate(FILM):
        piece = folder / f"piece_{n}.wav"
        ffmpeg("-i", str(speech_dir() / name), "-ar", "16000", "-ac", "1", str(piece))
        speech_s += media_duration(piece)
        parts += [piece, make_silence(folder / f"gap_{n}.wav", gap)]
    dry = concat_audio(parts, folder / "film_dry.wav")
    film = folder / "film.wav"
    ffmpeg("-i", str(dry), "-f", "lavfi", "-i",
           f"anoisesrc=color=pink:amplitude={ROOM_TONE}:seed=7:sample_rate=16000",
           "-filter_complex", "[0:a][1:a]amix=inputs=2:duration=first:normalize=0[a]",
           "-map", "[a]", "-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le", str(film))
    return film, speech_s


def build_stereo(folder: Path, seconds: float) -> Path:
    """``seconds`` of 44.1 kHz stereo: the speech recordings (louder left) over a 220 Hz tone."""
    speech = build_speech(folder, seconds / 60.0)
    out = folder / "stereo_44k.wav"
    ffmpeg("-i", str(speech), "-f", "lavfi", "-i", f"sine=frequency=220:duration={seconds}",
           "-filter_complex", "[0:a]aresample=44100,pan=stereo|c0=c0|c1=0.5*c0[s];"
           "[1:a]aresample=44100,pan=stereo|c0=0.3*c0|c1=0.6*c0[m];"
           "[s][m]amix=inputs=2:duration=longest[a]",
           "-map", "[a]", "-ar", "44100", "-ac", "2", "-t", f"{seconds}", str(out))
    return out


# -- (a) VAD ---------------------------------------------------------------------------------
def vad_log_load(job_dir: Path) -> float | None:
    found = re.findall(r"loaded \S+ on \S+ in ([\d.]+)s", (job_dir / "logs" / "vad.log")
                       .read_text("utf-8"))
    return float(found[-1]) if found else None


def vad_stage(film: Path, out: Path, folder: Path, backend: str, rounds: int) -> dict:
    _, job_id = prepare_job(film, out, folder / f"prepare_vad_{backend}.log", "--vad", backend)
    job_dir = out / job_id
    best: dict | None = None
    for n in range(1, rounds + 1):
        log(f"(a) vad {backend}: pipeline, round {n}/{rounds} ...")
        args = ("--to", "vad") if n == 1 else ("--only", "vad", "--force", "vad")
        run_job(job_id, out, folder / f"run_vad_{backend}_{n}.log", *args)
        entry = lock_stage(job_dir, "vad")
        round_ = {"process_s": entry["duration_s"], "wall_s": stage_walls(job_dir)["vad"],
                  "load_s": vad_log_load(job_dir), "regions": entry["info"]["regions"],
                  "speech_s": entry["info"]["speech_s"]}
        if best is None or round_["process_s"] < best["process_s"]:
            best = round_
    assert best is not None
    return {**best, "job_id": job_id}


def vad_alone(film: Path, cache, folder: Path, backend: str, rounds: int) -> dict:
    env = stage_env(cache)
    best: dict | None = None
    for n in range(1, rounds + 1):
        log(f"(a) vad {backend}: backend alone (load_scorer + detect), round {n}/{rounds} ...")
        log_file = folder / f"vad_alone_{backend}_{n}.log"
        measured = run_measured([str(WHISPERX_PYTHON), "-c", VAD_CHILD,
                                 json.dumps({"backend": backend, "audio": str(film)})],
                                log_file, env)
        check(measured, f"vad backend {backend} alone", log_file)
        round_ = {**last_json_line(log_file), "wall_s": measured.wall_s,
                  "maxrss_mb": measured.maxrss_mb}
        if best is None or round_["detect_s"] < best["detect_s"]:
            best = round_
    assert best is not None
    return best


# -- (b) Demucs ------------------------------------------------------------------------------
def demucs(stereo: Path, out: Path, folder: Path, rounds: int) -> dict:
    _, job_id = prepare_job(stereo, out, folder / "prepare_demucs.log", "--separate")
    job_dir = out / job_id
    best: dict | None = None
    for n in range(1, rounds + 1):
        log(f"(b) demucs (tiny random HTDemucs): round {n}/{rounds} ...")
        args = (("--to", "source_separation") if n == 1 else
                ("--only", "source_separation", "--force", "source_separation"))
        measured = run_job(job_id, out, folder / f"run_demucs_{n}.log", *args)
        sep = json.loads((stage_dir(job_dir, "source_separation") / "separation.json")
                         .read_text("utf-8"))
        round_ = {"separation_s": sep["separation_s"], "rtf": sep["rtf"],
                  "model_load_s": sep["model_load_s"], "chunks": sep["chunks"],
                  "chunk_seconds": sep["chunk_seconds"], "duration": sep["duration"],
                  "device": sep["device"],
                  "process_s": lock_stage(job_dir, "source_separation")["duration_s"],
                  "wall_s": stage_walls(job_dir)["source_separation"],
                  "run_maxrss_mb": measured.maxrss_mb}
        if best is None or round_["separation_s"] < best["separation_s"]:
            best = round_
    assert best is not None
    return {**best, "job_id": job_id}


# -- (c) ASR with / without VAD --------------------------------------------------------------
def asr_run(film: Path, out: Path, folder: Path, name: str, job_id: str | None,
            rounds: int) -> dict:
    """The asr stage of one configuration (job_id: reuse a job whose vad stage already ran)."""
    args, _ = ASR_CONFIGS[name]
    if job_id is None:
        _, job_id = prepare_job(film, out, folder / f"prepare_asr_{name}.log", *args)
    job_dir = out / job_id
    best: dict | None = None
    for n in range(1, rounds + 1):
        log(f"(c) asr, {name}: round {n}/{rounds} ...")
        run_args = ("--to", "asr") if n == 1 else ("--only", "asr", "--force", "asr")
        measured: Measured = run_job(job_id, out, folder / f"run_asr_{name}_{n}.log", *run_args)
        walls = stage_walls(job_dir)
        entry = lock_stage(job_dir, "asr")
        asr_dir = stage_dir(job_dir, "asr")
        removed = json.loads((asr_dir / "hallucinations.json").read_text("utf-8"))["removed"]
        segments = json.loads((asr_dir / "segments.json").read_text("utf-8"))
        round_ = {"process_s": entry["duration_s"], "wall_s": walls["asr"],
                  "load_s": asr_log_times(job_dir)["load_s"],
                  "vad_process_s": lock_stage(job_dir, "vad")["duration_s"] if "vad" in walls
                  else None, "vad_wall_s": walls.get("vad"),
                  "segments": len(segments["segments"]),
                  "speech_chunks": segments.get("speech_chunks"),
                  "removed_by_filter": len(removed), "run_maxrss_mb": measured.maxrss_mb,
                  "decoded_s": decoded_seconds(job_dir), "text": segments_text(job_dir)}
        if best is None or round_["process_s"] < best["process_s"]:
            best = round_
    assert best is not None
    return {**best, "job_id": job_id}


def decoded_seconds(job_dir: Path) -> float | None:
    """Seconds of audio the asr stage decoded: the vad stage's speech (segments.json
    speech_decoded_s), the file less what faster-whisper's VAD filter removed (asr.log), or
    the whole file."""
    segments = json.loads(next(job_dir.glob("stages/*_asr/segments.json")).read_text("utf-8"))
    if "speech_decoded_s" in segments:
        return float(segments["speech_decoded_s"])
    text = (job_dir / "logs" / "asr.log").read_text("utf-8")
    total = re.findall(r"([\d.]+) s audio in [\d.]+ s \(RTF", text)
    if not total:
        return None
    removed = re.findall(r"VAD filter removed (?:(\d+):)?(\d+):([\d.]+) of audio", text)
    if removed:
        h, m, sec = removed[-1]
        return float(total[-1]) - (int(h or 0) * 3600 + int(m) * 60 + float(sec))
    return float(total[-1])


def asr_comparison(film: Path, out: Path, folder: Path, silero_job: str, rounds: int) -> dict:
    runs = {"vad_stage": asr_run(film, out, folder, "vad_stage", silero_job, rounds),
            "fw_filter": asr_run(film, out, folder, "fw_filter", None, rounds),
            "no_vad": asr_run(film, out, folder, "no_vad", None, rounds)}
    ref = runs[REFERENCE]
    for name, run in runs.items():
        run["ratio"] = run["process_s"] / ref["process_s"]
        run["wer_vs_ref"] = wer_between(ref["text"], run["text"])
        run["wer_vs"] = {other: wer_between(runs[other]["text"], run["text"])
                         for other in runs if other != name}
        # what the user waits for: the vad stage's process plus asr's
        run["frontend_process_s"] = run["process_s"] + (run["vad_process_s"] or 0.0)
    return runs


# -- report ----------------------------------------------------------------------------------
def fmt(value, spec: str = ".2f", unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


def print_report(fig: dict) -> None:
    print("=== audio front-end benchmark (VAD, Demucs, ASR with/without VAD) ===")
    print_machine(fig["machine"])
    f = fig["film"]
    print(f"audio    film-like clip: {f['duration']:.1f} s, 16 kHz mono, real speech pieces "
          f"{f['speech_s']:.1f} s ({100 * f['speech_s'] / f['duration']:.0f}%) separated by "
          "10-35 s silences, pink-noise room tone")
    print(f"rounds   {fig['rounds']} (the fastest round of each line is shown)")
    print()
    print("(a) VAD on the film-like clip (stage: prepare-job --vad X, run-pipeline --to vad)")
    rows = []
    for backend in VAD_BACKENDS:
        st, alone = fig["vad"][backend]["stage"], fig["vad"][backend]["alone"]
        d = f["duration"]
        rows.append([backend, f"{st['process_s']:.2f} s", f"{st['process_s'] / d:.4f}",
                     f"{st['wall_s']:.1f} s", fmt(st["load_s"], ".1f", " s"),
                     f"{alone['detect_s']:.2f} s", f"{alone['detect_s'] / d:.4f}",
                     f"{alone['load_s']:.2f} s", f"{alone['maxrss_mb']:.0f} MB",
                     f"{st['regions']}", f"{st['speech_s']:.1f} s"])
    print_table(["backend", "stage process", "RTF", "stage wall", "load", "detect() alone",
                 "RTF", "load alone", "peak RSS alone", "regions", "speech found"], rows)
    print("  stage process = lock.json duration_s (scoring + speech_segments.json, no start-up,")
    print("  imports or model load); stage wall = pipeline.log 'vad: done in' (the whole stage")
    print("  process); detect() alone = stages.vad.run.detect() called in a bare whisperx-venv")
    print("  child (load_scorer() before it), no runner or job.")
    print()
    dm = fig["demucs"]
    print("(b) Demucs source separation (prepare-job --separate, run-pipeline --to "
          "source_separation)")
    print("  NOTE: a TINY RANDOM HTDemucs (tests/tiny_demucs.py), not the real htdemucs weights,")
    print("  which cannot be downloaded here: this measures the chunked streaming machinery")
    print("  (read, apply_model, crossfade, write, resample), NOT the real model's speed.")
    print_table(["audio", "chunks", "separation", "RTF", "stage process", "stage wall",
                 "model load", "device"],
                [[f"{dm['duration']:.1f} s 44.1 kHz stereo",
                  f"{dm['chunks']} of <= {dm['chunk_seconds']:.1f} s",
                  f"{dm['separation_s']:.2f} s", f"{dm['rtf']:.4f}", f"{dm['process_s']:.2f} s",
                  f"{dm['wall_s']:.1f} s", f"{dm['model_load_s']:.2f} s", dm["device"]]])
    print("  separation / RTF = separation.json (the chunk loop); stage process = lock.json")
    print("  (plus the 16 kHz resample of the vocals)")
    print()
    runs = fig["asr"]
    print(f"(c) ASR wall time with and without VAD (run-pipeline --to asr; {fig['asr_model']})")
    rows = []
    for name, run in runs.items():
        rows.append([ASR_CONFIGS[name][1], f"{run['process_s']:.2f} s", f"{run['ratio']:.2f}",
                     f"{run['wall_s']:.1f} s", fmt(run["vad_process_s"], ".2f", " s"),
                     f"{run['frontend_process_s']:.2f} s", fmt(run["decoded_s"], ".1f", " s"),
                     f"{run['segments']}", f"{run['removed_by_filter']}",
                     f"{100 * run['wer_vs_ref']:.1f}%"])
    print_table(["configuration", "asr process", "ratio", "asr wall", "vad process",
                 "vad + asr", "decoded", "segments", "filtered", "WER vs ref"], rows)
    print("  asr process = lock.json duration_s (decoding, no model load); ratio and WER vs ref "
          f"are against '{ASR_CONFIGS[REFERENCE][1]}';")
    print("  decoded = audio the asr stage decoded (asr.log); filtered = segments the "
          "hallucination post-pass removed")
    print(f"  WER vad stage vs no VAD at all: {100 * runs['vad_stage']['wer_vs']['no_vad']:.1f}%")
    v = fig["verdict"]
    print(f"VAD stage makes asr faster: {'YES' if v['asr_faster'] else 'NO'} "
          f"(asr {runs['vad_stage']['process_s']:.2f} s vs {runs[REFERENCE]['process_s']:.2f} s, "
          f"x{runs['vad_stage']['ratio']:.2f}); counting the vad stage's own process too: "
          f"{'YES' if v['frontend_faster'] else 'NO'} "
          f"({runs['vad_stage']['frontend_process_s']:.2f} s vs "
          f"{runs[REFERENCE]['frontend_process_s']:.2f} s)")
    print(f"vs no VAD at all: the vad stage's asr is x{v['vs_no_vad']:.2f} of "
          f"{runs['no_vad']['process_s']:.2f} s")
    on, ref = runs["vad_stage"], runs[REFERENCE]
    if not v["asr_faster"] and on["decoded_s"] and ref["decoded_s"]:
        print(f"  why: with the vad stage asr decoded {on['decoded_s']:.1f} s in "
              f"{on['speech_chunks']} chunk(s) for {fig['vad']['silero']['stage']['speech_s']:.1f}"
              f" s of speech found; faster-whisper's own filter decoded {ref['decoded_s']:.1f} s "
              "(it cuts the silence out and joins the speech)")
    if fig["noise"]:
        print("caution, this run is noisy:")
        for line in fig["noise"]:
            print(f"  - {line}")


def main() -> int:
    parser = bench_parser(__doc__, rounds=1, minutes=False,
                          rounds_help="time each stage this many times; keep the fastest")
    args = parser.parse_args()
    rounds = max(1, args.rounds)

    load_before = os.getloadavg()
    with work_folder("subpipe-bench-frontend-", args.keep) as folder:
        film, speech_s = build_film(folder)
        stereo = build_stereo(folder, DEMUCS_SECONDS)
        cache = setup_cache(folder)
        log("installing the tiny random HTDemucs into the temporary cache ...")
        from tests import tiny_demucs

        tiny_demucs.install(cache)
        out = folder / "out"
        vad = {}
        for backend in VAD_BACKENDS:
            vad[backend] = {"stage": vad_stage(film, out, folder, backend, rounds),
                            "alone": vad_alone(film, cache, folder, backend, rounds)}
        dm = demucs(stereo, out, folder, rounds)
        runs = asr_comparison(film, out, folder, vad["silero"]["stage"]["job_id"], rounds)
        request = json.loads((stage_dir(out / runs[REFERENCE]["job_id"], "asr")
                              / "request.json").read_text("utf-8"))["params"]
        ref, on, off = runs[REFERENCE], runs["vad_stage"], runs["no_vad"]
        machine = {**machine_info(), "loadavg_before": load_before,
                   "loadavg_after": os.getloadavg()}
        fig = {
            "machine": machine, "rounds": rounds,
            "film": {"duration": round(media_duration(film), 3), "speech_s": round(speech_s, 3),
                     "pieces": FILM, "lead_s": LEAD_S, "room_tone_amplitude": ROOM_TONE},
            "vad": vad, "demucs": {**dm, "model": "tiny random HTDemucs (tests/tiny_demucs.py)"},
            "asr_model": f"{request['model']} {request['device']}/{request['compute_type']}, "
                         f"cpu_threads={request['cpu_threads']}, beam {request['beam_size']}",
            "asr": runs,
            "verdict": {"asr_faster": on["process_s"] < ref["process_s"],
                        "frontend_faster": on["frontend_process_s"] < ref["frontend_process_s"],
                        "vs_no_vad": on["process_s"] / off["process_s"]},
            "noise": [n for n in [busy_note(machine)] if n],
        }
        print_report(fig)
        write_figures(fig, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
