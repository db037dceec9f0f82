"""The alignment stage in the whisperx venv: Whisper's word times when no aligner is cached,
and whisperx's real forced alignment with a tiny random wav2vec2 CTC model
(tests/tiny_wav2vec2.py) placed into a temporary cache, offline, with the network refused."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests import tiny_wav2vec2
from tests.helpers import (
    JFK_TEXT,
    NO_NETWORK,
    ROOT,
    assert_finished,
    lock,
    make_model_cache,
    network_namespace_works,
    prepare,
    run_pipeline,
    srt_text,
    stages_ran,
    wer,
)

pytestmark = pytest.mark.integration

ALIGN_DIR = "stages/05_alignment"
TINY = tiny_wav2vec2.REPO_ID


def aligned(job_dir: Path) -> dict:
    return json.loads((job_dir / ALIGN_DIR / "aligned.json").read_text("utf-8"))


def words_of(segments: list[dict]) -> list[str]:
    return [w["word"].strip() for s in segments for w in s["words"]]


def assert_words_in_order(segments: list[dict]) -> None:
    """Every word inside its segment, none starting before the previous one ends."""
    assert segments and all(s["words"] for s in segments)
    previous = 0.0
    for s in segments:
        for w in s["words"]:
            assert s["start"] <= w["start"] <= w["end"] <= s["end"], (s["text"], w)
            assert w["start"] >= previous, (s["text"], w)
            previous = w["end"]


def test_without_a_cached_aligner_whisper_word_times_are_used(test_cache, speech, jobs_root):
    job_id = prepare("--media", str(speech / "jfk.flac"), "-s", "en", "--title", "JFK",
                     out=jobs_root)
    proc = run_pipeline(job_id, out=jobs_root)
    assert stages_ran(proc) == ["demux", "metadata", "glossary", "asr", "alignment", "songs",
                                "subtitles:source"]
    job_dir = jobs_root / job_id
    data = aligned(job_dir)
    assert data["method"] == "whisper-word-timestamps" and data["aligners"] == {}
    assert all(s["method"] == "whisper-word-timestamps" for s in data["segments"])
    assert_words_in_order(data["segments"])
    asr = json.loads((job_dir / "stages/04_asr/segments.json").read_text("utf-8"))
    assert words_of(data["segments"]) == words_of(asr["segments"])
    assert data["language"] == "en" and data["model"] == asr["model"]
    log = (job_dir / "logs" / "alignment.log").read_text("utf-8")
    assert "no wav2vec2 model cached" in log
    # the subtitles are made from the aligned segments
    transcript = json.loads((job_dir / "subtitles" / "JFK.en.json").read_text("utf-8"))
    assert [s["text"] for s in transcript["segments"]] == [s["text"] for s in data["segments"]]
    assert wer(JFK_TEXT, srt_text(job_dir / "subtitles" / "JFK.en.srt")) <= 0.10


@pytest.fixture(scope="module")
def tiny_job(tmp_path_factory, speech):
    """jfk.flac through the pipeline with the tiny aligner, in a network namespace with no
    network when this machine allows one: (job folder, environment, whether unshared)."""
    folder = tmp_path_factory.mktemp("align")
    cache, path = make_model_cache(folder)
    tiny_wav2vec2.install(cache)
    env = {"SUBPIPE_HARDWARE_CACHE": str(path)}
    out = folder / "out"
    job_id = prepare("--media", str(speech / "jfk.flac"), "-s", "en", "--title", "JFK",
                     "--set", f"alignment.model={TINY}", out=out, env=env)
    unshared = network_namespace_works()
    if unshared:
        proc = subprocess.run(["unshare", "--net", str(ROOT / "run-pipeline.sh"), "-j", job_id,
                               "--out", str(out)], capture_output=True, text=True,
                              env={**os.environ, **env}, timeout=900)
    else:
        proc = run_pipeline(job_id, out=out, env=env, check=False)
    # the random-weight aligner's word times can crowd a cue past what anyone can read
    # (54 characters a second on JFK's first line): the subtitles say so, nothing else may
    assert_finished(proc, out / job_id, may_degrade=("subtitles:source",))
    return cache, out / job_id


def test_tiny_wav2vec2_aligns_through_whisperx_offline(tiny_job):
    cache, job_dir = tiny_job
    data = aligned(job_dir)
    assert data["method"] == f"wav2vec2:{TINY}" and data["aligners"] == {"*": TINY}
    assert_words_in_order(data["segments"])
    asr = json.loads((job_dir / "stages/04_asr/segments.json").read_text("utf-8"))
    assert words_of(data["segments"]) == " ".join(s["text"] for s in asr["segments"]).split()
    assert all(0.0 <= w["probability"] <= 1.0 for s in data["segments"] for w in s["words"])
    from shared import hf_cache

    revision = hf_cache.read_ref(cache.cache.hf_hub_cache, TINY)
    components = lock(job_dir)["stages"]["alignment"]["components"]
    assert components["models"] == {TINY: f"{TINY}@{revision}"}
    assert components["params"]["aligners"] == {"*": TINY}
    assert wer(JFK_TEXT, srt_text(job_dir / "subtitles" / "JFK.en.srt")) <= 0.10


CHILD = NO_NETWORK + r"""
import json, socket, sys


