"""The indictrans2 engine in its venv: IndicTransToolkit's IndicProcessor for real (placeholders
round-trip, Devanagari normalisation, and the repair of two escaping bugs in its normaliser),
and the engine loading tiny stand-ins of ai4bharat/indictrans2-indic-en-1B / -en-indic-1B
(tests/tiny_indictrans2.py) by repo id through trust_remote_code, offline: HF_HOME a temporary
cache, HF_HUB_OFFLINE=1, every socket connect and name lookup refused and recorded."""

from __future__ import annotations

import json
import math

import pytest

from tests.fixtures_indictrans2 import TinyIndicTrans2Hub, tiny_indictrans2_hub  # noqa: F401
from tests.helpers import NO_NETWORK
from tests.tiny_indictrans2 import EN_INDIC, INDIC_EN

pytestmark = pytest.mark.integration

REPORT = "@@report "


def run_child(hub: TinyIndicTrans2Hub, code: str, *args: str, timeout: float = 300) -> dict:
    """Run ``code`` after the no-network prelude in the indictrans2 venv; returns the JSON it
    printed after REPORT."""
    from shared.environment_manager import EnvironmentManager

    lines: list[str] = []
    result = EnvironmentManager(hub.hardware).run_in_environment(
        "indictrans2", ["-c", NO_NETWORK + code, *args], on_line=lines.append,
        timeout=timeout, offline=True)
    assert result.ok, "\n".join(lines[-40:])
    found = [line for line in lines if line.startswith(REPORT)]
    assert found, "\n".join(lines[-40:])
    return json.loads(found[-1].removeprefix(REPORT))


# -- IndicProcessor ----------------------------------------------------------------------------
PROCESSOR_CHILD = r"""
import json, sys

from IndicTransToolkit.processor import IndicProcessor

from stages.translation import indictrans2

def body(prepared):
    return prepared.split(" ", 2)[2]

report = {"attempts": attempts}
bugs = ["\u0958\u093f\u0932\u093e \u095b\u093f\u0902\u0926\u0917\u0940", "OK: \u091a\u0932\u094b"]
raw = IndicProcessor(inference=True)
report["raw"] = raw.preprocess_batch(bugs, src_lang="hin_Deva", tgt_lang="eng_Latn")
raw.postprocess_batch(report["raw"], lang="eng_Latn")
report["patched_now"] = indictrans2.repair_devanagari_normalizer()
report["patched_again"] = indictrans2.repair_devanagari_normalizer()
ip = indictrans2.new_processor()
report["repaired"] = ip.preprocess_batch(bugs, src_lang="hin_Deva", tgt_lang="eng_Latn")
ip.postprocess_batch(report["repaired"], lang="eng_Latn")

cases = json.loads(sys.argv[1])
for name, (lines, src, tgt) in cases.items():
    prepared = ip.preprocess_batch(lines, src_lang=src, tgt_lang=tgt)
    restored = ip.postprocess_batch([body(p) for p in prepared], lang=tgt if tgt == src else src)
    report[name] = {"prepared": prepared, "restored": restored}
sys.stdout.write("@@report " + json.dumps(report, ensure_ascii=False) + "\n")
"""

ENTITIES_HI = ["मेरा ईमेल asha.rao@example.com है, साइट https://www.example.org/films?id=42 देखो",
               "फ़ोन 98765-43210 पर 10:30 बजे करो, 25.5% छूट",
               "बिना किसी संख्या की पंक्ति"]
ENTITIES_EN = ["Write to help@subtitles.in or see www.example.com/faq before 11:45.",
               "The show made 1,250,000 rupees, 12.5% more."]
NORMALISE = ["नमस्ते    दुनिया।", "क\u200dष क\u200cष", "१२३४५ रुपये", "“उद्धरण” – हाँ"]


@pytest.fixture(scope="module")
def processor_report(tiny_indictrans2_hub):  # noqa: F811
    cases = {"hi": [ENTITIES_HI, "hin_Deva", "eng_Latn"],
             "en": [ENTITIES_EN, "eng_Latn", "hin_Deva"],
             "norm": [NORMALISE, "hin_Deva", "hin_Deva"]}
    return run_child(tiny_indictrans2_hub, PROCESSOR_CHILD, json.dumps(cases, ensure_ascii=False))


