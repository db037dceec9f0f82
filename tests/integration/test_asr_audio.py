"""The asr stage reads its audio in blocks (stages/asr/audio.py), in the whisperx venv: a
slice of the WAV equals the same samples faster-whisper decodes; faster-whisper's Silero VAD
run block by block finds the regions one pass finds (block edges inside speech joined); and
on 22 minutes the block-by-block speech search takes no more memory than on 11, where
one pass over the decoded file takes far more; a second pass over the same blocks (asr's
cue-timing regions) reuses the first's speech probabilities."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import have, speech_dir

pytestmark = pytest.mark.integration

PERIOD_S = 26.0  # jfk.flac (11 s) then silence, repeated: some block edges fall in speech
REPEATS = 25

CHILD = r"""
import json, resource, sys
from pathlib import Path
import numpy as np
from faster_whisper import decode_audio
from faster_whisper.vad import VadOptions, get_speech_timestamps, get_vad_model
from stages.asr.audio import WavAudio, block_speech, open_audio

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

short, long, flac = map(Path, sys.argv[1:])
options = VadOptions(min_silence_duration_ms=500, speech_pad_ms=400)
get_vad_model()
before = peak_mb()
block_speech(open_audio(short), options)
report = {"short_grew_mb": peak_mb() - before}
audio = open_audio(long)
report.update(is_view=isinstance(audio, WavAudio), frames=len(audio))
report["blocks"] = block_speech(audio, options)  # 320 s blocks
report["long_grew_mb"] = peak_mb() - before
sample = audio[16000 * 61:16000 * 75]
whole = decode_audio(str(long), sampling_rate=16000)
report["max_diff"] = float(np.abs(whole[16000 * 61:16000 * 75] - sample).max())
report["sample_len"] = len(sample)
report["whole"] = [(c["start"], c["end"]) for c in get_speech_timestamps(whole, options)]
report["whole_grew_mb"] = peak_mb() - before
report["other"] = type(open_audio(flac)).__name__
# a second pass over the same blocks with other options (asr's cue-timing regions) runs no
# Silero model: the probabilities of the first are remembered; the regions are a fresh pass's
from stages.asr.audio import REMEMBERED_VAD
runs = []
model_type = type(get_vad_model())
real_call = model_type.__call__
model_type.__call__ = lambda self, *a, **k: runs.append(1) or real_call(self, *a, **k)
cue = VadOptions(min_silence_duration_ms=500, speech_pad_ms=100)
report["again"] = block_speech(open_audio(short), cue)
report["again_runs"] = len(runs)
REMEMBERED_VAD.probabilities.clear()
report["fresh"] = block_speech(open_audio(short), cue)
report["fresh_runs"] = len(runs) - report["again_runs"]
report["first"] = block_speech(open_audio(short), options)
sys.stdout.write("@@report " + json.dumps(report) + "\n")
"""


@pytest.fixture(scope="module")
def wavs(tmp_path_factory) -> tuple[Path, Path]:
    """About 11 minutes of jfk every 26 s, and the same twice over (22 minutes)."""
    if not have("sox"):
        pytest.skip("needs sox")
    folder = tmp_path_factory.mktemp("asr-audio")
    period, short, long = folder / "period.wav", folder / "short.wav", folder / "long.wav"
    subprocess.run(["sox", "-R", str(speech_dir() / "jfk.flac"), "-r", "16000", "-c", "1", "-b",
                    "16", str(period), "pad", "0", "15", "trim", "0", str(PERIOD_S)], check=True)
    subprocess.run(["sox", str(period), str(short), "repeat", str(REPEATS - 1)], check=True)
    subprocess.run(["sox", str(short), str(long), "repeat", "1"], check=True)
    return short, long


def covered(regions) -> int:
    return sum(end - start for start, end in regions)


def intersection(a, b) -> list[tuple[int, int]]:
    """The samples in both lists of sorted, disjoint (start, end) regions."""
    out = []
    for start, end in a:
        for s, e in b:
            if s < end and start < e:
                out.append((max(start, s), min(end, e)))
    return out


def test_blocks_read_and_find_what_one_pass_does_in_flat_memory(wavs, test_cache):
    from shared.environment_manager import EnvironmentManager

    lines: list[str] = []
    result = EnvironmentManager(test_cache).run_in_environment(
        "whisperx", ["-c", CHILD, *map(str, wavs), str(speech_dir() / "jfk.flac")],
        on_line=lines.append, timeout=600)
    assert result.ok, "\n".join(lines[-30:])
    report = json.loads(next(x for x in lines if x.startswith("@@report ")).split(" ", 1)[1])
    assert report["is_view"] and report["frames"] == round(PERIOD_S * REPEATS * 2 * 16000)
    assert report["sample_len"] == 14 * 16000 and report["max_diff"] < 1e-3
    blocks, whole = report["blocks"], report["whole"]
    # Silero's state starts afresh at a block edge (every 320 s), so near an edge two
    # touching regions may come out joined, and for a while after it borderline frames may
    # flip (measured on 13 minutes: none of one pass's speech missed, 2.5 s added)
    edges = len(range(0, report["frames"], 320 * 16000)) - 1
    assert len(whole) - edges <= len(blocks) <= len(whole) and len(blocks) >= 2 * REPEATS
    both = covered(intersection(blocks, whole))
    assert covered(whole) - both < 0.001 * report["frames"]
    assert covered(blocks) - both < 0.005 * report["frames"]
    grew = {k: round(report[f"{k}_grew_mb"]) for k in ("short", "long", "whole")}
    assert grew["long"] - grew["short"] < 10, grew  # twice the audio, no more memory
    # one pass over the decoded file (83 MB as float32) grows by far more: the measure sees
    assert grew["whole"] - grew["long"] > 100, grew
    assert report["other"] == "ndarray"  # a FLAC is decoded whole, as before
    # the cue-timing pass over blocks already searched: no Silero run, a fresh pass's regions
    assert report["again_runs"] == 0 and report["fresh_runs"] == 3  # 650 s: 3 blocks
    assert report["again"] == report["fresh"] and len(report["again"]) >= REPEATS
    assert report["again"] != report["first"]  # its own options (a 100 ms pad, not 400)
