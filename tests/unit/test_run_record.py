"""logs/last_run.json (shared/run_record.py) as the runner writes it through a run, and the
report's stage table read from it: ran / skipped and why / failed with the error and fix /
re-run to remake a pruned input / interrupted; a missing or damaged record leaves the table
to lock.json."""

from __future__ import annotations

import json
from pathlib import Path

from shared import job as jobs
from shared import lockfile, run_record
from shared.errors import InputError, StageFailedError
from shared.report.data import stage_rows, unfinished
from shared.report.sources import JobFiles
from shared.run_record import RECORD_FILE, RunRecord
from shared.workflows import StageInstance

KEYS = ["demux", "asr", "subtitles:source", "mux"]


def read(job_dir: Path) -> dict:
    return json.loads((job_dir / RECORD_FILE).read_text("utf-8"))


def test_the_record_follows_a_run_and_is_on_disk_after_every_step(tmp_path):
    record = RunRecord(tmp_path, {"force": ["asr"]})
    assert read(tmp_path)["stages"] == {} and read(tmp_path)["finished_at"] is None
    record.decided("demux", "skip", ["up to date"])
    record.decided("asr", "run", ["forced"])
    record.started("asr")
    assert read(tmp_path)["stages"]["asr"]["state"] == "running"
    record.ended("asr", None)
    # demux's output was pruned and subtitles needs it: run again, replacing its skip
    record.decided("demux", "run", ["re-run: stages/01_demux/audio_16k.wav was pruned and "
                                    "subtitles:source needs it"], restored=True)
    record.started("demux")
    record.ended("demux", None)
    record.decided("subtitles:source", "run", ["inputs.segments changed"])
    record.started("subtitles:source")
    failure = StageFailedError("subtitles:source", "j", tmp_path / "x.log", ["boom"],
                               "the stage process exited with code 1 without a result")
    record.ended("subtitles:source", failure)
    record.cannot_start("mux", InputError("mux needs x", fix="run the earlier stages"))
    record.close()
    saved = read(tmp_path)
    stages = saved["stages"]
    assert {k: v["state"] for k, v in stages.items()} == {
        "demux": "ran", "asr": "ran", "subtitles:source": "failed", "mux": "failed"}
    assert stages["demux"]["restored"] and stages["demux"]["reasons"][0].startswith("re-run: ")
    assert stages["subtitles:source"]["error"] == failure.reason
    assert stages["subtitles:source"]["fix"] == failure.fix
    assert stages["mux"] == {**stages["mux"], "error": "mux needs x",
                             "fix": "run the earlier stages", "started_at": None}
    for key in ("asr", "demux", "subtitles:source"):
        entry = stages[key]
        assert entry["decided_at"] <= entry["started_at"] <= entry["finished_at"]
        assert entry["wall_s"] >= 0
    assert saved["options"] == {"force": ["asr"]} and saved["finished_at"]
    assert run_record.load(tmp_path).stages["asr"].reasons == ["forced"]


def test_a_stage_running_when_the_run_stops_is_interrupted(tmp_path):
    record = RunRecord(tmp_path)
    record.decided("asr", "run", ["not run before"])
    record.started("asr")
    record.close()  # the runner's finally, after Ctrl-C
    assert read(tmp_path)["stages"]["asr"]["state"] == "interrupted"


def test_off_records_nothing_and_damage_reads_as_no_record(tmp_path):
    record = RunRecord.off()
    record.decided("asr", "run", ["forced"])
    record.close()
    assert not any(tmp_path.iterdir())
    assert run_record.load(tmp_path) is None
    (tmp_path / RECORD_FILE).parent.mkdir()
    (tmp_path / RECORD_FILE).write_text("{not json", "utf-8")
    assert run_record.load(tmp_path) is None


def make_job(tmp_path: Path) -> Path:
    job = jobs.Job(job_id="j", created_at="2026-12-03T00:00:00+00:00", workflow="transcribe",
                   title="T", source_lang="en", target_langs=[],
                   media=jobs.MediaRef(path=tmp_path / "m.flac", sha256="0" * 64, size=1),
                   stages=[StageInstance(key=k, stage=k.split(":")[0], index=i,
                                         dir=f"stages/{i:02d}_{k.replace(':', '_')}",
                                         lang="en" if ":" in k else None)
                  for i, k in enumerate(KEYS, start=1)])
    jobs.save(job, tmp_path)
    for key in ("demux", "asr"):
        lockfile.record(tmp_path, lockfile.StageRecord(
            key=key, stage=key, env="common", fingerprint="f", components={}, outputs=[],
            started_at="", finished_at="", duration_s=2.0))
    return tmp_path


def rows_of(job_dir: Path) -> tuple[dict[str, tuple[str, str]], bool]:
    job = jobs.load(job_dir)
    rows = stage_rows(JobFiles(job_dir, job), lockfile.load(job_dir), 10.0,
                      run_record.load(job_dir))
    return {r["key"]: (r["state"], r["reason"]) for r in rows}, unfinished(rows)


def test_the_stage_table_reads_the_record(tmp_path):
    job_dir = make_job(tmp_path)
    # no record (never run by this version): done from lock.json, else pending
    assert rows_of(job_dir) == ({"demux": ("done", ""), "asr": ("done", ""),
                                 "subtitles:source": ("pending", ""), "mux": ("pending", "")},
                                True)
    record = RunRecord(job_dir, {"only": ["asr", "subtitles"]})
    record.decided("asr", "skip", ["up to date"])
    record.decided("subtitles:source", "run", ["not run before"])
    record.started("subtitles:source")  # killed here: the record never says it ended
    found, pending = rows_of(job_dir)
    assert found == {"demux": ("done", ""), "asr": ("skipped", "up to date"),
                     "subtitles:source": ("unfinished", "the run ended without recording this "
                                                        "stage's end (killed?)"),
                     "mux": ("pending", "")} and pending