@pytest.mark.parametrize(("case", "lines", "entities"), [
    ("hi", ENTITIES_HI, ["asha.rao@example.com", "https://www.example.org/films?id=42",
                         "98765-43210", "10:30", "25.5%"]),
    ("en", ENTITIES_EN, ["help@subtitles.in", "www.example.com/faq", "11:45", "1,250,000",
                         "12.5%"]),
])
def test_placeholders_round_trip(processor_report, case, lines, entities):
    """URLs, e-mails and numbers leave the text as <IDn> placeholders and come back."""
    prepared = processor_report[case]["prepared"]
    restored = processor_report[case]["restored"]
    text = " ".join(prepared)
    for entity in entities:
        assert entity not in text, (entity, prepared)
        assert sum(entity in line for line in restored) == 1, (entity, restored)
    assert "< ID" in prepared[0]
    assert all("ID" not in line for line in restored), restored
    src, tgt = ("hin_Deva", "eng_Latn") if case == "hi" else ("eng_Latn", "hin_Deva")
    assert all(p.startswith(f"{src} {tgt} ") for p in prepared)
    assert processor_report["attempts"] == []


def test_devanagari_normalisation(processor_report):
    prepared = [p.split(" ", 2)[2] for p in processor_report["norm"]["prepared"]]
    assert prepared[0] == "नमस्ते दुनिया ।"  # spaces collapsed, danda split off
    assert prepared[1] == "कष कष"  # ZWJ / ZWNJ removed
    assert prepared[2] == "12345 रुपये"  # Devanagari digits -> ASCII
    assert prepared[3] == '" उद्धरण " - हाँ'  # quotes and dashes normalised, chandrabindu kept
    assert processor_report["norm"]["restored"][0] == "नमस्ते दुनिया।"


def test_normaliser_escaping_bugs_are_repaired(processor_report):
    """indic_nlp_library_itt 0.1.1 writes precomposed nukta letters as 'क\\u093C' and turns a
    capital letter before a colon into '\\1ः'; the engine repairs both (and only patches a
    library that has the bugs)."""
    raw = processor_report["raw"]
    buggy = "\\u093C" in raw[0] or "\\1" in raw[1]
    assert processor_report["patched_now"] is buggy
    assert processor_report["patched_again"] is False
    nukta, colon = (p.split(" ", 2)[2] for p in processor_report["repaired"])
    assert nukta == "\u0915\u093c\u093f\u0932\u093e \u091c\u093c\u093f\u0902\u0926\u0917\u0940"
    assert colon == "OK : चलो"


# -- the engine --------------------------------------------------------------------------------
ENGINE_CHILD = r"""
import json, math, sys

from shared.errors import InputError, ModelMissingError
from stages.translation import indictrans2
from stages.translation.engine import LanguagePair

indic_en, en_indic, lines_json = sys.argv[1:4]
lines = json.loads(lines_json)
HI_EN = LanguagePair("hi", "en", "hin_Deva", "eng_Latn")
EN_HI = LanguagePair("en", "hi", "eng_Latn", "hin_Deva")
report = {}

engine = indictrans2.load(indic_en, "cpu", 4, max_length=16, cpu_threads=1)
report["name"], report["model"] = engine.name, engine.model
out = engine.translate(lines, HI_EN)
report["batched"] = [[t.text, t.confidence] for t in out]
report["calls"] = engine.generate_calls
report["again"] = [t.text for t in engine.translate(lines, HI_EN)]
before = engine.generate_calls
report["single"] = [engine.translate([line], HI_EN)[0].text for line in lines]
report["single_calls"] = engine.generate_calls - before
before = engine.generate_calls
report["nothing"] = [[t.text for t in engine.translate([], HI_EN)],
                     [t.text for t in engine.translate(["", "  ", "\t"], HI_EN)]]
report["nothing_calls"] = engine.generate_calls - before
try:
    engine.translate(["hello"], LanguagePair("en", "fr", "eng_Latn", "fra_Latn"))
except InputError as e:
    report["unsupported"] = str(e)

# the key/value cache fallback: generate raising what transformers 4.57 raises in the
# remote code with use_cache=True
real_generate = engine.net.generate
def cache_failing(*args, **kwargs):
    if kwargs.get("use_cache"):
        raise TypeError("expected Tensor as element 0 in argument 0, but got NoneType")
    return real_generate(*args, **kwargs)
engine.net.generate = cache_failing
before = engine.generate_calls
report["fallback"] = [t.text for t in engine.translate(lines, HI_EN)]
report["fallback_calls"] = engine.generate_calls - before
report["fallback_use_cache"] = engine.use_cache
engine.net.generate = real_generate

# the processor's placeholder maps stay with their batch: an echo model (the prepared text
# back) over lines with one entity each, two per batch, and a batch that fails in between
entities = [f"user{n}@example.com" for n in range(5)] + ["https://example.org/a/1", "98765-43210"]
echo_lines = [f"मेरा पता {e} है" + " ठीक" * n for n, e in enumerate(entities)]
def echo(prepared):
    return [p.split(" ", 2)[2] for p in prepared], [None] * len(prepared)
engine.batch_size = 2
engine._generate = echo
report["echo"] = [t.text for t in engine.translate(echo_lines, HI_EN)]
calls = {"n": 0}
def fail_second(prepared):
    calls["n"] += 1
    if calls["n"] == 2:
        raise RuntimeError("out of memory (simulated)")
    return echo(prepared)
engine._generate = fail_second
try:
    engine.translate(echo_lines, HI_EN)
except RuntimeError as e:
    report["failed"] = str(e)
engine._generate = echo
report["after_failure"] = [t.text for t in engine.translate(echo_lines, HI_EN)]
report["entities"] = entities

greedy = indictrans2.load(en_indic, "cpu", 3, num_beams=1, max_length=12, cpu_threads=1)
out = greedy.translate(["Hello there, see https://example.com", "", "I go home.", "Yes."], EN_HI)
report["en_indic"] = [[t.text, t.confidence] for t in out]
report["en_indic_calls"] = greedy.generate_calls
try:
    indictrans2.load("ai4bharat/indictrans2-indic-indic-1B", "cpu", 1)
except ModelMissingError as e:
    report["missing"] = str(e)
report["attempts"] = attempts
sys.stdout.write("@@report " + json.dumps(report, ensure_ascii=False) + "\n")
"""

