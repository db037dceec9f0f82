"""A language the user set (-s ta) checked against the audio. Told the language, Whisper
writes every line in it whatever is spoken: English dialogue under -s ta comes out as a
Tamil translation or invented Tamil, in Tamil script, so neither the script check
(coverage.py) nor a reader of the file can tell.

The check rides on the decoding and costs no encoder pass: faster-whisper encodes each chunk
before decoding it (WhisperModel.encode, for both backends), and that encoder output is asked
for its language (ctranslate2's detect_language on encoder output: one decoder step). Every
chunk is checked, not a sample: its speech is cut into windows of the size of the -s auto
detection windows (the job's speech over asr.language_detection_windows, 5 to 30 s: a 30 s
chunk is one window in a film), each asked as its frames of the encoder output (20 ms each)
followed by the chunk's padding frames (MIN_PADDING_FRAMES); a chunk whose speech leaves too
little padding (most of a minute of speech: 30 s chunks) is one window, its whole encoding.
Speech past a chunk's first 30 s (only with asr.max_chunk_s over 30, or
asr.vad_filter=false) is not in that encoding: up to asr.language_detection_windows of those
windows per chunk, spread over them, get a detection of their own (an encoder pass each,
counted in ``language_detection.calls``). Windows that
confidently (asr.language_switch_probability) hear another language make the job degraded,
naming the language, where, and the fix (-s with that language, -s auto, or the audio
track). The decoding itself keeps the language the user set.

Each window is kept in segments.json's ``language_detection.windows`` (with its chunk) and the
verdict in ``language_detection.verification``; both are in the checkpoint after every chunk,
so a resumed run judges the same windows as an uninterrupted one. Skipped where the model's
detection cannot be trusted for the set language (the registry lists it among the model's
weak languages: base hears espeak Hindi as Latin or Japanese) and with
asr.language_verify=false; the mlx backend (mlx-whisper encodes inside its own transcribe) is
not checked. Hindi and Urdu are one spoken language to Whisper (it names Hindustani speech by
either), so one never contradicts the other."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger("stages.asr")

ALIKE = ({"hi", "ur"},)  # spoken alike; Whisper names the same speech by either
MAJORITY = 0.5  # this share of the checked speech in another language: the job's is wrong
FRAME_S = 0.02  # one frame of Whisper's encoder output
ENCODED_FRAMES = 1500  # one encoding: 30 s
# A window shorter than its chunk is asked as its frames followed by the chunk encoding's own
# padding frames (those after the speech), as Whisper sees a short clip: its frames alone, or
# followed by padding from another encoding (or of silence), mislead the detector (measured
# with base on JFK then espeak Spanish: 5 s of Spanish alone 'ne' p=0.10, with 50 padding
# frames 'sv' 0.14, with 150 'es' 0.96, with all 560 'es' 0.97, with another encoding's or
# silence's padding 'es' 0.58; a detection of its own 0.95). A chunk with less padding
# (speech filling most of its 30 s) is one window: its whole encoding, as Whisper detects it.
MIN_PADDING_FRAMES = 250
PADDING_SKIP = 5  # frames right after the speech still hold some of it
Region = tuple[float, float]


def alike(a: str, b: str) -> bool:
    return a == b or any(a in group and b in group for group in ALIKE)


def prepare(params, regions: list[Region], result: dict) -> None:
    """Before decoding: whether the set language is checked, and the size of its windows
    (``result["language_detection"]["verification"]``, which the decoding then fills)."""
    from shared.model_registry import load_models
    from stages.asr.languages import window_size

    language = params.language
    # params.model is the resolved repo id (Systran/faster-whisper-base) or a registry name
    entry = load_models().by_repo_or_name(params.model or "")
    weak = entry is not None and language in entry.weak_languages
    if not params.language_verify or weak:
        if weak:
            logger.info("the spoken language is not checked: %s does not know '%s' well "
                        "enough to tell it from others", params.model, language)
        return
    speech = sum(end - start for start, end in regions)
    result["language_detection"] = {"calls": 0, "windows": [], "verification": {
        "language": language, "checked": "every chunk, from its decoding's encoder output",
        "window_s": round(window_size(speech, params.language_detection_windows), 3),
        "chunks": 0}}


def chunk_windows(group: list[Region], size: float) -> list[tuple[list[Region], float]]:
    """A chunk's speech (one group of regions) in windows of at most about ``size`` seconds of
    speech, as the -s auto windows are made (stages.asr.decode.speech_groups: whole regions,
    so a switch of language at a pause starts a window; a region longer than ``size`` is
    cut), a window of under half of ``size`` joined to the one before; each with its offset
    in the chunk's joined audio (where its frames are in the chunk's encoding)."""
    from stages.asr.decode import speech_groups

    windows: list[list[Region]] = []
    for window in speech_groups([{"start": s, "end": e} for s, e in group], size):
        if windows and _speech(window) < size / 2:
            windows[-1] = windows[-1] + window
        else:
            windows.append(window)
    offsets = [sum(_speech(w) for w in windows[:i]) for i in range(len(windows))]
    return list(zip(windows, offsets, strict=True))


def _window(regions: list[Region], detection: tuple) -> dict:
    """A window's record: its span, speech and detection (choose_language's)."""
    language, probability, top = detection
    return {"start": regions[0][0], "end": regions[-1][1],
            "speech_s": round(sum(e - s for s, e in regions), 3), "language": language,
            "probability": probability, "probabilities": top}


class Listener:
    """The languages of a chunk's windows, from the encoder outputs its decoding computes: the
    first encoding of each of the chunk's groups (the batched backend encodes them as one
    batch; the sequential one encodes a chunk's 30 s window again only to finish its tail)."""

    def __init__(self, whisper, groups: list[list[Region]], size: float) -> None:
        self.model = whisper.model  # the ctranslate2 Whisper (stages.asr.seeded around it)
        self.pending = [chunk_windows(group, size) for group in groups]
        self.windows: list[dict] = []
        self.unheard: list[list[Region]] = []

    def heard(self, output) -> None:
        """One encode call's output: [batch, frames, width], item i the next group's."""
        if not self.pending:
            return
        frames = _host_frames(output)
        for item in range(min(len(frames), len(self.pending))):
            self._group(frames[item:item + 1], self.pending.pop(0))

    def _group(self, frames, windows: list[tuple[list[Region], float]]) -> None:
        """One group's windows from its encoding (``frames``: [1, 1500, width])."""
        import numpy as np

        from stages.asr.decode import choose_language

        spans = [(regions, round(offset / FRAME_S),
                  round(offset / FRAME_S) + max(1, round(_speech(regions) / FRAME_S)))
                 for regions, offset in windows]
        inside = [span for span in spans if span[2] <= ENCODED_FRAMES + 2]
        self.unheard += [regions for regions, _, end in spans if end > ENCODED_FRAMES + 2]
        if not inside:
            return
        content = min(ENCODED_FRAMES, inside[-1][2])
        padding = frames[:, content + PADDING_SKIP:]
        if len(inside) > 1 and padding.shape[1] < MIN_PADDING_FRAMES:
            inside = [([r for regions, _, _ in inside for r in regions], 0, content)]
        for regions, start, end in inside:
            probe = frames if len(inside) == 1 else np.concatenate(
                [frames[:, start:min(end, ENCODED_FRAMES)], padding], axis=1)
            self.windows.append(_window(regions, choose_language(
                _languages(self.model, probe), None)))

    def left(self, count: int) -> list[list[Region]]:
        """Up to ``count`` of the windows no encoding covered, spread over them (to be
        detected on their own)."""
        from stages.asr.languages import spread

        return spread(self.unheard + [regions for group in self.pending
                                      for regions, _ in group], count)


