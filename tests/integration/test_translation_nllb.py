"""The nllb engine (stages/translation/nllb.py) for real in the nllb venv, against the tiny
random NLLB (tests/tiny_nllb.py) installed in a temporary model cache as
facebook/nllb-200-distilled-600M: loaded by name through the EnvironmentManager's environment
(HF_HOME at the temporary cache, HF_HUB_OFFLINE=1) with every socket connect and name lookup
refused and recorded. One child process runs every case and reports JSON; the tests read it.
The model is random, so the tests assert structure (one line per line, the forced language
token, batching, order), never the words."""

from __future__ import annotations

import json
import math

import pytest

from tests import tiny_nllb
from tests.fixtures_translation import tiny_nllb_hub  # noqa: F401 (a fixture)
from tests.helpers import NO_NETWORK, make_model_cache

pytestmark = pytest.mark.integration

HINDI = ["नमस्ते दोस्तों", "आज हम दो बातें करेंगे", "आप कैसे हैं?", "मैं ठीक हूँ।",
         "यह एक परीक्षण वाक्य है", "क्या तुम कल आओगे", "हाँ ज़रूर", "दोस्तों",
         "आज हम दो बातें करेंगे, आप कैसे हैं? मैं ठीक हूँ।", "कल"]
ODD = ["😀🎬🍿", "नमस्ते\x00दोस्तों\x07", "tab\there\r\nnext line", "क्ष\u200dि\u200c",
       "\x1b[31mred\x1b[0m", "\ufeffBOM", "\u202eright to left\u202c", "a" * 600]

