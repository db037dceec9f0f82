"""The translation_llm stage for real: `python -m shared.stage_main stages.translation_llm` in
.venvs/llm, the official anthropic and openai SDKs talking to a loopback server
(tests/llm_server.py) that speaks their wire formats and "translates" by upper-casing the draft.
Covers both providers, a reply with a missing line (asked again), 429/529 then success (the
SDK's retries), a provider that keeps failing (the draft stands, the outcome degraded), no key,
no draft at all (unusable replies fail the stage naming the fixes, or, allowed, leave marked
untranslated lines), a reply repeating the source, a reply in English for a Hindi target
(no translation: the stage fails naming the fixes, or, allowed, is degraded), a re-run served
from the cache (zero
requests), the budget, hybrid line selection, and that the API key reaches the server but no
file, log or output."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from shared.stage import StageRequest
from shared.transcript import SCHEMA_VERSION
from stages.translation_llm import LlmParams
from tests.halt_after import kill_after
from tests.helpers import ROOT, write_stage_request
from tests.llm_server import LlmServer, lines_in, prompt_text

pytestmark = pytest.mark.integration

PYTHON = ROOT / ".venvs" / "llm" / "bin" / "python"
KEY = "fake-llm-key-3f9a7c1e5b2d4f6a8c0e-SECRET"
KEY_VARIABLE = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}
PATHS = {"anthropic": "/v1/messages", "openai": "/v1/chat/completions"}
PER_REQUEST_USD = (1000 * 3.0 + 200 * 15.0) / 1e6  # the server's usage at claude-sonnet-4-5

if not PYTHON.exists():
    pytest.skip("the llm venv is missing: ./bootstrap.sh --envs llm", allow_module_level=True)


def seg(i: int, source: str, text: str, origin: str = "nmt", confidence: float | None = -0.4,
        **extra) -> dict:
    return {"id": i, "start": float(i), "end": i + 0.9, "text": text, "source_text": source,
            "confidence": confidence, "origin": origin, **extra}


DRAFT = [
    seg(1, "नमस्ते, आप कैसे हैं?", "Hello, how are you?"),
    seg(2, "OK boss, chalo", "OK boss, chalo", origin="passthrough", confidence=None),
    seg(3, "", "", origin="empty", confidence=None),
    seg(4, "राज कल मुंबई जाएगा।", "Raj will go to Mumbai tomorrow."),
    seg(5, "दिल तो पागल है", "The heart is crazy", lyrics=True),
]
GLOSSARY = [{"term": "राज", "translation": "Raj", "applied": 1}]


class Job:
    def __init__(self, root: Path, segments: list[dict], *, engine: str = "nllb",
                 allow_untranslated: bool = False, fingerprint: str | None = None,
                 target: str = "en", source: str = "hi", **params) -> None:
        self.root = root
        self.key = f"translation_llm:{target}"
        self.dir = root / "job"
        self.stage_dir = self.dir / "stages" / "08_translation_llm_en"
        self.cache_dir = root / "llm-cache"
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        draft = self.dir / "stages" / "07_translation_en" / "segments.json"
        draft.parent.mkdir(parents=True)
        self.stage_dir.mkdir(parents=True)
        draft.write_text(json.dumps({
            "schema_version": SCHEMA_VERSION, "language": target, "source_language": source,
            "engine": engine,
            "model": None if engine == "none" else "facebook/nllb-200-distilled-600M",
            "segments": segments, "glossary": GLOSSARY,
            "allow_untranslated": allow_untranslated}, ensure_ascii=False), "utf-8")
        defaults = {"mode": "llm", "model": "claude-sonnet-4-5", "cache_dir": str(self.cache_dir),
                    "max_retries": 2, "timeout_s": 20}
        if params.get("provider") == "openai":
            defaults["model"] = "gpt-4o-mini"
        self.params = LlmParams(**{**defaults, **params}).model_dump(mode="json")
        request = StageRequest(
            job_id="film-1", job_dir=self.dir, stage="translation_llm", key=self.key,
            lang=target, stage_dir=self.stage_dir, deliverables_dir=self.dir / "subtitles",
            title="Dil Ki Baat", media=self.dir / "film.mp4", params=self.params,
            inputs={"draft": draft}, fingerprint=fingerprint)
        write_stage_request(request, job_id="film-1", title="Dil Ki Baat", year=1975)
        self.log = self.dir / "logs" / "translation_llm.log"

    def run(self, server: LlmServer | None, *, key: str | None = KEY,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        child = self._env(server, key, env)
        proc = subprocess.run([str(PYTHON), "-m", "shared.stage_main", "stages.translation_llm",
                               "--job", str(self.dir), "--key", self.key], capture_output=True,
                              text=True, env=child, timeout=120, cwd=ROOT)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "a", encoding="utf-8") as handle:  # as the runner's log would
            handle.write(proc.stdout + proc.stderr)
        return proc

    def kill_after(self, blocks: int, server: LlmServer) -> dict:
        """Killed (-9) once its checkpoint records ``blocks``; returns that checkpoint."""
        kill_after(blocks, PYTHON, "stages.translation_llm",
                   ["--job", str(self.dir), "--key", self.key], self._env(server, KEY, None),
                   ROOT, self.log)
        return json.loads((self.stage_dir / "checkpoint.json").read_text("utf-8"))

    def _env(self, server: LlmServer | None, key: str | None,
             env: dict[str, str] | None) -> dict[str, str]:
        provider = self.params["provider"]
        child = {"PATH": os.environ["PATH"], "HOME": str(self.home), "PYTHONPATH": str(ROOT),
                 "PYTHONUNBUFFERED": "1", "PYTHONNOUSERSITE": "1", "LANG": "C.UTF-8"}
        if server is not None:
            child["ANTHROPIC_BASE_URL"] = server.url
            child["OPENAI_BASE_URL"] = server.url + "/v1"
        if key is not None:
            child[KEY_VARIABLE[provider]] = f"  {key}\n"  # surrounding whitespace is stripped
        child.update(env or {})
        return child

    @property
    def result(self) -> dict:
        return json.loads((self.stage_dir / "result.json").read_text("utf-8"))

    @property
    def segments(self) -> dict[int, dict]:
        data = json.loads((self.stage_dir / "segments.json").read_text("utf-8"))
        return {s["id"]: s for s in data["segments"]}

    @property
    def output(self) -> dict:
        return json.loads((self.stage_dir / "segments.json").read_text("utf-8"))

    @property
    def usage(self) -> dict:
        return json.loads((self.stage_dir / "usage.json").read_text("utf-8"))


def ok(job: Job, proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, proc.stderr
    assert job.result["status"] == "ok", job.result


def sent_ids(server: LlmServer, index: int = 0) -> list[int]:
    request = server.requests[index]
    return [line["id"] for line in lines_in(prompt_text(request.path, request.body))]


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_llm_translates_every_line_with_context(tmp_path, provider):
    job = Job(tmp_path, DRAFT, provider=provider)
    with LlmServer() as server:
        proc = job.run(server)
    ok(job, proc)
    assert server.count == 1 and server.requests[0].path == PATHS[provider]
    assert sent_ids(server) == [1, 4, 5]  # passthrough and empty lines are not sent
    out = job.segments
    assert out[1]["text"] == "EN: HELLO, HOW ARE YOU?" and out[1]["origin"] == "llm"
    assert out[1]["draft"] == "Hello, how are you?" and out[1]["confidence"] is None
    assert out[5]["text"] == "EN: THE HEART IS CRAZY" and out[5]["lyrics"] is True
    assert out[2] == DRAFT[1] and out[3] == DRAFT[2]
    assert [s["start"] for s in job.output["segments"]] == [s["start"] for s in DRAFT]
    assert job.output["engine"] == "llm" and job.output["draft_engine"] == "nllb"
    assert job.output["glossary"] == GLOSSARY
    body = server.requests[0].body
    assert body["model"] == job.params["model"]
    text = prompt_text(server.requests[0].path, body)
    assert "Dil Ki Baat (1975)" in text and "Hindi to English" in text
    assert "राज => Raj" in text and '"song": true' in text
    assert "[2] OK boss, chalo" in text  # a neighbouring line, as context
    headers = server.requests[0].headers
    assert KEY in (headers.get("x-api-key", ""), headers.get("authorization", "")[7:])
    usage = job.usage
    assert usage["requests"] == 1 and usage["cache_hits"] == 0
    assert (usage["input_tokens"], usage["output_tokens"]) == (1000, 200)
    expected = PER_REQUEST_USD if provider == "anthropic" else (1000 * 0.15 + 200 * 0.6) / 1e6
    assert usage["estimated_cost_usd"] == pytest.approx(expected)
    assert job.result["info"]["lines_llm"] == 3


def test_reply_with_a_missing_line_is_asked_again(tmp_path):
    job = Job(tmp_path, DRAFT)
    with LlmServer(script=["drop"]) as server:
        proc = job.run(server)
    ok(job, proc)
    assert server.count == 2
    assert "rejected" in prompt_text(server.requests[1].path, server.requests[1].body)
    assert all(job.segments[i]["origin"] == "llm" for i in (1, 4, 5))
    assert "1 line(s) missing" in proc.stderr


def test_reply_never_valid_keeps_the_draft(tmp_path):
    job = Job(tmp_path, DRAFT, repair_attempts=1)
    with LlmServer(default="garbage") as server:
        proc = job.run(server)
    ok(job, proc)
    assert server.count == 2
    assert job.segments[1]["text"] == "Hello, how are you?"
    assert any("no valid reply" in w for w in job.result["info"]["warnings"])
    # the fallback from the LLM to the NMT draft is a degradation the job's end state shows
    [degraded] = job.result["degraded"]
    assert degraded.startswith("3 line(s) kept the nllb draft instead of the LLM's")
    assert "the reply holds no JSON object" in degraded and "--force translation_llm" in degraded
    assert job.usage["last_problem"] == "the reply holds no JSON object"


@pytest.mark.parametrize("provider,errors", [("anthropic", [429, 529]), ("openai", [429, 500])])
def test_rate_limited_then_success(tmp_path, provider, errors):
    job = Job(tmp_path, DRAFT, provider=provider)
    with LlmServer(script=list(errors)) as server:
        proc = job.run(server)
    ok(job, proc)
    assert server.count == 3  # two retries by the SDK, honouring retry-after-ms
    assert [r.headers.get("x-stainless-retry-count") for r in server.requests] == ["0", "1", "2"]
    assert job.segments[4]["text"] == "EN: RAJ WILL GO TO MUMBAI TOMORROW."
    assert job.usage["requests"] == 1 and job.usage["failed_requests"] == 0


def test_persistent_failure_keeps_the_draft_with_a_warning(tmp_path):
    job = Job(tmp_path, DRAFT, block_size=1)
    with LlmServer(default=529) as server:
        proc = job.run(server)
    ok(job, proc)
    assert server.count == 3  # one block tried (1 + 2 retries); no more once unavailable
    assert {i: s["text"] for i, s in job.segments.items()} == \
        {s["id"]: s["text"] for s in DRAFT}
    assert all(s["origin"] != "llm" for s in job.segments.values())
    warning = job.result["info"]["warning"]
    assert warning.startswith("llm unavailable:") and "NMT output kept" in warning
    assert "529" in warning
    assert "llm unavailable" in job.log.read_text("utf-8")
    usage = job.usage
    assert usage["unavailable"] and usage["blocks_kept_draft"] == 3
    [degraded] = job.result["degraded"]
    assert "kept the nllb draft" in degraded and "llm unavailable" in degraded
    assert "ANTHROPIC_API_KEY" in degraded
    assert usage["requests"] == 0 and usage["failed_requests"] == 1


def test_refused_requests_keep_the_draft_then_stop(tmp_path):
    lines = [seg(i, f"पंक्ति {i}", f"line {i}") for i in range(1, 6)]
    job = Job(tmp_path, lines, block_size=1, provider="openai")
    with LlmServer(default=400) as server:
        proc = job.run(server)
    ok(job, proc)
    assert server.count == 3  # not retried by the SDK; three blocks refused in a row: stop
    assert all(s["origin"] == "nmt" for s in job.segments.values())
    assert "HTTP 400" in job.result["info"]["warning"]
    assert "structured_output=false" in job.result["info"]["warning"]


def test_network_down_keeps_the_draft(tmp_path):
    job = Job(tmp_path, DRAFT, max_retries=0)
    server = LlmServer()
    url = server.url
    server.stop()  # nothing listens there any more
    proc = job.run(None, env={"ANTHROPIC_BASE_URL": url})
    ok(job, proc)
    assert "cannot reach" in job.result["info"]["warning"]
    assert job.segments[1]["text"] == "Hello, how are you?"


def test_no_key_keeps_the_draft_and_names_the_fix(tmp_path):
    job = Job(tmp_path, DRAFT)
    with LlmServer() as server:
        proc = job.run(server, key=None)
    ok(job, proc)
    assert server.count == 0
    warning = job.result["info"]["warning"]
    assert "no API key" in warning and "ANTHROPIC_API_KEY" in warning
    assert "keys.toml" in warning
    assert job.segments[4]["text"] == "Raj will go to Mumbai tomorrow."


def test_key_from_the_keys_file(tmp_path):
    job = Job(tmp_path, DRAFT, provider="openai")
    keys_file = tmp_path / "secret" / "keys.toml"
    keys_file.parent.mkdir()
    keys_file.write_text(f'[openai]\napi_key = "{KEY}"\n', "utf-8")
    with LlmServer() as server:
        proc = job.run(server, key=None, env={"SUBPIPE_KEYS_FILE": str(keys_file)})
    ok(job, proc)
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert job.segments[1]["origin"] == "llm"


def test_no_draft_and_no_llm_fails_naming_the_fix(tmp_path):
    lines = [seg(1, "नमस्ते", "नमस्ते", origin="untranslated", confidence=None),
             seg(2, "चलो", "चलो", origin="untranslated", confidence=None)]
    job = Job(tmp_path, lines, engine="none", mode="hybrid")
    with LlmServer(default=401) as server:
        proc = job.run(server)
    assert proc.returncode == 1
    result = job.result
    assert result["status"] == "failed"
    assert "llm unavailable" in result["error"] and "ANTHROPIC_API_KEY" in result["error"]
    assert "cache-models.sh" in result["error"]


UNTRANSLATED = [seg(1, "नमस्ते, आप कैसे हैं?", "नमस्ते, आप कैसे हैं?", origin="untranslated",
                     confidence=None),
                 seg(2, "OK boss", "OK boss", origin="passthrough", confidence=None),
                 seg(3, "राज कल मुंबई जाएगा।", "राज कल मुंबई जाएगा।", origin="untranslated",
                     confidence=None)]


def test_unusable_replies_and_no_draft_fail_counting_the_lines_and_naming_the_fixes(tmp_path):
    """translation.engine=llm with no NMT draft: three unusable replies leave the lines in
    Hindi; an "English" track must not show them, so the stage fails and says how to fix it."""
    job = Job(tmp_path, UNTRANSLATED, engine="none")
    with LlmServer(default="drop") as server:
        proc = job.run(server)
    assert proc.returncode == 1 and server.count == 3  # 1 + 2 repair attempts
    result = job.result
    assert result["status"] == "failed" and not result["degraded"]
    error = result["error"]
    assert error.startswith("2 of 2 line(s) are untranslated (no usable reply; the last "
                            "problem: 1 line(s) missing (ids 3)")
    assert "the English track would show them in Hindi" in error
    assert "--set translation.engine=hybrid" in error and "re-run (a retry)" in error
    assert "--set translation.allow_untranslated=true" in error
    assert "cache-models.sh --stage translation" in error


def test_allowed_untranslated_lines_succeed_marked_and_degraded(tmp_path):
    job = Job(tmp_path, UNTRANSLATED, engine="none", allow_untranslated=True)
    with LlmServer(default="garbage") as server:
        proc = job.run(server)
    ok(job, proc)
    out = job.segments
    assert [out[i]["origin"] for i in (1, 2, 3)] == ["untranslated", "passthrough",
                                                      "untranslated"]
    assert out[1]["text"] == "नमस्ते, आप कैसे हैं?"  # the source text, marked as such
    [degraded] = job.result["degraded"]
    assert degraded.startswith("2 of 2 line(s) are untranslated (no usable reply; the last "
                               "problem: the reply holds no JSON object)")
    assert "marked 'untranslated' in qc.json" in degraded


def test_a_reply_repeating_the_source_is_no_translation(tmp_path):
    """The loopback server with no prefix answers a Hindi line with the line itself
    (upper-casing changes no Devanagari): that is not accepted as English."""
    job = Job(tmp_path, UNTRANSLATED, engine="none", repair_attempts=0)
    with LlmServer(prefix="", romanize=False) as server:
        proc = job.run(server)
    assert proc.returncode == 1 and server.count == 1
    assert "the reply repeated the source text for 2 line(s) (ids 1, 3)" in job.result["error"]


ENGLISH = [seg(1, "Where are you going tonight?", "Where are you going tonight?",
               origin="untranslated", confidence=None),
           seg(2, "", "", origin="empty", confidence=None),
           seg(3, "Raj will go to Mumbai tomorrow.", "Raj will go to Mumbai tomorrow.",
               origin="untranslated", confidence=None)]


def test_a_reply_in_english_for_a_hindi_target_is_no_translation(tmp_path):
    """The loopback LLM answers an English -> Hindi block in English ("EN: WHERE ARE YOU
    GOING TONIGHT?"): not the source repeated, but not Hindi either. The Hindi track must not
    show it: the stage fails naming the fixes; allowed, the lines keep their source text,
    marked untranslated, and the job is degraded."""
    job = Job(tmp_path / "refused", ENGLISH, engine="none", target="hi", source="en",
              repair_attempts=0)
    with LlmServer() as server:
        proc = job.run(server)
    assert proc.returncode == 1 and server.count == 1
    error = job.result["error"]
    assert error.startswith("2 of 2 line(s) are untranslated (no usable reply; the last "
                            "problem: the reply was not in the Devanagari script for 2 "
                            "line(s) (ids 1, 3)"), error
    assert "the Hindi track would show them in English" in error
    assert "--set translation.engine=hybrid" in error
    assert "--set translation.allow_untranslated=true" in error
    allowed = Job(tmp_path / "allowed", ENGLISH, engine="none", target="hi", source="en",
                  allow_untranslated=True, repair_attempts=0)
    with LlmServer() as server:
        proc = allowed.run(server)
    ok(allowed, proc)
    out = allowed.segments
    assert [out[i]["origin"] for i in (1, 2, 3)] == ["untranslated", "empty", "untranslated"]
    assert out[1]["text"] == "Where are you going tonight?"  # the source, marked as such
    [degraded] = allowed.result["degraded"]
    assert degraded.startswith("2 of 2 line(s) are untranslated (no usable reply; the last "
                               "problem: the reply was not in the Devanagari script")


def test_no_draft_translates_every_line(tmp_path):
    lines = [seg(1, "नमस्ते", "नमस्ते", origin="untranslated", confidence=None),
             seg(2, "OK", "OK", origin="passthrough", confidence=None)]
    job = Job(tmp_path, lines, engine="none", mode="hybrid")
    with LlmServer() as server:
        proc = job.run(server)
    ok(job, proc)
    text = prompt_text(server.requests[0].path, server.requests[0].body)
    assert '"draft"' not in text.split("Translate these")[1]
    assert job.segments[1]["text"] == "EN: NMSTE" and "draft" not in job.segments[1]
    assert job.segments[2]["origin"] == "passthrough"


def test_rerun_is_served_from_the_cache(tmp_path):
    job = Job(tmp_path, DRAFT, block_size=2)
    with LlmServer() as server:
        ok(job, job.run(server))
        first = job.output
        assert server.count == 2
        proc = job.run(server, key=None)  # no key needed: nothing is requested
    ok(job, proc)
    assert server.count == 2
    assert job.output == first
    usage = job.usage
    assert usage["requests"] == 0 and usage["cache_hits"] == 2
    assert usage["estimated_cost_usd"] == 0.0
    assert list(job.cache_dir.rglob("*.json"))


def test_killed_after_half_of_the_blocks_resumes_without_asking_again(tmp_path):
    """4 blocks of 2 lines, the cache off; kill -9 once 2 blocks are checkpointed: the
    re-run (same fingerprint) asks the LLM for the last 2 blocks only, and segments.json and
    usage.json equal those of a run that was never interrupted, byte for byte."""
    lines = [seg(i, f"पंक्ति {i}", f"line {i}") for i in range(1, 9)]
    settings = {"block_size": 2, "cache": False, "cache_dir": None, "fingerprint": "run-1"}
    whole = Job(tmp_path / "whole", lines, **settings)
    with LlmServer() as server:
        ok(whole, whole.run(server))
        assert server.count == 4

    job = Job(tmp_path / "killed", lines, **settings)
    with LlmServer() as server:
        saved = job.kill_after(2, server)
        assert (saved["done"], saved["usage"]["requests"], server.count) == (2, 2, 2)
        assert not (job.stage_dir / "segments.json").exists()
        ok(job, job.run(server))
        assert server.count == 4  # the two blocks left, nothing asked twice
        assert [sent_ids(server, n) for n in (2, 3)] == [[5, 6], [7, 8]]
    assert "resuming after block 2 of 4 (4 lines already translated, 2 request(s) made)" in \
        job.log.read_text("utf-8")
    for name in ("segments.json", "usage.json"):
        assert (job.stage_dir / name).read_bytes() == (whole.stage_dir / name).read_bytes()
    assert not (job.stage_dir / "checkpoint.json").exists()
    assert not (job.stage_dir / "blocks.jsonl").exists()


def test_cache_off_requests_again(tmp_path):
    job = Job(tmp_path, DRAFT, cache=False, cache_dir=None)
    with LlmServer() as server:
        ok(job, job.run(server))
        ok(job, job.run(server))
    assert server.count == 2 and not job.cache_dir.exists()


def test_budget_stops_llm_use(tmp_path):
    lines = [seg(i, f"पंक्ति {i}", f"line {i}") for i in range(1, 6)]
    job = Job(tmp_path, lines, block_size=1, budget_usd=2 * PER_REQUEST_USD)
    with LlmServer() as server:
        proc = job.run(server)
    ok(job, proc)
    assert server.count == 2
    assert [job.segments[i]["origin"] for i in range(1, 6)] == ["llm"] * 2 + ["nmt"] * 3
    [degraded] = job.result["degraded"]
    assert degraded.startswith("3 line(s) kept the nllb draft") and "budget" in degraded
    usage = job.usage
    assert usage["budget_exhausted"] and usage["estimated_cost_usd"] == \
        pytest.approx(2 * PER_REQUEST_USD)
    assert any("budget" in w for w in job.result["info"]["warnings"])


def test_budget_with_an_unknown_price_sends_nothing(tmp_path):
    job = Job(tmp_path, DRAFT, model="my-local-model", budget_usd=1.0)
    with LlmServer() as server:
        proc = job.run(server)
    ok(job, proc)
    assert server.count == 0
    assert job.usage["cost_known"] is False and job.usage["budget_exhausted"]


def test_hybrid_refines_only_the_bad_lines(tmp_path):
    lines = [
        seg(1, "मैं घर जा रहा हूँ।", "I am going home.", confidence=-0.3),
        seg(2, "उसने नाक कटवा दी।", "He got his nose cut.", confidence=-2.4),
        seg(3, "ये क्या हो रहा है?", "ये क्या हो रहा है?", confidence=-0.2),
        seg(4, "तुम ही हो", "You are the one", confidence=-0.3, lyrics=True),
        seg(5, "रुको, मेरी बात सुनो", "Wait, wait, wait, wait, listen", confidence=-0.5),
        seg(6, "चलो चलते हैं", "चलो चलते we", confidence=-0.4),
        seg(7, "Thank you", "Thank you", origin="passthrough", confidence=None),
        seg(8, "कल मिलते हैं।", "See you tomorrow.", confidence=-0.35),
        seg(9, "अंधे के हाथ बटेर लगी", "A blind man got a quail", confidence=-0.6),
    ]
    job = Job(tmp_path, lines, mode="hybrid", patterns=["हाथ बटेर"])
    with LlmServer() as server:
        proc = job.run(server)
    ok(job, proc)
    assert sent_ids(server) == [2, 3, 4, 5, 6, 9]
    out = job.segments
    # the loopback "refines" line 6 by upper-casing its draft: "EN: चलो चलते WE" is still
    # mostly Devanagari, no English line either, so it is dropped and the draft stays
    assert {i for i, s in out.items() if s["origin"] == "llm"} == {2, 3, 4, 5, 9}
    assert out[6]["origin"] == "nmt" and out[6]["text"] == "चलो चलते we"
    [degraded] = job.result["degraded"]
    assert degraded.startswith("1 line(s) kept the nllb draft instead of the LLM's "
                               "translation (no usable reply; the last problem: the reply was "
                               "not in the Latin script for 1 line(s) (ids 6))"), degraded
    assert out[1]["text"] == "I am going home." and out[8]["origin"] == "nmt"
    reasons = {s["id"]: s["reasons"] for s in job.usage["selected"]}
    assert reasons == {2: ["low_confidence"], 3: ["copied", "wrong_script"], 4: ["lyrics"],
                       5: ["repetition"], 6: ["wrong_script"], 9: ["pattern"]}
    assert job.output["engine"] == "hybrid"


def test_hybrid_with_nothing_to_refine_needs_no_key(tmp_path):
    lines = [seg(1, "मैं घर जा रहा हूँ।", "I am going home.")]
    job = Job(tmp_path, lines, mode="hybrid")
    with LlmServer() as server:
        proc = job.run(server, key=None)
    ok(job, proc)
    assert server.count == 0 and "warning" not in job.result["info"]
    assert job.segments[1]["text"] == "I am going home."


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_the_key_is_written_nowhere(tmp_path, provider):
    job = Job(tmp_path, DRAFT, provider=provider, block_size=2)
    with LlmServer(script=["ok", 401]) as server:
        first = job.run(server)
        second = job.run(server, env={"SUBPIPE_LOG_LEVEL": "DEBUG"})
    ok(job, second)
    assert any(KEY in r.headers.get("authorization", "") + r.headers.get("x-api-key", "")
               for r in server.requests)  # it did reach the server
    for proc in (first, second):
        assert KEY not in proc.stdout + proc.stderr
        assert KEY[:12] not in proc.stdout + proc.stderr
    files = [p for p in [*job.dir.rglob("*"), *job.cache_dir.rglob("*")] if p.is_file()]
    assert len(files) >= 6
    for path in files:
        assert KEY.encode() not in path.read_bytes(), path