def _speech(regions: list[Region]) -> float:
    return sum(end - start for start, end in regions)


def _host_frames(output):
    """An encoder output (ctranslate2 StorageView, any device) as a float32 numpy array."""
    import ctranslate2
    import numpy as np

    if output.device != "cpu":
        output = output.to_device(ctranslate2.Device.cpu)
    if output.dtype != ctranslate2.DataType.float32:
        output = output.to(ctranslate2.DataType.float32)
    return np.array(output, copy=True)


def _languages(model, frames) -> list[tuple[str, float]]:
    """ctranslate2's language probabilities of some frames of an encoder output."""
    import ctranslate2
    import numpy as np

    frames = np.ascontiguousarray(frames)
    [found] = model.detect_language(ctranslate2.StorageView.from_array(frames))
    return [(token[2:-2], probability) for token, probability in found]


@contextmanager
def listening(model, audio, params, groups: list[list[Region]],
              result: dict) -> Iterator[None]:
    """While a chunk is decoded (``groups``: its speech): each of its windows' language, from
    the decoding's own encoder output, added to ``language_detection.windows``. Nothing when
    the set language is not being checked."""
    from stages.asr.decode import JoinedSpeech, _detect, _whisper

    verification = (result.get("language_detection") or {}).get("verification")
    if verification is None or "contradicting" in verification:  # not checked, or judged:
        yield  # (stages.asr.redecode decodes a removed loop's span again after the verdict)
        return
    whisper = _whisper(model)
    listener = Listener(whisper, groups, verification["window_s"])
    encode = whisper.encode

    def encode_and_listen(features):
        output = encode(features)
        listener.heard(output)
        return output

    whisper.encode = encode_and_listen
    try:
        yield
    finally:
        del whisper.encode  # the class's own again
    windows = listener.windows
    for regions in listener.left(params.language_detection_windows):  # an encoder pass each
        windows.append(_window(regions, _detect(model, JoinedSpeech(audio, [regions]).audio,
                                                None, result)))
    for window in windows:
        window["chunk"] = verification["chunks"]
    verification["chunks"] += 1
    result["language_detection"]["windows"].extend(windows)