from faster_whisper import decode_audio

from shared import stage_main
from stages.alignment.wav2vec2 import Aligner
from stages.alignment.words import finish
from shared.transcript import Segment

job_dir, audio_path, repo, text = sys.argv[1:5]
code = stage_main.main(["stages.alignment", "--job", job_dir])
audio = decode_audio(audio_path, sampling_rate=16000)
segment = {"id": 0, "start": 0.5, "end": 9.5, "language": "hi", "text": text}
words = Aligner(repo, "hi", "cpu", None).align_words(Segment(**segment), audio, "hi")
report = {"code": code, "attempts": attempts, "words": words,
          "hindi": [s.to_json() for s in finish([Segment(**segment, words=words)])]}
sys.stdout.write("@@report " + json.dumps(report, ensure_ascii=False) + "\n")
"""

HINDI = "नमस्ते दोस्तों। आज हम 2 बातें करेंगे, आप कैसे हैं? मैं ठीक हूँ।"


def test_alignment_opens_no_socket_and_cuts_hindi_at_the_danda(tiny_job, speech):
    """The alignment stage's own entry point (and a Hindi segment through the same
    whisperx call) in the whisperx venv with every socket connect and name lookup refused and
    recorded, and without HF_HUB_OFFLINE: the code itself must not reach for a hub or for
    NLTK data. The re-run gives the pipeline's aligned.json byte for byte."""
    from shared.environment_manager import EnvironmentManager

    cache, job_dir = tiny_job
    before = (job_dir / ALIGN_DIR / "aligned.json").read_bytes()
    lines: list[str] = []
    result = EnvironmentManager(cache).run_in_environment(
        "whisperx", ["-c", CHILD, str(job_dir), str(speech / "jfk.flac"), TINY, HINDI],
        on_line=lines.append, timeout=600, offline=False,
        extra_env={"NLTK_DATA": str(job_dir / "no-nltk-data")})
    assert result.ok, "\n".join(lines[-30:])
    report = json.loads(next(line for line in lines if line.startswith("@@report "))
                        .removeprefix("@@report "))
    assert report["attempts"] == [] and report["code"] == 0
    assert (job_dir / ALIGN_DIR / "aligned.json").read_bytes() == before
    assert not (job_dir / "no-nltk-data").exists()
    hindi = report["hindi"]
    assert [s["text"] for s in hindi] == ["नमस्ते दोस्तों।", "आज हम 2 बातें करेंगे, आप कैसे हैं?",
                                          "मैं ठीक हूँ।"]
    assert [len(s["words"]) for s in hindi] == [2, 8, 3]
    assert all(w["start"] is not None for w in report["words"])  # every word was aligned
    assert_words_in_order(hindi)
    assert 0.5 <= hindi[0]["start"] and hindi[-1]["end"] <= 9.5


WINDOW_CHILD = r"""
import json, sys
import numpy as np
from faster_whisper import decode_audio
from shared.transcript import Segment
from stages.alignment.wav2vec2 import Aligner, no_nltk

audio_path, repo, text = sys.argv[1:4]
audio = np.concatenate([np.zeros(40 * 16000, dtype=np.float32),
                        decode_audio(audio_path, sampling_rate=16000)])
segment = Segment(id=0, start=40.5, end=49.5, language="en", text=text)
aligner = Aligner(repo, "en", "cpu", None)
windowed = aligner.align_words(segment, audio, "en")
with no_nltk(aligner._module):
    whole = aligner._module.align([{"start": 40.5, "end": 49.5, "text": text}], aligner.model,
                                  {**aligner.metadata, "language": "en"}, audio, "cpu")
words = [w for s in whole["segments"] for w in s["words"]]
sys.stdout.write("@@report " + json.dumps({"windowed": windowed, "whole": words}) + "\n")
"""


def test_a_segment_late_in_the_film_aligns_from_its_own_samples(tiny_job, speech):
    """align_words reads only the segment's samples (a window around it) and gives the times
    whisperx gives when handed the whole audio: jfk 40 s into a file."""
    from shared.environment_manager import EnvironmentManager

    cache, _ = tiny_job
    text = ("and so my fellow americans ask not what your country can do for you ask what "
            "you can do for your country")
    lines: list[str] = []
    result = EnvironmentManager(cache).run_in_environment(
        "whisperx", ["-c", WINDOW_CHILD, str(speech / "jfk.flac"), TINY, text],
        on_line=lines.append, timeout=600)
    assert result.ok, "\n".join(lines[-30:])
    report = json.loads(next(line for line in lines if line.startswith("@@report "))
                        .removeprefix("@@report "))
    windowed, whole = report["windowed"], report["whole"]
    assert windowed is not None and len(windowed) == len(whole) == len(text.split())
    for w, x in zip(windowed, whole, strict=True):
        assert w["start"] == pytest.approx(x["start"], abs=1e-3), (w, x)
        assert w["end"] == pytest.approx(x["end"], abs=1e-3), (w, x)
    assert 40.5 <= windowed[0]["start"] and windowed[-1]["end"] <= 49.5
