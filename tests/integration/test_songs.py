"""The songs stage, run for real (`python -m stages.songs --job DIR` in the whisperx venv) on
a generated clip (tests/song_audio.py): dialogue in English and Hindi (espeak-ng), a sung song
(held vowel notes with vibrato over chords, bass and a 120 bpm beat) and espeak-ng lines
recited over the same kind of bed, refrain and all (no singing: not lyrics). With and without
the separation inputs (the clip's own vocals and accompaniment at 44.1 kHz stereo), with and
without text evidence. Reports precision and recall of the lyrics flags per run
(record_property and an @@report line). Then dialogue that repeats over a noisy bed: the
refrain-like text alone makes no lyrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.stage import StageRequest
from tests.helpers import ROOT, have, write_stage_request

pytestmark = pytest.mark.integration

PYTHON = ROOT / ".venvs" / "whisperx" / "bin" / "python"
SOUNDTRACK = {"found": True, "tracks": [
    {"position": "1", "title": "Saathiya", "length_s": 29.0},
    {"position": "2", "title": "Dancing in the Rain", "length_s": 24.0},
    {"position": "3", "title": "Title Theme", "length_s": 210.0}]}


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    if not (have("espeak-ng") and PYTHON.is_file()):
        pytest.skip("needs espeak-ng and the whisperx venv (./bootstrap.sh --envs whisperx)")
    folder = tmp_path_factory.mktemp("songs-clip")
    subprocess.run([str(PYTHON), "-m", "tests.song_audio", str(folder)], check=True, cwd=ROOT,
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    return folder


def truth(clip: Path) -> dict:
    return json.loads((clip / "manifest.json").read_text("utf-8"))


def make_job(root: Path, clip: Path, *, separated: bool, params: dict | None = None,
             metadata: dict | None = None) -> StageRequest:
    """A job folder as the runner leaves it for the songs stage: request.json + job.json."""
    job_dir = root / "job"
    stage_dir = job_dir / "stages" / "06_songs"
    stage_dir.mkdir(parents=True)
    inputs = {"segments": clip / "aligned.json", "audio": clip / "audio_16k.wav"}
    if separated:
        inputs.update(vocals=clip / "vocals.wav", accompaniment=clip / "accompaniment.wav")
    if metadata is not None:
        inputs["metadata"] = root / "metadata.json"
        inputs["metadata"].write_text(json.dumps(metadata), "utf-8")
    request = StageRequest(job_id="job", job_dir=job_dir, stage="songs", key="songs",
                           stage_dir=stage_dir, deliverables_dir=job_dir / "subtitles",
                           title="clip", media=clip / "audio_16k.wav", params=params or {},
                           inputs=inputs)
    write_stage_request(request)
    return request


def run_stage(request: StageRequest) -> dict:
    """``python -m shared.stage_main stages.songs --job DIR``, as the runner starts it."""
    proc = subprocess.run([str(PYTHON), "-m", "shared.stage_main", "stages.songs", "--job",
                           str(request.job_dir)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    result = json.loads((request.stage_dir / "result.json").read_text("utf-8"))
    assert result["status"] == "ok", result
    return {**result, "log": proc.stderr}


def precision_recall(flags: list[bool], expected: list[bool]) -> tuple[float, float]:
    hits = sum(f and e for f, e in zip(flags, expected, strict=True))
    return (hits / sum(flags) if any(flags) else 1.0,
            hits / sum(expected) if any(expected) else 1.0)


@pytest.mark.parametrize("separated", [False, True], ids=["mixture", "separated"])
@pytest.mark.parametrize("text", [True, False], ids=["audio+text", "audio-only"])
def test_song_segments_are_flagged_and_speech_is_not(clip, tmp_path, separated, text,
                                                     record_property):
    params = {} if text else {"text_weight": 0.0}
    request = make_job(tmp_path, clip, separated=separated, params=params)
    result = run_stage(request)
    expected = truth(clip)
    source = json.loads((clip / "aligned.json").read_text("utf-8"))
    output = json.loads(request.output("segments.json").read_text("utf-8"))
    report = json.loads(request.output("songs.json").read_text("utf-8"))

    flags = [s["lyrics"] for s in output["segments"]]
    precision, recall = precision_recall(flags, expected["truth"])
    name = f"{'separated' if separated else 'mixture'}/{'audio+text' if text else 'audio'}"
    record_property(f"precision {name}", precision)
    record_property(f"recall {name}", recall)
    scores = {"song": [round(s["song_score"], 2) for s, t in
                       zip(output["segments"], expected["truth"], strict=True) if t],
              "speech": [round(s["song_score"], 2) for s, t in
                         zip(output["segments"], expected["truth"], strict=True) if not t]}
    sys.stdout.write("@@report " + json.dumps({"run": name, "precision": precision,
                                               "recall": recall, **scores}) + "\n")
    assert flags == expected["truth"], scores
    assert (precision, recall) == (1.0, 1.0)

    # everything but the two new fields is the input, unchanged
    assert {k: v for k, v in output.items() if k != "segments"} == \
        {k: v for k, v in source.items() if k != "segments"}
    for before, after in zip(source["segments"], output["segments"], strict=True):
        assert {k: v for k, v in after.items() if k not in ("lyrics", "song_score")} == before
        assert 0.0 <= after["song_score"] <= 1.0

    # the region is the sung song (the recited one is none), and songs.json says why
    assert report["mode"] == ("separated" if separated else "mixture")
    spans = [(s["start"], s["end"]) for s in report["songs"]]
    assert len(spans) == 1
    for (start, end), (true_start, true_end) in zip(spans, expected["songs"], strict=True):
        assert true_start <= start <= true_start + 1.0 and true_end - 4.5 <= end <= true_end
    assert report["thresholds"]["threshold"] == 0.45
    assert report["summary"]["lyrics_segments"] == sum(expected["truth"])
    evidence = report["segments"][4]
    assert evidence["lyrics"] and evidence["measures"]["sustained_ratio"] > 0.1
    assert set(evidence["parts"]) == ({"bed", "sustained", "voiced", "rhythm", "tonality"}
                                      if separated
                                      else {"sustained", "voiced", "tonality", "continuity",
                                            "harmonicity", "rhythm"})
    assert evidence["singing_score"] >= report["thresholds"]["singing_threshold"]
    recited = [r for r in report["segments"]
               if expected["spoken_song"][0] <= r["start"] <= expected["spoken_song"][1]]
    assert len(recited) == 6 and all(
        r["singing_score"] < report["thresholds"]["singing_threshold"] for r in recited)
    assert result["info"]["songs"] == 1
    assert "1 song(s)" in result["log"]


def test_soundtrack_tracks_are_matched_to_the_songs(clip, tmp_path):
    request = make_job(tmp_path, clip, separated=True, metadata={"soundtrack": SOUNDTRACK})
    result = run_stage(request)
    report = json.loads(request.output("songs.json").read_text("utf-8"))
    assert [s["track"]["title"] for s in report["songs"]] == ["Saathiya"]
    assert [t["title"] for t in report["soundtrack"]["tracks"]] == [
        "Saathiya", "Dancing in the Rain", "Title Theme"]
    # a run of likely lyrics as long as a track got the bonus; dialogue did not
    expected = truth(clip)["truth"]
    bonus = {s["soundtrack_bonus"] for s, t in zip(report["segments"], expected, strict=True)
             if not t}
    assert bonus == {0.0}
    assert "soundtrack track 1 'Saathiya'" in result["log"]


def test_no_soundtrack_found_and_no_separation_stay_quiet(clip, tmp_path):
    """metadata.json without a soundtrack (the metadata stage found none) changes nothing."""
    request = make_job(tmp_path, clip, separated=False,
                       metadata={"soundtrack": {"found": False, "tracks": []}})
    run_stage(request)
    report = json.loads(request.output("songs.json").read_text("utf-8"))
    assert report["soundtrack"]["tracks"] == []
    assert all(s["track"] is None for s in report["songs"])
    assert [s["lyrics"] for s in report["segments"]] == truth(clip)["truth"]


def test_threads_change_nothing_in_what_the_stage_writes(clip, tmp_path):
    """Segments are measured on cpu_threads threads at once: the files equal one thread's."""
    written = []
    for threads in (1, 3):
        request = make_job(tmp_path / f"t{threads}", clip, separated=False,
                           params={"cpu_threads": threads})
        run_stage(request)
        written.append([request.output(name).read_bytes()
                        for name in ("segments.json", "songs.json")])
    assert written[0] == written[1]
    assert json.loads(written[0][1])["summary"]["lyrics_segments"] == sum(truth(clip)["truth"])


