"""The check of a language the user set (stages/asr/verify.py), its pure parts: how a chunk's
speech is cut into windows (their offsets into the chunk's encoding) and how the windows'
detections become the verdict and the degraded reasons. The detection itself runs on the
decoding's encoder output in tests/e2e/test_asr.py and tests/integration/test_stage_resume.py."""

from __future__ import annotations

import pytest

from stages.asr import AsrParams
from stages.asr.verify import chunk_windows, degraded_reasons, judge


def test_a_chunk_is_cut_into_windows_at_pauses_with_their_offsets_in_its_encoding():
    group = [(10.0, 14.0), (20.0, 26.0), (40.0, 45.0)]  # 15 s of speech
    windows = chunk_windows(group, 5.0)
    # whole regions (a language switch at a pause starts a window); the 6 s region is cut
    # at 5 s and its 1 s rest, under half a window, joins the window before
    assert [regions for regions, _ in windows] == [
        [(10.0, 14.0)], [(20.0, 25.0), (25.0, 26.0)], [(40.0, 45.0)]]
    assert [offset for _, offset in windows] == pytest.approx([0.0, 4.0, 10.0], abs=0.01)
    assert len(chunk_windows(group, 30.0)) == 1  # a film's window: the whole chunk


def window(start: float, language: str, probability: float, chunk: int = 0) -> dict:
    return {"start": start, "end": start + 5, "speech_s": 5.0, "language": language,
            "probability": probability, "probabilities": {language: probability},
            "chunk": chunk}


def result_with(language: str, windows: list[dict]) -> dict:
    return {"language_detection": {"calls": 0, "windows": windows, "verification": {
        "language": language, "window_s": 5.0, "chunks": 1}}}


def test_a_minority_of_confident_windows_names_where_and_the_auto_fix():
    result = result_with("en", [window(0, "en", 0.9), window(5, "en", 0.8),
                                window(10, "es", 0.95), window(15, "es", 0.5)])
    judge(AsrParams(language="en"), result)
    verdict = result["language_detection"]["verification"]
    assert (verdict["windows"], verdict["contradicting"], verdict["share"]) == (4, 1, 0.25)
    [reason] = degraded_reasons(result)
    assert "at 0:10 (10.0-15.0 s) sounds like 'es' (p=0.95), not 'en'" in reason
    assert "-s auto" in reason


def test_a_majority_names_the_language_heard_and_hindi_never_contradicts_urdu():
    result = result_with("es", [window(0, "en", 0.9), window(5, "en", 0.9, chunk=1)])
    judge(AsrParams(language="es"), result)
    [reason] = degraded_reasons(result)
    assert "the speech sounds like 'en', not 'es' as the job says" in reason
    assert "-s en (or -s auto)" in reason
    alike = result_with("ur", [window(0, "hi", 0.99)])
    judge(AsrParams(language="ur"), alike)
    assert degraded_reasons(alike) == []
    assert alike["language_detection"]["verification"]["contradicting"] == 0


def test_a_weak_language_of_the_model_is_not_checked_by_repo_id_or_name():
    """The asr stage's params hold the resolved repo id: base's weak 'hi' is skipped either
    way (before, only the registry name was looked up, so espeak Hindi under -s hi was
    checked against a detector that hears it as Latin or Japanese)."""
    from stages.asr.verify import prepare

    regions = [(0.0, 10.0)]
    for model in ("Systran/faster-whisper-base", "faster-whisper-base"):
        result: dict = {}
        prepare(AsrParams(language="hi", model=model), regions, result)
        assert result == {}, model
        prepare(AsrParams(language="en", model=model), regions, result)
        assert result["language_detection"]["verification"]["language"] == "en"
