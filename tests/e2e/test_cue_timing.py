"""Cue timing follows the speech, end to end: generated film-like audio with known sentence
times (tests/film_audio.py: two voices, pauses of 1-4 s, a music bed under some lines and the
pause after them) through the transcribe workflow, with asr's own VAD and with the vad stage;
cues end close to the end of the speech they carry and never start before the audio or inside
a long silence."""

from __future__ import annotations

import json

import pysubs2
import pytest

from tests.film_audio import cue_end_overruns, make_film, percentile, silences
from tests.helpers import assert_finished, prepare, run_pipeline, stage_dir

pytestmark = pytest.mark.e2e

P95_OVERRUN_S = 0.3


@pytest.mark.parametrize("vad", [(), ("--vad", "silero")], ids=["asr-vad", "vad-stage"])
def test_cue_ends_follow_the_speech_on_a_film_with_pauses(test_cache, jobs_root, tmp_path,
                                                          vad):
    film, truth = make_film(tmp_path / "film", lines=14, pauses=(1.0, 4.0))
    job_id = prepare("--media", str(film), "-s", "en", "--title", "Film", *vad, out=jobs_root)
    job_dir = jobs_root / job_id
    assert_finished(run_pipeline(job_id, out=jobs_root, check=False), job_dir)

    subs = pysubs2.load(str(job_dir / "subtitles" / "Film.en.srt"), encoding="utf-8")
    cues = [(e.start / 1000, e.end / 1000) for e in subs]
    assert len(cues) >= len(truth)
    overruns = cue_end_overruns(cues, truth)
    assert len(overruns) == len(cues), "every cue carries some known speech"
    p95 = percentile(overruns, 95)
    assert p95 <= P95_OVERRUN_S, (
        f"cue-end overrun p95 {p95:.3f} s; per cue: {[round(o, 2) for o in overruns]}")
    assert min(start for start, _ in cues) >= 0
    total = truth[-1].end + 1.0
    long_silences = [(a, b) for a, b in silences(truth, total) if b - a >= 1.0]
    for start, _ in cues:  # a start may come a little early (VAD pad), not deep in a silence
        inside = [(a, b) for a, b in long_silences if a + 0.3 < start < b - 0.3]
        assert not inside, f"a cue starts at {start:.2f} s inside the silence {inside[0]}"

    if vad:  # the vad stage's regions
        found = json.loads((stage_dir(job_dir, "vad") / "speech_segments.json")
                           .read_text("utf-8"))["segments"]
    else:  # asr's own VAD's
        found = json.loads((stage_dir(job_dir, "asr") / "segments.json")
                           .read_text("utf-8"))["speech_regions"]
    assert len(found) >= len(truth) // 2
    quality = json.loads((stage_dir(job_dir, "subtitles:source") / "qc.json").read_text("utf-8"))
    assert quality["speech_regions"] == len(found)
    # every stretch of speech has a cue on screen: no false "speech with no subtitle" over
    # the music bed or the pauses (the run above ended ok)
    unsubtitled = quality["unsubtitled_speech"]
    assert unsubtitled["checked"] and unsubtitled["count"] == 0, unsubtitled
    held = quality["held_past_speech"]  # a rule kept these on past their speech: each named
    assert held["count"] == len(held["cues"]) == sum(held["by_reason"].values())
    assert all(row["reason"] in ("min_duration", "max_cps", "close_gap")
               and row["past_speech_s"] >= 0 for row in held["cues"])
    if not vad:
        _cues_no_one_can_read_make_the_job_degraded(job_id, job_dir, jobs_root)


def _cues_no_one_can_read_make_the_job_degraded(job_id, job_dir, jobs_root):
    """The same job with a minimum duration its lines cannot have (5 s: the next line starts
    sooner): only the subtitles stage re-runs, the cues the pass could not lengthen are listed
    in qc.json `unreadable` and named with their times in the degraded reason, exit 3."""
    from shared.clock import short_clock
    from tests.helpers import degraded_stages

    proc = run_pipeline(job_id, "--set", "subtitles.min_duration=5", out=jobs_root,
                        check=False)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "asr: done in" not in proc.stdout  # only the subtitles stage ran again
    found = json.loads((stage_dir(job_dir, "subtitles:source") / "qc.json")
                       .read_text("utf-8"))["unreadable"]
    assert found["count"] and all(row["duration_s"] < 5 for row in found["cues"])
    (reason,) = degraded_stages(job_dir)["subtitles:source"]
    first = found["cues"][0]
    assert f"cue {first['cue']} at {short_clock(first['start_s'])} shows for" in reason, reason
    assert reason.startswith(f"{found['count']} cue") and "fix: listen there" in reason
