"""The review report's pure parts: waveform peaks read in blocks, JSON that cannot end its
<script> element, QC flags per cue, the stage table from logs/last_run.json."""

from __future__ import annotations

import json
import wave
from array import array
from pathlib import Path

from shared.report import peaks
from shared.report.html import script_json
from shared.report.timeline import qc_flags


def write_wav(path: Path, samples: list[int], rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(array("h", samples).tobytes())
    return path


def test_peaks_follow_the_loud_part_across_read_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(peaks, "BLOCK_FRAMES", 1000)  # many blocks, buckets across their edges
    quiet, loud = [50, -50] * 8000, [12000, -16000] * 4000
    wav = write_wav(tmp_path / "a.wav", quiet + loud + quiet)  # 1 s, 0.5 s, 1 s
    result = peaks.waveform_peaks(wav, buckets=25)
    assert result["duration"] == 2.5 and result["bucket_s"] == 0.1
    assert len(result["peaks"]) == 25
    assert result["peaks"][10:15] == [100] * 5
    assert max(result["peaks"][:10] + result["peaks"][15:]) <= 1


def test_peaks_of_a_missing_or_empty_file_are_empty(tmp_path):
    assert peaks.waveform_peaks(tmp_path / "none.wav")["peaks"] == []
    assert peaks.waveform_peaks(write_wav(tmp_path / "empty.wav", []))["peaks"] == []


def test_script_json_cannot_close_its_script_element():
    text = script_json({"t": "</script><script>alert(1)</script> & \u2028 हिन्दी"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text)["t"] == "</script><script>alert(1)</script> & \u2028 हिन्दी"


def test_qc_flags_per_cue_include_untranslated():
    qc = {"rules": {"max_cps": {"cues": [2, 5]}, "min_gap": {"cues": [5]}},
          "untranslated": {"cues": [{"cue": 7}]}}
    assert qc_flags(qc) == {2: ["max_cps"], 5: ["max_cps", "min_gap"], 7: ["untranslated"]}


def test_collect_reads_a_translated_job_folder(tmp_path):
    """The bench's synthetic job folder (the files the stages write, in their shapes): two
    tracks with their QC flags, translation lines with their engine, the state and stages."""
    from bench.report_scale import build_job
    from shared.report.data import collect
    from shared.report.html import render_report

    job_dir = build_job(tmp_path, hours=0.05, count=30)
    collected = collect(job_dir)
    data = collected["data"]
    assert [(t["lang"], t["role"], len(t["cues"])) for t in data["tracks"]] == [
        ("hi", "source", 30), ("en", "target", 30)]
    qc = json.loads(next(job_dir.glob("stages/*_subtitles_en/qc.json")).read_text("utf-8"))
    flagged = {c["n"] for c in data["tracks"][1]["cues"] if c["flags"] == ["max_cps"]}
    assert flagged == set(qc["rules"]["max_cps"]["cues"]) and len(flagged) == 3
    [translation] = data["translation"]
    assert translation["engine"] == "indictrans2" and translation["origins"] == {"NMT": 30}
    assert translation["lines"][0]["source"].startswith("यह एक")
    assert collected["job"]["state"] == "ok" and collected["audio"].endswith("audio_16k.wav")
    assert [s["state"] for s in collected["stages"]] == ["ran"] * 7
    assert len(data["peaks"]["peaks"]) == 3000 and data["duration"] == 180
    assert "hi" in {lang["code"] for lang in collected["job"]["languages"]}
    block = render_report(collected).split('id="report-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(block) == json.loads(json.dumps(data))  # the block ends where the data does


def test_a_report_that_cannot_be_written_is_a_warning(tmp_path, caplog, capsys):
    """scripts/run.py writes the reports after the end table: a damaged job folder costs its
    report (a warning naming the fix), never an exception that would change the exit code;
    the index is still written, without the unreadable job."""
    from scripts.run import write_reports

    broken = tmp_path / "out" / "broken-job"
    broken.mkdir(parents=True)
    (broken / "job.json").write_text("{not json", "utf-8")
    with caplog.at_level("WARNING"):
        write_reports([broken], tmp_path / "out")
    assert "could not write the report of broken-job" in caplog.text
    assert "./run-pipeline.sh -j broken-job --report" in caplog.text
    assert not (broken / "report.html").exists()
    index = (tmp_path / "out" / "index.html").read_text("utf-8")
    assert "0 job(s)" in index and f"index: {tmp_path / 'out' / 'index.html'}" in \
        capsys.readouterr().out


def test_before_the_subtitles_the_transcript_is_shown_marked_not_subtitled(tmp_path):
    """No subtitles track on disk: the cues are the transcript's segments, marked not
    subtitled with why: the failed stage, else not finished."""
    from bench.report_scale import build_job
    from shared import job as jobs
    from shared.report.data import collect
    from shared.report.sources import JobFiles
    from shared.report.timeline import unsubtitled_track
    from shared.subtitle_text import graphemes

    job_dir = build_job(tmp_path, hours=0.01, count=5)
    for tracks in job_dir.glob("stages/*_subtitles_*/tracks.json"):
        tracks.unlink()
    asr = next(job_dir.glob("stages/*_asr/segments.json"))
    segments = [{"id": 0, "start": 1.0, "end": 2.5, "text": " नमस्ते दुनिया", "words": []},
                {"id": 1, "start": 3.0, "end": 4.0, "text": " यह एक परीक्षण है", "words": []}]
    asr.write_text(json.dumps({"language": "hi", "segments": segments}), "utf-8")
    [track] = collect(job_dir)["data"]["tracks"]
    assert (track["lang"], track["role"], track["note"]) == (
        "hi", "asr, not subtitled", "not subtitled: the subtitles stage has not finished")
    assert [(c["n"], c["start"], c["end"], c["text"], c["flags"]) for c in track["cues"]] == [
        (1, 1.0, 2.5, "नमस्ते दुनिया", []), (2, 3.0, 4.0, "यह एक परीक्षण है", [])]
    assert track["cues"][0]["cps"] == round(graphemes("नमस्ते दुनिया") / 1.5, 1)
    files = JobFiles(job_dir, jobs.load(job_dir))
    assert unsubtitled_track(files, "translation:en")["note"] == \
        "not subtitled: the job failed at translation:en"
    asr.write_text(json.dumps({"language": "hi", "segments": []}), "utf-8")
    assert collect(job_dir)["data"]["tracks"] == []  # nothing heard, nothing shown
