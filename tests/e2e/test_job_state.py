"""A job's end state through the scripts: ok / degraded / failed in one table at the end of a
run and in --status, and the exit code a batch script can trust (0 only when every job is ok,
3 when all finished but some degraded, 1 when one failed)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.helpers import espeak, lock, prepare, run_pipeline, run_script, stages_ran

pytestmark = pytest.mark.e2e

# 13.6 s of Hindi from espeak-ng: the embedded base model, told it is Hindi, writes it in
# Urdu's Arabic script (or nothing, for other sentences): either way no usable Hindi.
HINDI = ("नमस्ते, आज मौसम बहुत अच्छा है। मैं बाज़ार जा रहा हूँ और कुछ सब्ज़ियाँ खरीदूँगा। "
         "क्या तुम मेरे साथ चलोगे? शाम को हम फ़िल्म देखेंगे और फिर खाना खाएँगे। "
         "कल सुबह मुझे दफ़्तर जल्दी पहुँचना है।")
FIX = "./cache-models.sh --model faster-whisper-small"


def table_row(stdout: str, job_id: str) -> str:
    """The end table's row of ``job_id`` (rich box characters are column separators)."""
    for line in stdout.splitlines():
        if job_id in line and ("│" in line or "|" in line):
            return line
    raise AssertionError(f"no table row for {job_id} in:\n{stdout}")


def table_text(stdout: str) -> str:
    """The table's cells joined, so a reason folded over lines reads as one string."""
    cells = [c.strip() for line in stdout.splitlines() for c in re.split(r"[│┃]", line)]
    return " ".join(c for c in cells if c)


@pytest.fixture(scope="module")
def batch(test_cache, speech, tmp_path_factory) -> dict:
    """One English job (JFK) and one Hindi job the embedded model cannot write, run as one
    batch."""
    folder = tmp_path_factory.mktemp("state")
    jobs_root = folder / "out"
    hindi = espeak(HINDI, folder / "hindi.wav", voice="hi")
    english = Path(shutil.copy(speech / "jfk.flac", folder / "jfk.flac"))
    proc = run_script("prepare-job.sh", "--media", str(hindi), "-s", "hi", "--out",
                      str(jobs_root))
    assert proc.returncode == 0, proc.stderr
    hi_job = proc.stdout.strip().splitlines()[-1]
    en_job = prepare("--media", str(english), "-s", "en", out=jobs_root)
    run = run_pipeline(hi_job, "-j", en_job, out=jobs_root, check=False)
    return {"jobs_root": jobs_root, "hi": hi_job, "en": en_job, "prepare": proc, "run": run}


def test_prepare_warns_that_the_model_is_weak_for_the_language(batch):
    err = batch["prepare"].stderr
    assert "ASR model faster-whisper-base is known to transcribe 'hi' poorly" in err, err
    assert "faster-whisper-small is better for it (not cached: " + FIX in err, err


def test_speech_the_model_cannot_write_ends_the_batch_degraded(batch):
    run = batch["run"]
    detail = f"exit {run.returncode}\n{run.stdout}\n{run.stderr}"
    assert run.returncode == 3, detail
    assert "jobs: 1 degraded, 1 ok" in run.stdout or "jobs: 1 ok, 1 degraded" in run.stdout, \
        detail
    assert " degraded " in table_row(run.stdout, batch["hi"]), detail
    assert " ok " in table_row(run.stdout, batch["en"]), detail
    text = table_text(run.stdout)
    assert "asr: " in text and "does not transcribe 'hi' well enough" in text, detail
    assert FIX in text, detail
    # the reason is kept with the stage that had it, for --status and later runs
    record = lock(batch["jobs_root"] / batch["hi"])["stages"]["asr"]
    assert record["degraded"] and "faster-whisper-small" in record["degraded"][0]
    assert lock(batch["jobs_root"] / batch["en"])["stages"]["asr"]["degraded"] == []
    segments = json.loads((batch["jobs_root"] / batch["hi"] / "stages" / "04_asr" /
                           "segments.json").read_text("utf-8"))
    assert not any("\u0900" <= ch <= "\u097f" for s in segments["segments"] for ch in s["text"]), \
        "the model wrote Devanagari after all: this test's premise no longer holds"


def test_a_rerun_that_skips_everything_still_reports_degraded(batch):
    again = run_pipeline(batch["hi"], out=batch["jobs_root"], check=False)
    assert again.returncode == 3, again.stdout + again.stderr
    assert stages_ran(again) == []
    status = run_script("run-pipeline.sh", "--status", "--out", str(batch["jobs_root"]))
    assert status.returncode == 0, status.stderr
    assert " degraded " in table_row(status.stdout, batch["hi"]), status.stdout
    assert " ok " in table_row(status.stdout, batch["en"]), status.stdout
    assert "does not transcribe 'hi' well enough" in table_text(status.stdout)


def test_speech_left_without_a_subtitle_ends_the_job_degraded_with_its_time(
        test_cache, speech, jobs_root, tmp_path):
    """Real speech the transcript loses: an actor saying "Thank you for watching." after JFK
    is removed by the hallucination filter as Whisper's boilerplate, so that speech has no
    cue. With the threshold at 1 s (default 3 s) qc.json lists it and the job ends degraded
    (exit 3) naming its time; JFK's own speech, covered by cues, is not flagged."""
    from tests.helpers import concat_audio, degraded_stages, make_silence, stage_dir

    gap = make_silence(tmp_path / "gap.wav", 2.0)
    thanks = espeak("Thank you for watching.", tmp_path / "thanks.wav")
    media = concat_audio([speech / "jfk.flac", gap, thanks, gap], tmp_path / "ending.wav")
    job_id = prepare("--media", str(media), "-s", "en", "--set",
                     "subtitles.unsubtitled_speech_s=1", out=jobs_root)
    proc = run_pipeline(job_id, out=jobs_root, check=False)
    job_dir = jobs_root / job_id
    detail = f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert proc.returncode == 3, detail
    removed = json.loads((stage_dir(job_dir, "asr") / "hallucinations.json").read_text())
    assert any("boilerplate" in row["reason"] for row in removed["removed"]), removed
    spans = json.loads((stage_dir(job_dir, "subtitles:source") / "qc.json").read_text())[
        "unsubtitled_speech"]["spans"]
    (span,) = spans  # only the removed line: JFK's speech all has cues
    assert 12.5 < span["start_s"] < 13.6 and span["length_s"] > 1.0, spans
    (reason,) = degraded_stages(job_dir)["subtitles:source"]
    assert reason.startswith(f"{span['length_s']:.1f} s of speech at 0:1"), reason
    assert "has no subtitle; fix: listen there" in reason, reason
    assert " degraded " in table_row(proc.stdout, job_id), detail
