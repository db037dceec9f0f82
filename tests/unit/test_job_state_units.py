"""The rules behind a job's end state: the batch exit code and what counts as a transcript the
model could not write."""

from __future__ import annotations

from shared.errors import InputError, ModelMissingError, PreflightError
from shared.job_state import batch_exit_code
from stages.asr.coverage import transcript_shortfall


def test_exit_code_is_zero_only_when_every_job_is_ok():
    assert batch_exit_code(["ok", "ok"]) == 0
    assert batch_exit_code(["ok", "degraded"]) == 3
    assert batch_exit_code(["degraded", "failed"]) == 1
    assert batch_exit_code(["ok", "pending"]) == 1


def test_preflight_error_lists_every_problem_with_its_fix_and_exits_2():
    error = PreflightError([
        ([f"job j{n} translation:hi" for n in range(8)],
         ModelMissingError("no model for translation.en_indic is cached",
                           fix="./cache-models.sh --model indictrans2-en-indic-dist-200M")),
        (["job k asr"], InputError("unknown ASR model 'gigantic'", fix="use a Whisper size")),
    ])
    text = str(error)
    assert error.exit_code == 2
    assert text.startswith("2 problem(s) found before any stage ran (nothing was run):")
    assert "job j0 translation:hi, job j1 translation:hi" in text and "and 2 more" in text
    assert "fix: ./cache-models.sh --model indictrans2-en-indic-dist-200M" in text
    assert "job k asr: unknown ASR model 'gigantic'" in text and "fix: use a Whisper size" in text


def speech(text: str, seconds: float = 13.6, language: str = "hi") -> dict:
    return {"language": language, "speech_decoded_s": seconds,
            "segments": [{"text": text, "language": language}] if text else []}


def test_an_empty_or_wrong_script_transcript_of_speech_names_a_better_model():
    base = "Systran/faster-whisper-base"
    empty = transcript_shortfall(speech(""), base)
    assert empty and empty.startswith("13.6 s of speech but the transcript has 0 character(s)")
    assert "--model faster-whisper-small" in empty
    urdu = transcript_shortfall(speech("نمستے آج موسم بفوتہ شاہے میں بھا مارتا رہا ہوں"), base)
    assert urdu and "written in Arabic script, only 0% of its letters in Devanagari" in urdu
    tamil = transcript_shortfall(speech("", language="ta"), base)
    assert tamil and "--model faster-whisper-large-v3" in tamil  # small is weak in Tamil too


def test_a_plausible_transcript_or_too_little_speech_is_fine():
    base = "Systran/faster-whisper-base"
    assert transcript_shortfall(speech("नमस्ते, आज मौसम बहुत अच्छा है। मैं बाज़ार जा रहा हूँ"),
                                base) is None
    assert transcript_shortfall(speech("", seconds=2.0), base) is None
    english = speech("And so my fellow Americans, ask not what your country can do for you",
                     seconds=4.0, language="en")
    assert transcript_shortfall(english, base) is None
