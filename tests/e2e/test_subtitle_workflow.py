"""The subtitle workflow through the user's scripts: Hindi speech in a video -> transcript ->
English translation (IndicTrans2 route, the tiny stand-in model built by the tests) -> Hindi
and English subtitle files -> a copy of the video with both as soft tracks. Then a re-run
skips everything, and a changed translation parameter re-runs only what depends on it. The
LLM engine through the scripts, with a draft, and with none and unusable replies (the run
fails naming the fixes; allowed, the untranslated cues are marked)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pysubs2
import pytest

from shared import hf_cache
from shared.environment_manager import EnvironmentManager
from tests import tiny_indictrans2
from tests.helpers import (
    assert_finished,
    concat_audio,
    espeak,
    lock,
    make_model_cache,
    make_silence,
    make_video,
    prepare,
    run_pipeline,
    stages_ran,
    stages_skipped,
)

pytestmark = pytest.mark.e2e

LINES = ["नमस्ते दोस्तों। आज हम एक फिल्म देखने जा रहे हैं।", "राज बहुत अच्छा लड़का है।",
         "यह फिल्म बहुत अच्छी है। चलो घर चलते हैं।"]


@pytest.fixture(scope="module")
def translate_cache(tmp_path_factory) -> dict:
    """The embedded Whisper base plus the IndicTrans2 stand-ins, in one model cache."""
    folder = tmp_path_factory.mktemp("translate-cache")
    hardware, path = make_model_cache(folder)
    hub = Path(hardware.cache.hf_hub_cache)
    result = EnvironmentManager(hardware).run_in_environment(
        "indictrans2", ["-m", "tests.tiny_indictrans2", str(hub)],
        log_paths=[folder / "build.log"], timeout=600)
    assert result.ok, "\n".join(result.tail)
    assert all(hf_cache.is_cached(hub, repo) for repo in tiny_indictrans2.REPOS)
    return {"env": {"SUBPIPE_HARDWARE_CACHE": str(path)}}


@pytest.fixture(scope="module")
def film(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("film")
    parts = []
    for i, line in enumerate(LINES):
        parts.append(espeak(line, folder / f"line{i}.wav", voice="hi"))
        parts.append(make_silence(folder / f"gap{i}.wav", 0.8))
    audio = concat_audio(parts, folder / "speech.wav")
    return make_video(audio, folder / "फ़िल्म test.mp4", seconds=14)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ffprobe_streams(path: Path) -> list[dict]:
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams",
                          str(path)], capture_output=True, text=True, check=True).stdout
    return json.loads(out)["streams"]


def test_subtitle_workflow_hindi_to_english(translate_cache, film, tmp_path):
    env = translate_cache["env"]
    jobs_root = tmp_path / "out"
    glossary = tmp_path / "names.tsv"
    glossary.write_text("term\ttranslation\nराज\tRaj\n", encoding="utf-8")
    before = sha256(film)
    job_id = prepare("--media", str(film), "--workflow", "subtitle", "-s", "hi", "-t", "en",
                     "--title", "Test Film", "--glossary", str(glossary),
                     "--set", "translation.num_beams=1", out=jobs_root, env=env)
    job_dir = jobs_root / job_id
    job = json.loads((job_dir / "job.json").read_text("utf-8"))
    assert job["glossary"] == "glossary.tsv"
    assert (job_dir / "glossary.tsv").read_text("utf-8") == glossary.read_text("utf-8")

    proc = run_pipeline(job_id, out=jobs_root, env=env, check=False)
    assert_finished(proc, job_dir, may_degrade=("asr",))  # base writes little usable Hindi
    assert stages_ran(proc) == ["demux", "metadata", "glossary", "asr", "alignment", "songs",
                                "translation:en", "subtitles:source", "subtitles:en", "mux"]
    assert sha256(film) == before  # the user's media is never modified
    planned = json.loads((job_dir / "job.json").read_text("utf-8"))["environments"]
    assert planned["translation:en"] == "indictrans2" and planned["asr"] == "whisperx"

    translation = json.loads(next(job_dir.glob("stages/*_translation_en/segments.json"))
                             .read_text("utf-8"))
    source = json.loads(next(job_dir.glob("stages/*_alignment/aligned.json")).read_text("utf-8"))
    assert translation["engine"] == "indictrans2"
    assert translation["model"] == "ai4bharat/indictrans2-indic-en-1B"
    assert len(translation["segments"]) == len(source["segments"]) > 0
    assert [s["source_text"] for s in translation["segments"]] == [
        " ".join(s["text"].split()) for s in source["segments"]]

    hi = pysubs2.load(str(job_dir / "subtitles" / "Test Film.hi.srt"))
    en = pysubs2.load(str(job_dir / "subtitles" / "Test Film.en.srt"))
    assert len(hi) > 0 and len(en) > 0
    # English cues stay inside the time of the segments they translate (plus the linger)
    last_end = max(s["end"] for s in source["segments"])
    assert all(e.start >= 0 and e.end <= (last_end + 1.0) * 1000 for e in en)
    for lang in ("source", "en"):
        qc = json.loads(next(job_dir.glob(f"stages/*_subtitles_{lang}/qc.json"))
                        .read_text("utf-8"))
        assert qc["rules"]

    video = job_dir / "Test Film.subtitled.mp4"
    streams = ffprobe_streams(video)
    subs = [s for s in streams if s["codec_type"] == "subtitle"]
    assert [s["tags"]["language"] for s in subs] == ["hin", "eng"]
    assert [s["disposition"]["default"] for s in subs] == [0, 1]  # the first target
    assert {s["codec_type"] for s in streams} == {"video", "audio", "subtitle"}

    again = run_pipeline(job_id, out=jobs_root, env=env, check=False)
    assert_finished(again, job_dir, may_degrade=("asr",))
    assert stages_ran(again) == []
    assert len(stages_skipped(again)) == 10

    changed = run_pipeline(job_id, "--set", "translation.max_chars=200", out=jobs_root, env=env,
                           check=False)
    assert_finished(changed, job_dir, may_degrade=("asr",))
    assert stages_ran(changed)[0] == "translation:en"
    assert "demux" not in stages_ran(changed) and "asr" not in stages_ran(changed)
    assert lock(job_dir)["stages"]["translation:en"]["status"] == "done"


def test_llm_engine_through_the_scripts_with_a_loopback_api(translate_cache, film, tmp_path):
    """--set translation.engine=llm: the NMT draft, then the LLM (the real anthropic SDK
    against a loopback server) translates every line; the English subtitles carry its text;
    the key reaches the server and no file; a re-run costs no request."""
    from tests.llm_server import LlmServer

    secret = "fake-anthropic-key-for-e2e-0123456789"
    jobs_root = tmp_path / "out"
    with LlmServer(prefix="LLM: ", max_seconds=900) as server:
        env = {**translate_cache["env"], "ANTHROPIC_API_KEY": f"  {secret} ",
               "ANTHROPIC_BASE_URL": server.url}
        job_id = prepare("--media", str(film), "--workflow", "translate", "-s", "hi",
                         "-t", "en", "--title", "LLM Film",
                         "--set", "translation.engine=llm",
                         "--set", "translation.num_beams=1", out=jobs_root, env=env)
        job_dir = jobs_root / job_id
        proc = run_pipeline(job_id, out=jobs_root, env=env, check=False)
        assert_finished(proc, job_dir, may_degrade=("asr",))  # the LLM wrote: not degraded
        assert "translation_llm:en" in stages_ran(proc)
        assert server.count >= 1
        assert all(r.headers.get("authorization", r.headers.get("x-api-key", "")).endswith(
            secret) for r in server.requests)
        en = pysubs2.load(str(job_dir / "subtitles" / "LLM Film.en.srt"))
        llm = json.loads(next(job_dir.glob("stages/*_translation_llm_en/segments.json"))
                         .read_text("utf-8"))
        written = [r for r in llm["segments"] if r["origin"] not in ("empty", "passthrough")]
        assert written and all(r["origin"] == "llm" and r["text"].startswith("LLM: ")
                               for r in written)  # engine=llm: the LLM wrote every line
        assert len(en) > 0 and "LLM: " in en[0].plaintext  # and the subtitles show its text
        for path in job_dir.rglob("*"):
            if path.is_file():
                assert secret not in path.read_bytes().decode("utf-8", "replace"), path
        assert secret not in proc.stdout + proc.stderr
        before = server.count
        forced = run_pipeline(job_id, "--force", "translation_llm", out=jobs_root, env=env,
                              check=False)
        assert_finished(forced, job_dir, may_degrade=("asr",))
        assert "translation_llm:en" in stages_ran(forced)
        assert server.count == before  # answered from the response cache


def test_llm_with_no_draft_and_unusable_replies_fails_then_ships_marked_when_allowed(
        film, tmp_path):
    """translation.engine=llm with no NMT model cached and an LLM whose replies are never
    usable: the English track would hold the Hindi lines, so the run fails naming the fixes;
    with translation.allow_untranslated=true it finishes, qc.json marks the cues and the lock
    records the degradation."""
    from tests.llm_server import LlmServer

    _, path = make_model_cache(tmp_path / "models")  # Whisper only: no NMT draft
    jobs_root = tmp_path / "out"
    with LlmServer(default="garbage") as server:
        env = {"SUBPIPE_HARDWARE_CACHE": str(path), "ANTHROPIC_API_KEY": "fake-key-0123456789",
               "ANTHROPIC_BASE_URL": server.url}
        job_id = prepare("--media", str(film), "--workflow", "translate", "-s", "hi",
                         "-t", "en", "--title", "No Draft", "--set", "translation.engine=llm",
                         out=jobs_root, env=env)
        proc = run_pipeline(job_id, out=jobs_root, env=env, check=False)
        said = proc.stdout + proc.stderr
        assert proc.returncode != 0, said
        assert "line(s) are untranslated" in said and "the reply holds no JSON object" in said
        assert "--set translation.engine=hybrid" in said
        assert "--set translation.allow_untranslated=true" in said
        job_dir = jobs_root / job_id
        assert not (job_dir / "subtitles" / "No Draft.en.srt").exists()

        allowed = run_pipeline(job_id, "--set", "translation.allow_untranslated=true",
                               out=jobs_root, env=env, check=False)
        assert allowed.returncode == 3, allowed.stdout + allowed.stderr  # finished, degraded
        assert "line(s) are untranslated" in allowed.stdout  # in the end table
    record = lock(job_dir)["stages"]["translation_llm:en"]
    assert any("line(s) are untranslated" in d for d in record["degraded"])
    qc = json.loads(next(job_dir.glob("stages/*_subtitles_en/qc.json")).read_text("utf-8"))
    en = pysubs2.load(str(job_dir / "subtitles" / "No Draft.en.srt"))
    assert qc["untranslated"]["count"] == len(en) > 0  # every cue shows Hindi, marked
