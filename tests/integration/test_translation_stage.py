"""The translation stage end to end in its engine's venv, on a hand-made transcript: routing,
one line per segment, pass-through, empty lines, long lines, merged fragments, glossary
placeholders, emoji and control characters, and lines the engine gives back untranslated
(empty, or in the wrong language: English for a Hindi target).
The models are the tiny ones the tests build (tests/tiny_indictrans2.py, tests/tiny_nllb.py),
loaded by name from a temporary HF cache with the network refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from shared.environment_manager import EnvironmentManager, stage_argv
from shared.stage import RESULT_FILE, StageRequest
from shared.transcript import SCHEMA_VERSION
from stages.translation import TranslationParams
from tests.fixtures_indictrans2 import tiny_indictrans2_hub  # noqa: F401 (fixture)
from tests.fixtures_translation import tiny_nllb_hub  # noqa: F401 (fixture)
from tests.helpers import write_stage_request

pytestmark = pytest.mark.integration

LONG = " ".join(["यह एक बहुत लंबा वाक्य है जो बार बार दोहराया जाता है।"] * 40)
SEGMENTS = [
    {"start": 0.0, "end": 1.5, "text": "राज, तुम कहाँ हो?"},
    {"start": 1.6, "end": 3.0, "text": "Yaar, kya scene hai?"},
    {"start": 3.2, "end": 4.0, "text": "   "},
    {"start": 4.1, "end": 5.0, "text": "जब मैं छोटा था"},
    {"start": 5.1, "end": 6.5, "text": "हम दिल्ली में रहते थे।"},
    {"start": 7.0, "end": 9.0, "text": "गाना 🎵 बजाओ\x07 अभी!", "lyrics": True},
    {"start": 9.5, "end": 40.0, "text": LONG},
]


def run_translation(tmp_path: Path, hardware, *, source: str, target: str, model: str,
                    nmt: str, glossary: str | None = None, status: str = "ok",
                    segments_in: list[dict] = SEGMENTS, **params) -> tuple[dict, dict, str]:
    job_dir = tmp_path / "job"
    stage_dir = job_dir / "stages" / "05_translation_en"
    stage_dir.mkdir(parents=True)
    (job_dir / "logs").mkdir()
    segments = job_dir / "aligned.json"
    segments.write_text(json.dumps({"schema_version": SCHEMA_VERSION, "language": source,
                                    "segments": segments_in}), "utf-8")
    inputs = {"segments": segments}
    if glossary is not None:
        inputs["glossary"] = job_dir / "glossary.tsv"
        inputs["glossary"].write_text(glossary, "utf-8")
    resolved = TranslationParams(nmt=nmt, model=model, device="cpu", batch_size=4,
                                 source_lang=source, num_beams=1, **params)
    request = StageRequest(job_id="job", job_dir=job_dir, stage="translation",
                           key=f"translation:{target}", lang=target, stage_dir=stage_dir,
                           deliverables_dir=job_dir / "subtitles", title="T",
                           media=segments, params=resolved.model_dump(mode="json"),
                           inputs=inputs)
    write_stage_request(request)
    key = request.key
    log = job_dir / "logs" / "translation.log"
    result = EnvironmentManager(hardware).run_in_environment(
        nmt, stage_argv("translation", [job_dir], key), log_paths=[log], timeout=600)
    assert result.ok == (status == "ok"), "\n".join(result.tail)
    outcome = json.loads((stage_dir / RESULT_FILE).read_text("utf-8"))
    assert outcome["status"] == status, outcome
    data = json.loads((stage_dir / "segments.json").read_text("utf-8"))
    return data, outcome, log.read_text("utf-8")


def check_common(data: dict, outcome: dict, target: str) -> None:
    rows = data["segments"]
    assert len(rows) == len(SEGMENTS)  # one line per source segment, in order
    assert [r["start"] for r in rows] == [s["start"] for s in SEGMENTS]
    assert data["language"] == target
    by_id = {r["id"]: r for r in rows}
    assert by_id[2]["origin"] == "empty" and by_id[2]["text"] == ""
    assert by_id[5]["lyrics"] is True and "\x07" not in by_id[5]["text"]
    translated = [r for r in rows if r["origin"] == "nmt"]
    assert translated and all(r["text"].strip() for r in translated)
    assert all(r["text"] != r["source_text"] for r in translated)
    # the 2,000-character line went in as ~5 pieces and came back as one joined line
    assert len(LONG) > 2000 and by_id[6]["origin"] == "nmt"
    assert outcome["info"]["generate_calls"] >= 3


def test_indictrans2_route_hindi_to_english(tiny_indictrans2_hub, tmp_path):  # noqa: F811
    data, outcome, log = run_translation(
        tmp_path, tiny_indictrans2_hub.hardware, source="hi", target="en",
        model="ai4bharat/indictrans2-indic-en-1B", nmt="indictrans2",
        glossary="term\ttranslation\nराज\tRaj\tRaaj\tthe hero\tjob\n")
    check_common(data, outcome, "en")
    rows = {r["id"]: r for r in data["segments"]}
    # Hinglish in Latin script is already English for subtitles: kept as spoken
    assert rows[1]["origin"] == "passthrough" and rows[1]["text"] == "Yaar, kya scene hai?"
    assert data["engine"] == "indictrans2"
    assert data["model"] == "ai4bharat/indictrans2-indic-en-1B"
    # the glossary term was protected and is reported: restored, or lost by this random model
    report = {g["term"]: g for g in data["glossary"]}
    assert report["राज"]["translation"] == "Raj"
    assert report["राज"]["applied"] + report["राज"]["lost"] == 1
    if report["राज"]["applied"]:
        assert "Raj" in rows[0]["text"]
    assert "glossary: राज -> Raj" in log
    # confidence is the mean log-probability of the output tokens
    assert all(r["confidence"] is None or r["confidence"] <= 0 for r in data["segments"])


def test_merging_fragments_can_be_switched_off(tiny_indictrans2_hub, tmp_path):  # noqa: F811
    merged, _, _ = run_translation(
        tmp_path / "a", tiny_indictrans2_hub.hardware, source="hi", target="en",
        model="ai4bharat/indictrans2-indic-en-1B", nmt="indictrans2")
    apart, outcome, _ = run_translation(
        tmp_path / "b", tiny_indictrans2_hub.hardware, source="hi", target="en",
        model="ai4bharat/indictrans2-indic-en-1B", nmt="indictrans2", merge_fragments=False,
        allow_untranslated=True)
    # segments 3 and 4 are one sentence: translated together (one unit fewer) and split back
    # in proportion, each keeping a part; apart, each is its own translation
    assert merged["units"] == apart["units"] - 1
    assert merged["segments"][3]["text"] and merged["segments"][4]["text"]
    # the random model gives some lines on their own back empty ("जब मैं छोटा था" with this
    # seed): marked untranslated, they show their source text and the outcome says so
    left = [r for r in apart["segments"] if r["origin"] == "untranslated"]
    assert all(r["text"] == r["source_text"] and r["untranslated_reason"] for r in left)
    assert [r["origin"] for r in merged["segments"]] == [
        "nmt" if r["origin"] == "untranslated" else r["origin"] for r in apart["segments"]]
    assert [d.startswith(f"{len(left)} of 5 line(s) are untranslated (indictrans2 gave")
            for d in outcome["degraded"]] == ([True] if left else [])


@pytest.fixture(scope="module")
def nllb_cache(tiny_nllb_hub, tmp_path_factory):  # noqa: F811
    from tests import tiny_nllb
    from tests.helpers import make_model_cache

    hardware, _ = make_model_cache(tmp_path_factory.mktemp("nllb-cache"), embedded=False)
    tiny_nllb.copy_repo(tiny_nllb_hub, hardware.cache.hf_hub_cache)
    return hardware


@pytest.fixture(scope="module")
def latin_nllb(nllb_cache, tmp_path_factory) -> Path:
    """The tiny NLLB as a folder that writes only Latin-script pieces (English, as far as a
    script can tell): the random model's mixed English and Devanagari pieces would be an
    off-target answer for an English target, and the stage rightly refuses those."""
    from shared import hf_cache
    from tests import tiny_nllb

    snapshot = hf_cache.snapshot_dir(nllb_cache.cache.hf_hub_cache, tiny_nllb.REPO_ID)
    return tiny_nllb.writing_only(snapshot, tmp_path_factory.mktemp("latin") / "nllb", "Latn")


def test_nllb_route_with_the_glossary_and_pass_through(nllb_cache, latin_nllb, tmp_path):
    data, outcome, log = run_translation(
        tmp_path, nllb_cache, source="hi", target="en", model=str(latin_nllb), nmt="nllb",
        glossary="राज\tRaj\n")
    check_common(data, outcome, "en")
    assert data["engine"] == "nllb" and outcome["info"]["engine"] == "nllb"
    rows = {r["id"]: r for r in data["segments"]}
    assert rows[1]["origin"] == "passthrough"
    assert [g["term"] for g in data["glossary"]] == ["राज"]
    # passthrough off: the Hinglish line is translated like the others
    other, _, _ = run_translation(
        tmp_path / "again", nllb_cache, source="hi", target="en", model=str(latin_nllb),
        nmt="nllb", passthrough=False)
    assert other["segments"][1]["origin"] == "nmt"
    assert other["units"] == data["units"] + 1


def silent_nllb(hardware, folder: Path) -> Path:
    """The tiny NLLB as a local folder whose generation config suppresses every ordinary
    token (transformers' ``suppress_tokens``): generate can only emit special tokens (end of
    sentence, language codes), so every line really comes back empty from the real engine."""
    from shared import hf_cache
    from tests import tiny_nllb

    snapshot = hf_cache.snapshot_dir(hardware.cache.hf_hub_cache, tiny_nllb.REPO_ID)
    shutil.copytree(snapshot, folder)  # the symlinks' files, a folder of our own
    special = {t["id"] for t in json.loads((folder / "tokenizer.json").read_text("utf-8"))
               ["added_tokens"] if t["special"]}
    vocab = json.loads((folder / "config.json").read_text("utf-8"))["vocab_size"]
    config_file = folder / "generation_config.json"
    config = json.loads(config_file.read_text("utf-8")) if config_file.exists() else {}
    config["suppress_tokens"] = [i for i in range(vocab) if i not in special]
    config_file.unlink(missing_ok=True)
    config_file.write_text(json.dumps(config), "utf-8")
    return folder


def test_lines_an_engine_returns_empty_fail_the_stage_naming_the_fixes(nllb_cache, tmp_path):
    model = silent_nllb(nllb_cache, tmp_path / "silent-nllb")
    data, outcome, log = run_translation(
        tmp_path / "refused", nllb_cache, source="hi", target="en", model=str(model),
        nmt="nllb", engine="nllb", status="failed")
    # one unit per line: the Hinglish line passes through, the blank one is empty, the other
    # five (one is two merged fragments) come back empty
    rows = {r["id"]: r for r in data["segments"]}
    assert [rows[i]["origin"] for i in range(7)] == [
        "untranslated", "passthrough", "empty", "untranslated", "untranslated",
        "untranslated", "untranslated"]
    assert all(rows[i]["untranslated_reason"] == "empty" for i in (0, 3, 4, 5, 6))
    assert rows[0]["text"] == rows[0]["source_text"]  # never an empty line
    error = outcome["error"]
    assert error.startswith("5 of 5 line(s) are untranslated (nllb gave 5 empty output(s); "
                            "first at 00:00.000: 'राज, तुम कहाँ हो?')")
    assert "the English track would show them in Hindi" in error
    assert "--set translation.engine=indictrans2" in error  # the other engine for hi -> en
    assert "--set translation.engine=hybrid" in error
    assert "--set translation.allow_untranslated=true" in error
    assert not outcome["degraded"]
    # allowed: the stage succeeds and the job's outcome says how many lines
    data, outcome, _ = run_translation(
        tmp_path / "allowed", nllb_cache, source="hi", target="en", model=str(model),
        nmt="nllb", engine="nllb", allow_untranslated=True)
    assert data["allow_untranslated"] is True
    [degraded] = outcome["degraded"]
    assert degraded.startswith("5 of 5 line(s) are untranslated (nllb gave 5 empty output(s))")
    assert outcome["info"]["untranslated"] == 5


ENGLISH = [{"start": 0.0, "end": 1.5, "text": "the quick brown fox jumps over a lazy dog."},
           {"start": 1.6, "end": 3.0, "text": "नमस्ते दोस्तों"},  # Hindi already: passes through
           {"start": 3.5, "end": 5.0, "text": "what can you do for your country?"},
           {"start": 5.5, "end": 7.0, "text": "so we go home now."}]


def test_an_engine_answering_in_english_for_a_hindi_target_fails_the_stage(
        nllb_cache, latin_nllb, tmp_path):
    """The tiny NLLB made to write only Latin-script pieces (tests/tiny_nllb.writing_only)
    answers English -> Hindi lines in "English": not the source repeated, but not Hindi
    either. The Hindi track must not show them: each is untranslated ("wrong script", its
    source text kept), the stage fails naming the fixes; allowed, it succeeds degraded."""
    model = latin_nllb
    data, outcome, _ = run_translation(
        tmp_path / "refused", nllb_cache, source="en", target="hi", model=str(model),
        nmt="nllb", engine="nllb", status="failed", segments_in=ENGLISH)
    rows = {r["id"]: r for r in data["segments"]}
    assert [rows[i]["origin"] for i in range(4)] == [
        "untranslated", "passthrough", "untranslated", "untranslated"]
    assert {rows[i]["untranslated_reason"] for i in (0, 2, 3)} == {"wrong script"}
    assert all(rows[i]["text"] == rows[i]["source_text"] for i in (0, 2, 3))  # never English
    error = outcome["error"]                                                  # shown as Hindi
    assert error.startswith("3 of 3 line(s) are untranslated (nllb gave 3 output(s) not in "
                            "the Devanagari script; first at 00:00.000: 'the quick brown fox "
                            "jumps over a lazy dog.')"), error
    assert "the Hindi track would show them in English" in error
    assert "--set translation.engine=indictrans2" in error  # the other engine for en -> hi
    assert "--set translation.engine=hybrid" in error
    assert "--set translation.allow_untranslated=true" in error
    data, outcome, _ = run_translation(
        tmp_path / "allowed", nllb_cache, source="en", target="hi", model=str(model),
        nmt="nllb", engine="nllb", allow_untranslated=True, segments_in=ENGLISH)
    [degraded] = outcome["degraded"]
    assert degraded.startswith("3 of 3 line(s) are untranslated (nllb gave 3 output(s) not in "
                               "the Devanagari script): the Hindi track shows them in English")
    assert outcome["info"]["untranslated"] == 3
    assert [r["text"] for r in data["segments"]] == [s["text"] for s in ENGLISH]