CHILD = NO_NETWORK + r"""
import json, sys, traceback

from stages.translation import nllb
from stages.translation.engine import LanguagePair

spec = json.loads(sys.argv[1])
report = {"cases": {}}


def pair(source, target):
    return LanguagePair(source[:2], target[:2], source, target)


def run(engine, texts, p):
    before = engine.generate_calls
    try:
        out = engine.translate(texts, p)
    except Exception as e:
        return {"error": type(e).__name__, "message": str(e),
                "calls": engine.generate_calls - before}
    return {"texts": [t.text for t in out], "confidence": [t.confidence for t in out],
            "ids": engine.last_token_ids, "calls": engine.generate_calls - before}


engine = nllb.load(spec["repo"], "cpu", 4)
report["model"] = engine.model
report["num_beams"] = engine.num_beams
report["codes"] = {c: engine.language_id(c) for c in ("eng_Latn", "hin_Deva", "guj_Gujr")}
report["decoder_start"] = engine.net.config.decoder_start_token_id
hi_en, en_hi = pair("hin_Deva", "eng_Latn"), pair("eng_Latn", "hin_Deva")
cases = report["cases"]
cases["batch4"] = run(engine, spec["hindi"], hi_en)
cases["to_gujarati"] = run(engine, spec["hindi"][:3], pair("hin_Deva", "guj_Gujr"))
cases["empty_lines"] = run(engine, ["", spec["hindi"][0], "   ", "", "\x07"], hi_en)
cases["no_lines"] = run(engine, [], hi_en)
cases["unknown_target"] = run(engine, spec["hindi"][:2], pair("hin_Deva", "xyz_Abcd"))
cases["unknown_source"] = run(engine, spec["hindi"][:2], pair("qqq_Zzzz", "eng_Latn"))
cases["not_a_code"] = run(engine, spec["hindi"][:2], pair("hin_Deva", "</s>"))
cases["odd"] = run(engine, spec["odd"], en_hi)



def scored_by_generate(engine, texts, p, beams):
    # the confidences generate's own scores give (output_scores + compute_transition_scores),
    # for lines that make one batch, longest first
    import torch

    engine.tokenizer.src_lang = p.source_flores
    batch = engine.tokenizer(texts, return_tensors="pt", padding=True)
    longest = batch["input_ids"].shape[1]
    with torch.inference_mode():
        out = engine.net.generate(
            **batch, forced_bos_token_id=engine.language_id(p.target_flores),
            num_beams=beams, max_new_tokens=int(2 * longest) + 10, do_sample=False,
            return_dict_in_generate=True, output_scores=True)
        scores = engine.net.compute_transition_scores(
            out.sequences, out.scores, getattr(out, "beam_indices", None),
            normalize_logits=beams == 1)
    means = []
    for seq, row in zip(out.sequences.tolist(), scores.tolist()):
        end = seq.index(2, 1) if 2 in seq[1:] else len(seq) - 1
        means.append(sum(row[1:end]) / (end - 1))
    return {"ids": out.sequences.tolist(), "means": means}


checked = sorted(spec["hindi"][:3], key=lambda t: -len(engine.tokenizer(t)["input_ids"]))
cases["scored"] = {"engine": run(engine, checked, hi_en),
                   "generate": scored_by_generate(engine, checked, hi_en, 4)}

one = nllb.load(spec["snapshot"], "cpu", 1, num_beams=2)  # a local folder, batch 1
report["folder_model"] = one.model
report["snapshot"] = spec["snapshot"]
cases["batch1_all"] = run(one, spec["hindi"], hi_en)
cases["batch1_each"] = [run(one, [line], hi_en) for line in spec["hindi"]]
cases["greedy"] = run(nllb.load(spec["repo"], "cpu", 8, num_beams=1), spec["hindi"], hi_en)
try:
    nllb.load("facebook/nllb-200-distilled-1.3B", "cpu", 4)
    report["missing"] = None
except Exception as e:
    report["missing"] = {"error": type(e).__name__, "message": str(e)}
report["attempts"] = attempts
sys.stdout.write("@@report " + json.dumps(report, ensure_ascii=False) + "\n")
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory, tiny_nllb_hub):  # noqa: F811 (the imported fixture)
    from shared import hf_cache
    from shared.environment_manager import EnvironmentManager

    cache, _ = make_model_cache(tmp_path_factory.mktemp("nllb"), embedded=False)
    hub = cache.cache.hf_hub_cache
    tiny_nllb.copy_repo(tiny_nllb_hub, hub)
    spec = {"repo": tiny_nllb.REPO_ID, "hindi": HINDI, "odd": ODD,
            "snapshot": str(hf_cache.snapshot_dir(hub, tiny_nllb.REPO_ID))}
    lines: list[str] = []
    result = EnvironmentManager(cache).run_in_environment(
        "nllb", ["-c", CHILD, json.dumps(spec)], on_line=lines.append, timeout=600)
    assert result.ok, "\n".join(lines[-40:])
    found = [line for line in lines if line.startswith("@@report ")]
    assert found, "\n".join(lines[-40:])
    return json.loads(found[-1].removeprefix("@@report "))


def assert_lines(case: dict, texts: list[str]) -> None:
    """One single-line output per input line; "" exactly for the blank ones (nothing left
    once control characters and white space are gone)."""
    from stages.translation.nllb import clean_line

    assert "error" not in case, case
    assert len(case["texts"]) == len(texts) == len(case["ids"]) == len(case["confidence"])
    for source, out, conf in zip(texts, case["texts"], case["confidence"], strict=True):
        assert "\n" not in out and "\r" not in out and out == out.strip()
        if clean_line(source):
            assert out and conf is not None and math.isfinite(conf) and conf <= 0.0
        else:
            assert out == "" and conf is None


def test_loads_by_name_offline_with_no_network(report):
    assert report["attempts"] == []
    assert report["model"] == tiny_nllb.REPO_ID
    assert report["num_beams"] == 4  # the default
    assert len(set(report["codes"].values())) == 3  # real, distinct language tokens


def test_one_line_out_per_line_in_and_the_target_language_forced_first(report):
    case = report["cases"]["batch4"]
    assert_lines(case, HINDI)
    for ids in case["ids"]:
        assert ids[:2] == [report["decoder_start"], report["codes"]["eng_Latn"]]
    gujarati = report["cases"]["to_gujarati"]
    assert_lines(gujarati, HINDI[:3])
    assert all(ids[1] == report["codes"]["guj_Gujr"] for ids in gujarati["ids"])


def test_n_lines_take_ceil_n_over_batch_generate_calls(report):
    cases = report["cases"]
    assert cases["batch4"]["calls"] == math.ceil(len(HINDI) / 4) == 3
    assert cases["to_gujarati"]["calls"] == 1
    assert cases["batch1_all"]["calls"] == len(HINDI)
    assert cases["greedy"]["calls"] == math.ceil(len(HINDI) / 8) == 2


def test_batches_are_put_back_in_input_order(report):
    """Batch size 1 has no padding, so a line alone and the same line inside a sorted list
    give identical numbers; the lines' confidences all differ, so a swapped line shows."""
    together = report["cases"]["batch1_all"]
    alone = report["cases"]["batch1_each"]
    assert_lines(together, HINDI)
    assert len(set(together["confidence"])) == len(HINDI)
    assert together["texts"] == [c["texts"][0] for c in alone]
    assert together["confidence"] == [c["confidence"][0] for c in alone]
    assert together["ids"] == [c["ids"][0] for c in alone]
    assert report["folder_model"] == report["snapshot"]  # loaded from the folder