LINES = [
    "नमस्ते दोस्तों, आज हम 2 बातें करेंगे।",
    "",
    "मेरा ईमेल asha.rao@example.com है",
    "OK: चलो, let's go to Mumbai yaar 😀🎬",
    "   ",
    "क़िला और ज़िंदगी",
    "ज़रूर!",
    "bell\x07 and tab\tand\r\ncarriage return",
    "मैं कल सुबह दिल्ली जा रहा हूँ, तुम भी चलो। " * 3,
    "हाँ",
    "\u200b",
]


@pytest.fixture(scope="module")
def engine_report(tiny_indictrans2_hub):  # noqa: F811
    return run_child(tiny_indictrans2_hub, ENGINE_CHILD, INDIC_EN, EN_INDIC,
                     json.dumps(LINES, ensure_ascii=False), timeout=600)


def blank(line: str) -> bool:
    return not line.strip(" \t\r\n\u200b")


def test_engine_loads_the_stand_in_by_repo_id_offline(engine_report, tiny_indictrans2_hub):  # noqa: F811
    assert engine_report["attempts"] == []
    assert engine_report["name"] == "indictrans2" and engine_report["model"] == INDIC_EN
    assert INDIC_EN in tiny_indictrans2_hub.repos
    assert "indic-indic-1B" in engine_report["missing"]
    assert "./cache-models.sh" in engine_report["missing"]


def test_n_lines_give_n_outputs_in_order_with_one_generate_per_batch(engine_report):
    batched = engine_report["batched"]
    assert len(batched) == len(LINES)
    real = [n for n, line in enumerate(LINES) if not blank(line)]
    for n, (text, confidence) in enumerate(batched):
        assert isinstance(text, str) and "\n" not in text
        if n in real:
            assert confidence is not None and confidence <= 0 and math.isfinite(confidence)
        else:
            assert (text, confidence) == ("", None), LINES[n]
    assert engine_report["calls"] == math.ceil(len(real) / 4)
    # each line alone gives what it gave inside a sorted batch: the order was restored
    assert engine_report["single"] == [text for text, _ in batched]
    assert engine_report["single_calls"] == len(real)
    assert engine_report["again"] == [text for text, _ in batched]  # deterministic
    assert len({text for text, _ in batched if text}) > 1  # the output depends on the input


def test_empty_input_needs_no_generate_call(engine_report):
    assert engine_report["nothing"] == [[], ["", "", ""]]
    assert engine_report["nothing_calls"] == 0


def test_unsupported_language_is_an_input_error(engine_report):
    assert "fra_Latn" in engine_report["unsupported"]
    assert "nllb" in engine_report["unsupported"]


def test_cache_error_falls_back_to_use_cache_false(engine_report):
    real = [line for line in LINES if not blank(line)]
    assert engine_report["fallback"] == [text for text, _ in engine_report["batched"]]
    assert engine_report["fallback_use_cache"] is False
    assert engine_report["fallback_calls"] == math.ceil(len(real) / 4) + 1  # one retried


def test_placeholders_stay_with_their_line_across_batches(engine_report):
    entities = engine_report["entities"]
    for output in (engine_report["echo"], engine_report["after_failure"]):
        assert len(output) == len(entities)
        for n, (text, entity) in enumerate(zip(output, entities, strict=True)):
            assert entity in text, (n, text)
            assert not any(other in text for other in entities if other != entity)
    assert "simulated" in engine_report["failed"]


def test_en_indic_greedy(engine_report):
    texts = engine_report["en_indic"]
    assert len(texts) == 4 and texts[1] == ["", None]
    assert all(conf is not None and conf <= 0 for _, conf in (texts[0], texts[2], texts[3]))
    assert engine_report["en_indic_calls"] == 1
