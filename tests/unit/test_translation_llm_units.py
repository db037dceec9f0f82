"""translation_llm's pure parts, in the common venv: the contract imports without the SDKs,
resolve, prompt building, reply validation, hybrid selection, prices and budget, the cache,
keys and redaction."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from shared import keys
from shared.transcript import Line
from stages.translation_llm import (
    LlmParams,
    budget,
    model_refs,
    prompt,
    reply,
    resolve,
    selection,
)
from stages.translation_llm import blocks as blocks_mod
from stages.translation_llm.cache import ResponseCache, key
from tests.helpers import ROOT
from tests.llm_server import lines_in


def test_contract_imports_without_the_sdks():
    code = ("import sys; import stages.translation_llm, stages.translation_llm.run; "
            "assert 'anthropic' not in sys.modules and 'openai' not in sys.modules")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def ctx(tmp_path: Path, overrides: dict) -> SimpleNamespace:
    cache = SimpleNamespace(application_caches={"llm": tmp_path / "app" / "llm"},
                            base_dir=tmp_path)
    return SimpleNamespace(hardware=SimpleNamespace(cache=cache),
                           job=SimpleNamespace(overrides=overrides, source_lang="hi"),
                           lang="en", models=None, profile="cpu")


def test_resolve_reads_the_mode_and_fills_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("SUBPIPE_KEYS_FILE", str(tmp_path / "none.toml"))
    params = resolve(LlmParams(), ctx(tmp_path, {"translation": {"engine": "llm"}}))
    assert params.mode == "llm" and params.model == "claude-sonnet-4-5"
    assert params.cache_dir == str(tmp_path / "app" / "llm") and params.credentials is None
    monkeypatch.setenv("OPENAI_API_KEY", "fake-secret-value-123456")
    params = resolve(LlmParams(provider="openai", cache=False),
                     ctx(tmp_path, {"translation": {"engine": "hybrid"}}))
    assert (params.mode, params.model, params.cache_dir) == ("hybrid", "gpt-4o-mini", None)
    assert params.credentials == "OPENAI_API_KEY"
    assert "fake-secret" not in params.model_dump_json()
    assert model_refs(params, None)[0].name == "openai:gpt-4o-mini"


def test_resolve_rejects_a_bad_pattern(tmp_path):
    from shared.errors import InputError

    with pytest.raises(InputError, match="regular expression"):
        resolve(LlmParams(patterns=["(unclosed"]), ctx(tmp_path, {}))


def test_params_forbid_unknown_keys():
    with pytest.raises(ValueError):
        LlmParams(api_key="x")


LINES = [prompt.Line(1, "नमस्ते", "Hello"), prompt.Line(2, "दिल", None, song=True)]


def test_prompt_carries_film_glossary_context_and_lines():
    film = prompt.Film.from_metadata("Film", 1960, {
        "synopsis": "A prince loves a dancer.", "genres": [{"name": "Drama"}],
        "cast": [{"name": "Dilip Kumar", "character": "Salim"}, "Anarkali"]})
    text = prompt.user_prompt(LINES, film=film, glossary=[{"term": "नमस्ते",
                                                           "translation": "Namaste"}],
                              context=[prompt.Line(0, "पहले", "Before"), prompt.Line(3, "", None)])
    assert "Film: Film (1960)" in text and "Synopsis: A prince loves a dancer." in text
    assert "Salim (Dilip Kumar); Anarkali" in text and "Genres: Drama" in text
    assert "- नमस्ते => Namaste" in text
    assert "[0] पहले  =>  Before" in text and "[3]" not in text
    assert lines_in(text) == [{"id": 1, "source": "नमस्ते", "draft": "Hello"},
                              {"id": 2, "source": "दिल", "song": True}]
    assert prompt.user_prompt(LINES, film=film, glossary=[], context=[]) == \
        prompt.user_prompt(LINES, film=film, glossary=[], context=[])  # stable: cacheable
    nested = prompt.Film.from_metadata("f", None, {"found": True, "film": {
        "title": "Mughal-e-Azam", "year": 1960, "overview": "Salim and Anarkali.",
        "genres": ["Drama"], "cast": [{"name": "Madhubala", "character": ""}]}})
    assert (nested.title, nested.year, nested.characters) == ("Mughal-e-Azam", 1960,
                                                              ["Madhubala"])
    assert prompt.Film.from_metadata("f", 2000, {"found": False, "title": "x"}).title == "f"
    system = prompt.system_prompt(prompt.Languages("Hindi", "English"), with_drafts=False)
    assert "from Hindi to English" in system and "draft" not in system


def test_long_glossaries_are_cut_to_the_terms_the_block_uses():
    glossary = [{"term": f"term{i}", "translation": f"T{i}"} for i in range(30)]
    lines = [prompt.Line(1, "about term7 only", None)]
    text = prompt.user_prompt(lines, film=prompt.Film("F"), glossary=glossary, context=[])
    assert "term7 => T7" in text and "term8" not in text


def test_glossary_terms_match_by_any_spelling_and_carry_their_context():
    glossary = [{"term": f"term{i}", "translation": f"T{i}"} for i in range(20)]
    glossary.append({"term": "यार", "translation": "buddy", "alternatives": ["yaar", "yar"],
                     "context": "between friends"})
    lines = [prompt.Line(1, "Yaar, kya scene hai?", None)]  # Hinglish: the Latin spelling
    text = prompt.user_prompt(lines, film=prompt.Film("F"), glossary=glossary, context=[])
    assert "- यार/yaar/yar => buddy (between friends)" in text and "term3" not in text


def test_reply_validation():
    assert reply.parse('{"lines": [{"id": 1, "text": " Hi  there "}, {"id": 2, "text": "x"}]}',
                       [1, 2]) == {1: "Hi there", 2: "x"}
    fenced = 'Sure:\n```json\n{"lines": [{"id": "1", "text": "a\\nb"}]}\n```'
    assert reply.parse(fenced, [1]) == {1: "a\nb"}
    cases = {
        '{"lines": [{"id": 1, "text": "a"}]}': "missing",
        '{"lines": [{"id": 1, "text": "a"}, {"id": 1, "text": "b"}]}': "twice",
        '{"lines": [{"id": 1, "text": "a"}, {"id": 3, "text": "b"}]}': "not asked",
        '{"lines": [{"id": 1, "text": ""}, {"id": 2, "text": "b"}]}': "no text",
        '{"other": []}': "no \"lines\"",
        "no json here": "no JSON",
        '{"lines": [': "not valid JSON",
    }
    for text, why in cases.items():
        with pytest.raises(reply.InvalidReply, match=why):
            reply.parse(text, [1, 2])


def seg(i, source, text, **extra):
    return Line(**{"id": i, "start": float(i), "end": i + 0.9, "source_text": source,
                   "text": text, "origin": "nmt", "confidence": -0.3, **extra})


def test_selection_rules():
    rules = selection.Rules(target_script="Latn", patterns=("बटेर",))
    assert selection.reasons(seg(1, "मैं घर जा रहा हूँ।", "I am going home."), rules) == []
    assert selection.reasons(seg(2, "a", "b", confidence=-3), rules) == ["low_confidence"]
    assert selection.reasons(seg(3, "क्या बात है", "क्या बात है"), rules) == \
        ["copied", "wrong_script"]
    assert selection.reasons(seg(4, "रुको", "no no no", lyrics=True), rules) == \
        ["lyrics", "repetition"]
    assert "length" in selection.reasons(
        seg(5, "हाँ", "yes, certainly, of course, absolutely, without any doubt at all"), rules)
    assert selection.reasons(seg(6, "अंधे के हाथ बटेर", "quail"), rules) == ["pattern"]
    assert selection.reasons(seg(7, "नहीं", "", origin="untranslated"), rules) == \
        ["untranslated"]
    assert not selection.repeats("na na na", times=4) and selection.repeats("ha ha ha")
    assert not selection.sendable(seg(8, "OK", "OK", origin="passthrough"))
    assert not selection.sendable(seg(9, "", "", origin="empty"))
    chosen = selection.select([seg(1, "x", "y"), seg(2, "OK", "OK", origin="passthrough")],
                              "llm", rules)
    assert chosen == {1: ["llm"]}


def test_plan_blocks_with_context():
    segments = [Line(id=i, start=float(i), end=i + 0.9, text=f"t{i}") for i in range(1, 11)]
    lines = {i: prompt.Line(i, f"s{i}") for i in range(1, 11)}
    planned = blocks_mod.plan(segments, [2, 3, 9], lines, block_size=2, context_lines=1)
    assert [b.ids for b in planned] == [[2, 3], [9]]
    assert [c.id for c in planned[0].context] == [1, 4]
    assert [c.id for c in planned[1].context] == [8, 10]
    assert planned[0].label == "ids 2-3" and planned[1].label == "id 9"


def test_prices_and_budget():
    assert budget.price_for("claude-sonnet-4-5-20250929") == (3.0, 15.0)
    assert budget.price_for("gpt-4o-mini-2024-07-18") == (0.15, 0.60)
    assert budget.price_for("gpt-4o") == (2.5, 10.0)
    assert budget.price_for("llama-3-8b") is None
    assert budget.price_for("llama-3-8b", 0.1, 0.2) == (0.1, 0.2)
    usage = budget.Usage("anthropic", "m", (3.0, 15.0), budget_usd=0.01)
    assert usage.cost_usd == 0.0 and not usage.over_budget()
    usage.add(1000, 200)
    assert usage.cost_usd == pytest.approx(0.006) and not usage.over_budget()
    usage.add(1000, 200)
    assert usage.over_budget()
    unknown = budget.Usage("openai", "local", None, budget_usd=5.0)
    assert unknown.over_budget() and unknown.as_json()["cost_known"] is False
    unknown.add(10, 10)
    assert unknown.cost_usd is None


def test_cache_round_trip_and_damaged_entries(tmp_path):
    digest = key("anthropic", "m", "system", "user")
    assert digest != key("openai", "m", "system", "user")
    assert digest != key("anthropic", "m", "system", "user!")
    cache = ResponseCache(tmp_path)
    assert cache.get(digest) is None
    cache.put(digest, "anthropic", "m", [{"id": 1, "text": "a"}])
    assert cache.get(digest) == [{"id": 1, "text": "a"}]
    path = next(tmp_path.rglob(f"{digest}.json"))
    assert json.loads(path.read_text())["provider"] == "anthropic"
    path.write_text("{broken")
    assert cache.get(digest) is None
    assert ResponseCache(None).get(digest) is None


def test_keys_from_environment_and_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SUBPIPE_KEYS_FILE", str(tmp_path / "keys.toml"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "  fake-env-key  \n")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    found = keys.find("anthropic")
    assert found.value == "fake-env-key" and found.source == "ANTHROPIC_API_KEY"
    assert "fake-env-key" not in repr(found)
    assert keys.find("openai") is None
    (tmp_path / "keys.toml").write_text('OPENAI_API_KEY = "sk-file-1"\n')
    assert keys.find("openai").value == "sk-file-1"
    (tmp_path / "keys.toml").write_text('[openai]\napi_key = "sk-file-2"  # mine\n')
    assert keys.find("openai").value == "sk-file-2"
    assert keys._read_simple('[openai]\napi_key = "sk-3" # c\n') == {"openai": {"api_key": "sk-3"}}
    (tmp_path / "keys.toml").write_text("not = [valid")
    assert keys.find("openai") is None
    assert "OPENAI_API_KEY" in keys.missing_key_fix("openai")


def test_redact():
    secret = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    text = keys.redact(f"Incorrect API key provided: {secret[:8]}****{secret[-4:]}; {secret}",
                       secret)
    assert secret not in text and secret[:8] not in text
    assert "sk-" not in keys.redact("key sk-abcdef123 leaked")
    assert len(keys.redact("x" * 1000 + " y")) <= 300