def contradicting(windows: list[dict], language: str, params) -> list[dict]:
    """The windows that confidently (language_switch_probability) hear another language."""
    return [w for w in windows if not alike(w["language"], language)
            and w["probability"] >= params.language_switch_probability]


def judge(params, result: dict) -> None:
    """After the last chunk: the windows judged against the set language (the verdict in
    ``language_detection.verification``; contradicting windows marked ``contradicts``)."""
    detection = result.get("language_detection") or {}
    verification = detection.get("verification")
    if verification is None:
        return
    language, windows = verification["language"], detection["windows"]
    others = contradicting(windows, language, params)
    for window in others:
        window["contradicts"] = True
    total = sum(w["speech_s"] for w in windows) or 1.0
    share = sum(w["speech_s"] for w in others) / total
    verification.update(windows=len(windows), contradicting=len(others),
                        share=round(share, 3))
    logger.info("spoken language check of '%s' over %d window(s) of %d chunk(s), %d by their "
                "decoding's encoder output: %s", language, len(windows),
                verification["chunks"], len(windows) - detection["calls"],
                ", ".join(f"{w['start']:.1f}-{w['end']:.1f} s {w['language']} "
                          f"{w['probability']:.2f}" for w in windows))


def degraded_reasons(result: dict) -> list[str]:
    """The verdict of judge as degraded reasons (none when it agreed)."""
    from shared.clock import short_clock

    detection = result.get("language_detection") or {}
    verdict = detection.get("verification")
    if not verdict or not verdict.get("contradicting"):
        return []
    language = verdict["language"]
    others = [w for w in detection["windows"] if w.get("contradicts")]
    heard = max({w["language"] for w in others},
                key=lambda lang: sum(w["speech_s"] for w in others if w["language"] == lang))
    fix = (f"prepare the job again with -s {heard} (or -s auto), or, if the file has several "
           "audio tracks, choose the one in that language with --set demux.audio_stream=INDEX")
    if verdict["share"] >= MAJORITY:
        return [f"the speech sounds like '{heard}', not '{language}' as the job says: "
                f"{verdict['contradicting']} of {verdict['windows']} windows of the speech "
                f"({verdict['share']:.0%} of it) detect another language; the "
                f"'{language}' subtitles may be a translation into '{language}' or invented "
                f"text; fix: {fix}"]
    return [f"{w['speech_s']:.0f} s of speech at {short_clock(w['start'])} ({w['start']:.1f}-"
            f"{w['end']:.1f} s) sounds like '{w['language']}' (p={w['probability']:.2f}), not "
            f"'{language}', and was decoded as '{language}'; fix: -s auto decodes each region "
            f"in its own language (--set asr.language_candidates='[\"{language}\", "
            f"\"{w['language']}\"]' to choose between the two)" for w in others]
