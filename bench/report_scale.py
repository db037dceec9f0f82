"""Benchmark: the review report of a 2-hour film (issue 16: under 5 MB, renders in a browser
in under 2 s).

It writes a synthetic job folder the way the stages leave one: a 2-hour 16 kHz mono WAV
(ffmpeg: speech-like bursts of noise with pauses), speech regions, 2,000 cues in Hindi and
their 2,000 English translations (SRT through the subtitles stage's own writer escaping),
qc.json flags on about 1 cue in 10, songs, removed hallucinations, translation lines with
their engines, a lock.json and a logs/last_run.json. Then it measures:

  build    collect + render + write report.html in Python (the waveform peaks read the WAV
           in blocks), and the file's size
  render   headless Chromium (Debian's, through selenium): from navigation to the report's
           script finishing (performance.now() when it set data-ready), best of --rounds

Usage: .venvs/common/bin/python bench/report_scale.py [--hours 2] [--cues 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import ffmpeg, machine_info, print_machine  # noqa: E402

STAGES = [("demux", "demux", None), ("vad", "vad", None), ("asr", "asr", None),
          ("songs", "songs", None), ("translation:en", "translation", "en"),
          ("subtitles:source", "subtitles", "hi"), ("subtitles:en", "subtitles", "en")]
HINDI = "यह एक लंबी फ़िल्म का संवाद है जो बहुत देर तक चलता है"
ENGLISH = "this is a line of dialogue from a long film that goes on for a while"


def stage_dirs(job_dir: Path) -> dict[str, Path]:
    return {key: job_dir / "stages" / f"{i:02d}_{key.replace(':', '_')}"
            for i, (key, _, _) in enumerate(STAGES, start=1)}


def write_audio(path: Path, seconds: float) -> None:
    """Noise gated on and off (3 s of "speech", 2 s of quiet): a waveform with shape."""
    ffmpeg("-f", "lavfi", "-i", f"anoisesrc=r=16000:a=0.3:d={seconds}", "-af",
           "volume='if(lt(mod(t,5),3),1,0.05)':eval=frame", "-ac", "1", "-c:a", "pcm_s16le",
           str(path))


def make_cues(count: int, seconds: float, text: str) -> list[dict]:
    step = seconds / count
    return [{"start": i * step + 0.2, "end": i * step + min(step - 0.3, 4.0),
             "lines": [f"{text} {i + 1}", text[: len(text) // 2]]} for i in range(count)]


def write_srt(path: Path, cues: list[dict]) -> None:
    import pysubs2

    from shared.subtitle_text import escape

    subs = pysubs2.SSAFile()
    for cue in cues:
        subs.append(pysubs2.SSAEvent(start=int(cue["start"] * 1000), end=int(cue["end"] * 1000),
                                     text="\\N".join(escape(x, "srt") for x in cue["lines"])))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(subs.to_string("srt", keep_ssa_tags=True), "utf-8")


def qc(lang: str, count: int, rng: random.Random) -> dict:
    flagged = sorted(rng.sample(range(1, count + 1), count // 10))
    rules = {r: {"limit": 1, "before": 0, "after": 0, "cues": [], "worst": [], "why_left": None}
             for r in ("max_lines", "max_chars_per_line", "min_duration", "max_duration",
                       "min_gap")}
    rules["max_cps"] = {"limit": 17, "before": len(flagged), "after": len(flagged),
                        "cues": flagged, "worst": [], "why_left": "spoken faster than the limit"}
    return {"language": lang, "cues": count, "rules": rules, "ok": False,
            "untranslated": {"count": 0, "cues": []}}


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")


def build_job(folder: Path, hours: float, count: int) -> Path:
    seconds = hours * 3600
    rng = random.Random(16)
    job_dir = folder / "out" / "long-film"
    dirs = stage_dirs(job_dir)
    for d in dirs.values():
        d.mkdir(parents=True)
    write_audio(dirs["demux"] / "audio_16k.wav", seconds)
    write_json(dirs["demux"] / "media_info.json", {"duration": seconds})
    speech = [[t, t + 3.0] for t in range(0, int(seconds), 5)]
    write_json(dirs["vad"] / "speech_segments.json", {"segments": [
        {"start": a, "end": b, "confidence": 0.9} for a, b in speech]})
    write_json(dirs["asr"] / "segments.json", {"language_shares": {"hi": 0.93, "en": 0.07}})
    write_json(dirs["asr"] / "hallucinations.json", {"removed": [
        {"segment": {"start": t, "end": t + 2, "text": "Thanks for watching!"},
         "reason": "boilerplate phrase"} for t in range(600, int(seconds), 900)]})
    write_json(dirs["songs"] / "songs.json", {"songs": [
        {"start": t, "end": t + 240, "score": 0.8, "track": {"title": f"Song {i}"}}
        for i, t in enumerate(range(1200, int(seconds) - 300, 1800), start=1)]})
    source, target = make_cues(count, seconds, HINDI), make_cues(count, seconds, ENGLISH)
    write_json(dirs["translation:en"] / "segments.json", {
        "engine": "indictrans2", "model": "ai4bharat/indictrans2-indic-en-dist-200M",
        "segments": [{"start": s["start"], "end": s["end"], "source_text": " ".join(s["lines"]),
                      "text": " ".join(t["lines"]), "origin": "nmt"}
                     for s, t in zip(source, target, strict=True)]})
    for key, lang, cues in (("subtitles:source", "hi", source), ("subtitles:en", "en", target)):
        srt = job_dir / "subtitles" / f"Long film.{lang}.srt"
        write_srt(srt, cues)
        write_json(dirs[key] / "tracks.json", {"language": lang, "files": {
            "srt": srt.relative_to(job_dir).as_posix()}})
        write_json(dirs[key] / "qc.json", qc(lang, count, rng))
    write_job_files(job_dir, dirs, seconds)
    return job_dir


def write_job_files(job_dir: Path, dirs: dict[str, Path], seconds: float) -> None:
    wav = dirs["demux"] / "audio_16k.wav"
    write_json(job_dir / "job.json", {"schema_version": 1,
        "job_id": "long-film", "created_at": "2026-12-03T00:00:00+00:00",
        "workflow": "translate", "title": "Long film", "source_lang": "hi",
        "target_langs": ["en"], "media": {"path": str(wav), "sha256": "0" * 64,
                                          "size": wav.stat().st_size, "duration": seconds},
        "stages": [{"key": k, "stage": s, "lang": lang, "index": i,
                    "dir": dirs[k].relative_to(job_dir).as_posix()}
                   for i, (k, s, lang) in enumerate(STAGES, start=1)],
        "stage_environments": {s: "common" for _, s, _ in STAGES}})
    write_json(job_dir / "lock.json", {"stages": {k: {
        "key": k, "stage": s, "env": "common", "fingerprint": "0", "components": {},
        "outputs": [], "started_at": "", "finished_at": "", "duration_s": 60.0}
        for k, s, _ in STAGES}})
    from shared.run_record import RECORD_FILE, LastRun, StageEntry

    when = "2026-12-03T00:00:00+00:00"
    write_json(job_dir / RECORD_FILE, LastRun(started_at=when, finished_at=when, stages={
        k: StageEntry(state="ran", reasons=["not run before"], decided_at=when)
        for k, _, _ in STAGES}).model_dump(mode="json"))


def render_ms(report: Path, rounds: int) -> list[float]:
    from tests.e2e.test_report import browser_or_skip

    driver = browser_or_skip()
    try:
        times = []
        for _ in range(rounds):
            driver.get(report.as_uri())
            rendered = None
            for _ in range(100):  # the page's script sets it when it has drawn everything
                rendered = driver.execute_script("return document.body.dataset.renderedMs")
                if rendered:
                    break
                time.sleep(0.1)
            if not rendered:
                raise SystemExit("the report did not finish rendering: "
                                 f"{driver.get_log('browser')}")
            times.append(float(rendered))
        return times
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--cues", type=int, default=2000, help="cues per language")
    parser.add_argument("--rounds", type=int, default=3, help="browser loads (best counts)")
    args = parser.parse_args()
    import os

    from shared.report.html import write_report

    machine = {**machine_info(), "loadavg_before": os.getloadavg()}
    folder = Path(tempfile.mkdtemp(prefix="report-scale-"))
    try:
        started = time.perf_counter()
        job_dir = build_job(folder, args.hours, args.cues)
        made = time.perf_counter() - started
        started = time.perf_counter()
        report = write_report(job_dir)
        built = time.perf_counter() - started
        times = render_ms(report, args.rounds)
        machine["loadavg_after"] = os.getloadavg()
        print_machine(machine)
        print(f"job      {args.hours:g} h of 16 kHz audio, {args.cues} cues x 2 languages "
              f"(synthetic folder written in {made:.1f} s)")
        print(f"size     {report.stat().st_size / 1e6:.2f} MB (target < 5 MB)")
        print(f"build    {built:.2f} s in Python (peaks, collect, render, write)")
        print(f"render   {min(times):.0f} ms in headless Chromium, best of {len(times)} "
              f"({', '.join(f'{t:.0f}' for t in times)} ms; target < 2000 ms)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
