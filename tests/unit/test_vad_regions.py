"""The vad stage's backend-independent parts: block plan, joining across block edges, the
duration rules, the quality summary, and the Params contract (no venvs, no models)."""

from __future__ import annotations

import struct
import wave

import pytest
from pydantic import ValidationError

from stages.vad import SPEC, VadParams
from stages.vad import wav as vad_wav
from stages.vad.regions import Region, finalize, join, plan_blocks, quality


def spans(regions: list[Region]) -> list[tuple[float, float]]:
    return [(round(r.start, 3), round(r.end, 3)) for r in regions]


def test_blocks_cover_the_file_with_context_on_both_sides():
    blocks = plan_blocks(250, 100, 10)
    assert [(b.core_start, b.core_end) for b in blocks] == [(0, 100), (100, 200), (200, 250)]
    assert [(b.read_start, b.read_end) for b in blocks] == [(0, 110), (90, 210), (190, 250)]
    assert plan_blocks(0, 100, 10) == []


def test_a_region_cut_at_a_block_edge_is_joined_with_its_confidence():
    halves = [Region(3.0, 10.0, 7.0, 10), Region(10.0, 12.0, 1.0, 10), Region(20.0, 21.0, 1, 1)]
    joined = join(halves, 0.001)
    assert spans(joined) == [(3.0, 12.0), (20.0, 21.0)]
    assert joined[0].confidence == pytest.approx(0.4)


def test_film_dialogue_rules_fill_short_silences_drop_blips_and_pad_without_overlap():
    raw = [Region(1.0, 2.0), Region(2.3, 3.0),  # a breath: joined
           Region(3.8, 5.0),                     # 0.8 s later: a new line
           Region(7.0, 7.1),                     # a click: dropped
           Region(9.0, 9.95)]                    # padded up to the end of the file
    final = finalize(raw, 10.0, min_silence=0.5, min_speech=0.25, pad=0.5)
    # the 0.8 s gap is shorter than two pads: split in the middle
    assert spans(final) == [(0.5, 3.4), (3.4, 5.5), (8.5, 10.0)]


def test_quality_reports_speech_the_longest_silence_and_no_warning_for_dialogue():
    regions = [Region(3.0, 6.0, 2.7, 3), Region(14.0, 16.0, 2.0, 2)]
    q = quality(regions, 20.0, min_ratio=0.02, max_ratio=0.95)
    assert q == {"speech_s": 5.0, "speech_ratio": 0.25, "regions": 2, "longest_silence_s": 8.0,
                 "longest_silence_start": 6.0, "mean_confidence": 0.94, "warnings": []}


@pytest.mark.parametrize(("regions", "needle"), [
    ([], "wrong audio stream? music only?"),
    ([Region(5.0, 5.3)], "almost no speech detected (0.3 s of 60.0 s, 0.5%)"),
    ([Region(0.0, 59.5)], "nearly everything is speech"),
])
def test_quality_warns_about_audio_that_is_not_dialogue(regions, needle):
    q = quality(regions, 60.0, min_ratio=0.02, max_ratio=0.95)
    assert len(q["warnings"]) == 1 and needle in q["warnings"][0]


def test_quality_of_empty_audio():
    q = quality([], 0.0, min_ratio=0.02, max_ratio=0.95)
    assert q["speech_ratio"] == 0.0 and q["mean_confidence"] is None
    assert "empty" in q["warnings"][0]


def test_params_defaults_and_hysteresis_check():
    params = VadParams()
    assert (params.backend, params.onset, params.offset) == ("silero", 0.5, 0.35)
    assert (params.min_speech_duration, params.min_silence_duration, params.speech_pad) == (
        0.25, 0.5, 0.1)
    with pytest.raises(ValidationError, match="must not exceed onset"):
        VadParams(offset=0.6)
    with pytest.raises(ValidationError):
        VadParams(backend="webrtc")
    with pytest.raises(ValidationError):
        VadParams(treshold=0.5)


def test_contract_prefers_the_separated_vocals_and_runs_in_the_backends_venv():
    assert SPEC.inputs == {"audio": ("source_separation:vocals_16k.wav",
                                     "demux:audio_16k.wav")}
    assert SPEC.outputs == ("speech_segments.json",)
    assert SPEC.environments == ("whisperx", "pyannote")  # silero's is the default


def write_wav(path, *, channels=1, rate=16000, frames=8, extensible=False, float32=False):
    tag = 0xFFFE if extensible else (3 if float32 else 1)
    bits = 32 if float32 else 16
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    if extensible:
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", 3 if float32 else 1) \
            + b"\x00" * 14
    data = b"\x00" * (frames * block)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"LIST" + \
        struct.pack("<I", 4) + b"INFO" + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def test_wav_header_parsing_finds_rate_channels_and_length(tmp_path):
    plain = tmp_path / "plain.wav"
    with wave.open(str(plain), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        handle.writeframes(b"\x00\x00" * 1600)
    info = vad_wav.probe(plain)
    assert (info.sample_rate, info.channels, info.bits, info.frames) == (16000, 1, 16, 1600)
    assert info.duration == pytest.approx(0.1)
    ext = vad_wav.probe(write_wav(tmp_path / "ext.wav", channels=2, extensible=True,
                                  float32=True))
    assert (ext.fmt, ext.channels, ext.bits, ext.frames) == (vad_wav.FLOAT, 2, 32, 8)
    (tmp_path / "text.wav").write_text("not audio")
    with pytest.raises(ValueError, match="is not a WAV file"):
        vad_wav.probe(tmp_path / "text.wav")
