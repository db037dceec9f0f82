"""A removed loop's span decoded again (stages/asr/redecode.py) with the embedded base model on
real speech with known text: a generated film (tests/film_audio.py, espeak-ng, a music bed
under every third line) is decoded chunk by chunk as the asr stage decodes it; then the
segments over three of its lines are replaced by the loop base wrote over 58 s of a
generated film ("VS. VS. VS. ...") where the decoder's output enters the filter
(stages.asr.decode._remove_hallucinations, the stage's post-pass). The loop is removed, its span
decoded again region by region, and the new text is the known sentences' (WER bound);
hallucinations.json records it; done again after a sampled decode in the same process it
gives the same; with asr.redecode_loops=false the span stays without text. A natural loop
could not be reproduced: the 10-minute seed-31 film's chunk at 250.5-308.5 s, where base
looped on a user-style run (the film as a track of an MKV), decodes to its text from the WAV
and from a Vorbis MKV of it."""

from __future__ import annotations

import json

import pytest

from tests.film_audio import make_film
from tests.helpers import wer

pytestmark = pytest.mark.integration

CHILD = r"""
import json, sys
from pathlib import Path
from types import SimpleNamespace
from stages.asr import AsrParams
from stages.asr.audio import open_audio
from stages.asr.decode import (_load_model, _record, _remove_hallucinations, decode_chunk,
                               own_speech_regions, speech_groups)

wav, folder, lo, hi = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
params = AsrParams(model="Systran/faster-whisper-base", backend="faster-whisper", device="cpu",
                   compute_type="int8", cpu_threads=2, language="en")
model = _load_model(params)
audio = open_audio(Path(wav))
regions = own_speech_regions(audio, params, params.max_chunk_s)
result = {"decode_passes": 0, "segments": []}
for group in speech_groups([{"start": s, "end": e} for s, e in regions], params.max_chunk_s):
    result["segments"] += [_record(0, s, "en") for s in
                           decode_chunk(model, audio, params, ([group], "en"), result)]
# the loop, as base wrote it, in place of what the decoder wrote over [lo, hi]
decoded = result["segments"]
loop = {**decoded[0], "start": lo, "end": hi, "text": "VS. " * 120, "words": [],
        "temperature": 1.0}
result["segments"] = sorted([s for s in decoded if not lo <= (s["start"] + s["end"]) / 2 <= hi]
                            + [loop], key=lambda s: s["start"])
injected = list(result["segments"])

def post_pass(name, **update):
    out = folder / name
    out.mkdir()
    request = SimpleNamespace(output=lambda file: out / file)
    result["segments"] = list(injected)
    passes = result["decode_passes"]
    kept = _remove_hallucinations(request, params.model_copy(update=update), result, None,
                                  model, audio)
    report = json.loads((out / "hallucinations.json").read_text())
    sys.stdout.write("@@post " + json.dumps({"name": name, "kept": kept, "report": report,
                     "passes": result["decode_passes"] - passes}) + "\n")

post_pass("first")
# temperature-fallback sampling in between (a resumed run's process decoded other chunks)
list(decode_chunk(model, audio, params.model_copy(update={"temperatures": [1.0]}),
                  ([[regions[0]]], "en"), result))
post_pass("again")
post_pass("off", redecode_loops=False)
sys.stdout.write("@@decoded " + json.dumps(decoded) + "\n")
"""


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    return make_film(tmp_path_factory.mktemp("redecode") / "film", lines=7, seed=13)


def _run(test_cache, wav, folder, lo: float, hi: float) -> tuple[dict, list]:
    from shared.environment_manager import EnvironmentManager

    lines: list[str] = []
    result = EnvironmentManager(test_cache).run_in_environment(
        "whisperx", ["-c", CHILD, str(wav), str(folder), str(lo), str(hi)],
        on_line=lines.append, timeout=900)
    assert result.ok, "\n".join(lines[-30:])
    posts = {p["name"]: p for p in (json.loads(x.split(" ", 1)[1]) for x in lines
                                    if x.startswith("@@post "))}
    decoded = next(json.loads(x.split(" ", 1)[1]) for x in lines if x.startswith("@@decoded "))
    return posts, decoded


def test_a_removed_loops_span_is_decoded_again_into_its_known_text(test_cache, film,
                                                                   tmp_path):
    wav, truth = film
    inside = truth[2:5]  # three lines, the third over the music bed
    lo, hi = inside[0].start - 0.3, inside[-1].end + 0.3
    posts, decoded = _run(test_cache, wav, tmp_path, lo, hi)
    known = " ".join(s.text for s in inside)
    # the first decode wrote these lines well: the loop stands in for real, decodable speech
    first = " ".join(s["text"] for s in decoded if lo <= (s["start"] + s["end"]) / 2 <= hi)
    assert wer(known, first) < 0.2, first

    report = posts["first"]["report"]
    assert [(r["kind"], r["segment"]["start"]) for r in report["removed"]] == [("loop", lo)]
    (row,) = report["redecoded"]
    assert (row["start"], row["end"], row["outcome"]) == (lo, hi, "replaced"), row
    assert len(row["regions"]) >= 3 and posts["first"]["passes"] == len(row["regions"])
    assert wer(known, row["text"]) < 0.2, (known, row["text"])
    kept = posts["first"]["kept"]
    new = [s for s in kept if lo <= (s["start"] + s["end"]) / 2 <= hi]
    assert " ".join(s["text"] for s in new) == row["text"]
    assert [s["id"] for s in kept] == list(range(len(kept)))
    assert all(s["words"] and s["language"] == "en" for s in new)
    # the whole transcript: the known text again, the loop gone
    assert wer(" ".join(s.text for s in truth), " ".join(s["text"] for s in kept)) < 0.2

    # the same after a sampled decode in the process (a resumed run equals an uninterrupted one)
    assert posts["again"]["kept"] == kept and posts["again"]["report"] == report
    # switched off: the loop is removed and its span left without text, as before
    off = posts["off"]
    assert off["report"]["redecoded"] == [] and off["passes"] == 0
    assert not [s for s in off["kept"] if lo <= (s["start"] + s["end"]) / 2 <= hi]
