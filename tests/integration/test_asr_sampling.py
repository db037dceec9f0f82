"""Temperature-fallback sampling in the asr stage (stages/asr/seeded.py), with the embedded
faster-whisper base in the whisperx venv: a chunk decoded with sampling gives the same text
first in a process, after other sampled decodes in that process, and in another process that
decoded other things first, so a resumed run equals an uninterrupted one and a job's text does
not depend on the batch. ctranslate2 seeds each worker thread's generator once, so without
stages.asr.seeded the second decode would draw from where the first left off."""

from __future__ import annotations

import json

import pytest

from tests.helpers import speech_dir

pytestmark = pytest.mark.integration

# Each argument is one decode_chunk call, "start-end@seed", on jfk.flac (11 s). Sampling is
# forced: the only temperature is 1.0 (best_of 5 samples, no greedy first try).
CHILD = r"""
import json, sys
from pathlib import Path
from stages.asr import AsrParams
from stages.asr.audio import open_audio
from stages.asr.decode import _load_model, decode_chunk

flac, *calls = sys.argv[1:]
base = AsrParams(model="Systran/faster-whisper-base", backend="faster-whisper", device="cpu",
                 compute_type="int8", cpu_threads=2, temperatures=[1.0], word_timestamps=False)
model = _load_model(base)
audio = open_audio(Path(flac))
for call in calls:
    span, seed = call.split("@")
    start, end = map(float, span.split("-"))
    params = base.model_copy(update={"seed": int(seed)})
    result = {"decode_passes": 0}
    segments = list(decode_chunk(model, audio, params, ([[(start, end)]], "en"), result))
    report = {"call": call, "text": " ".join(s.text.strip() for s in segments),
              "temperatures": sorted({s.temperature for s in segments}),
              "reloads": model.model.reloads}
    sys.stdout.write("@@decode " + json.dumps(report) + "\n")
"""


def _decode(cache, *calls: str) -> list[dict]:
    from shared.environment_manager import EnvironmentManager

    lines: list[str] = []
    result = EnvironmentManager(cache).run_in_environment(
        "whisperx", ["-c", CHILD, str(speech_dir() / "jfk.flac"), *calls],
        on_line=lines.append, timeout=600)
    assert result.ok, "\n".join(lines[-30:])
    return [json.loads(x.split(" ", 1)[1]) for x in lines if x.startswith("@@decode ")]


def test_a_sampled_chunk_decodes_the_same_whatever_was_decoded_before(test_cache):
    first, other, again = _decode(test_cache, "0-11@0", "0-11@1", "0-11@0")
    assert first["temperatures"] == [1.0] and first["text"]  # it did sample
    # the sampling is real: another seed draws another transcript of the same chunk
    assert other["text"] != first["text"], (first, other)
    # the same chunk after another sampled decode in the same process (a resumed run's
    # process, or the next job of a batch): the generator started over from the seed
    assert again["text"] == first["text"], (first, other, again)
    assert [first["reloads"], other["reloads"], again["reloads"]] == [0, 1, 2]
    # a fresh process that sampled something else (another span and seed) first
    elsewhere = _decode(test_cache, "2-8@7", "0-11@0")
    assert elsewhere[1]["text"] == first["text"], (first, elsewhere)