def test_empty_lines_give_empty_output_without_a_generate_call(report):
    cases = report["cases"]
    assert_lines(cases["empty_lines"], ["", HINDI[0], "   ", "", "\x07"])
    assert cases["empty_lines"]["calls"] == 1
    assert cases["empty_lines"]["ids"][0] == []
    assert cases["no_lines"] == {"texts": [], "confidence": [], "ids": [], "calls": 0}


def test_an_unknown_language_code_is_a_clear_error(report):
    for name, code in (("unknown_target", "xyz_Abcd"), ("unknown_source", "qqq_Zzzz"),
                       ("not_a_code", "</s>")):
        case = report["cases"][name]
        assert case["error"] == "InputError" and case["calls"] == 0
        assert f"does not know the language code '{code}'" in case["message"]
        assert "fix:" in case["message"]


def test_emoji_control_characters_and_long_lines_do_not_crash(report):
    case = report["cases"]["odd"]
    assert_lines(case, ODD)
    assert case["calls"] == math.ceil(len(ODD) / 4)
    assert all(ids[1] == report["codes"]["hin_Deva"] for ids in case["ids"])


def test_confidence_is_the_mean_log_probability_of_the_chosen_tokens(report):
    """The engine's teacher-forced scoring gives what generate's own scores give (beam
    search, 4 beams, one padded batch), without keeping a vocabulary-wide row per step."""
    case = report["cases"]["scored"]
    engine, generate = case["engine"], case["generate"]
    assert [ids[:len(mine)] for ids, mine in zip(generate["ids"], engine["ids"],
                                                   strict=True)] == engine["ids"]
    for mine, theirs in zip(engine["confidence"], generate["means"], strict=True):
        assert mine == pytest.approx(theirs, abs=1e-4)


def test_greedy_decoding_also_forces_the_language(report):
    case = report["cases"]["greedy"]
    assert_lines(case, HINDI)
    assert all(ids[1] == report["codes"]["eng_Latn"] for ids in case["ids"])


def test_a_model_not_in_the_cache_names_the_command_that_fetches_it(report):
    missing = report["missing"]
    assert missing["error"] == "ModelMissingError"
    assert "facebook/nllb-200-distilled-1.3B" in missing["message"]
    assert "./cache-models.sh" in missing["message"]


def test_text_clean_up_keeps_indic_joiners_and_drops_control_characters():
    from stages.translation.nllb import clean_line, one_line

    assert clean_line("नमस्ते\x00दोस्तों\x07 ") == "नमस्ते दोस्तों"
    assert clean_line("tab\there\r\nnext") == "tab here next"
    assert clean_line("क्ष\u200dि\u200c") == "क्ष\u200dि\u200c"  # ZWJ / ZWNJ stay
    assert clean_line("😀 ok") == "😀 ok"
    assert clean_line("\x1b\x07 \t") == ""
    assert one_line(" two\nlines  here ") == "two lines here"
