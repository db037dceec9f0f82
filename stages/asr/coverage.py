"""A transcript the model could not really write: the job must not end "ok" with it.

- Nearly empty: the VAD found speech (the vad stage's chunks, or faster-whisper's own filter)
  but the transcript holds far fewer characters than any language speaks in that time.
- Wrong script: the transcript of a language is mostly in another writing system (Whisper
  base, told the speech is Hindi, writes it in Urdu's Arabic script).
Either way the model most likely does not know the language. The stage still succeeds (the
transcript is what the model heard) and reports a degradation that names a better model and
the commands to use it.
"""

from __future__ import annotations

from shared.model_registry import better_model_fix

MIN_SPEECH_S = 5.0  # less speech than this: too little to judge
# characters of transcript per second of speech below which the transcript is "nearly
# empty"; speech runs at 10-20 characters per second in every script Whisper writes
MIN_CHARS_PER_SPEECH_S = 1.0
MIN_LETTERS_FOR_SCRIPT = 20  # fewer letters than this: too few to judge the script
MIN_SCRIPT_SHARE = 0.5  # below this share of letters in the language's script: wrong script


def transcript_shortfall(result: dict, model: str | None) -> str | None:
    """One sentence with the fix when ``result`` (segments.json's content) has speech but
    almost no text; None when the transcript is plausible or there was too little speech."""
    language = result.get("language") or "und"
    problem = _nearly_empty(result) or _wrong_script(result, language)
    if problem is None:
        return None
    return (f"{problem}: {model or 'the model'} does not transcribe '{language}' well enough; "
            f"fix: {better_model_fix(language, model)}")


def _nearly_empty(result: dict) -> str | None:
    speech = result.get("speech_decoded_s")
    if not speech or speech < MIN_SPEECH_S:
        return None
    chars = sum(len(s.get("text", "").strip()) for s in result.get("segments", []))
    if chars >= MIN_CHARS_PER_SPEECH_S * speech:
        return None
    return f"{speech:.1f} s of speech but the transcript has {chars} character(s)"


def _wrong_script(result: dict, language: str) -> str | None:
    """Only for segments decoded as ``language`` (a multilingual transcript's other
    languages are judged by their own script)."""
    from shared.languages import load_languages
    from shared.text_script import dominant_script, script_name, script_share

    try:
        expected = load_languages().get(language).script
    except Exception:  # noqa: BLE001 - an unknown code: nothing to compare with
        return None
    text = " ".join(s.get("text", "") for s in result.get("segments", [])
                    if (s.get("language") or language) == language)
    letters = sum(1 for ch in text if ch.isalpha())
    if not expected or letters < MIN_LETTERS_FOR_SCRIPT:
        return None
    share = script_share(text, expected)
    if share >= MIN_SCRIPT_SHARE:
        return None
    return (f"the '{language}' transcript is written in {dominant_script(text)} script, only "
            f"{share:.0%} of its letters in {script_name(expected)}")