@pytest.fixture(scope="module")
def repeated_dialogue(tmp_path_factory) -> Path:
    """tests/song_audio.py's repeated_noise clip: four lines said again and again (five
    rounds, 53 s) over a noisy bed, as a film's recurring dialogue."""
    if not (have("espeak-ng") and PYTHON.is_file()):
        pytest.skip("needs espeak-ng and the whisperx venv (./bootstrap.sh --envs whisperx)")
    folder = tmp_path_factory.mktemp("songs-repeated")
    subprocess.run([str(PYTHON), "-m", "tests.song_audio", str(folder), "--set",
                    "repeated_noise"], check=True, cwd=ROOT,
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    return folder / "repeated_noise"


@pytest.mark.parametrize("separated", [False, True], ids=["mixture", "separated"])
def test_repeated_dialogue_over_a_noisy_bed_is_no_song(repeated_dialogue, tmp_path,
                                                       separated):
    request = make_job(tmp_path, repeated_dialogue, separated=separated)
    result = run_stage(request)
    output = json.loads(request.output("segments.json").read_text("utf-8"))
    report = json.loads(request.output("songs.json").read_text("utf-8"))
    assert len(output["segments"]) == 20
    # the text is a refrain by every measure the stage has ...
    assert all(r["repetition"] >= 0.5 and r["text_score"] >= 0.8 for r in report["segments"])
    # ... but nobody sings: no segment is lyrics, no song, and the text raised nothing
    assert not any(s["lyrics"] for s in output["segments"])
    assert report["songs"] == [] and result["info"]["songs"] == 0
    threshold = report["thresholds"]["singing_threshold"]
    for r in report["segments"]:
        assert r["singing_score"] < threshold
        assert not (r["above_threshold"] or r["after_smoothing"])
