"""shared/transcript.py: the typed segments files stages pass along."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared import transcript
from shared.errors import InputError
from shared.transcript import SCHEMA_VERSION, Line, Segment, Transcript, Translation

ASR = {"language": "hi", "language_probability": 0.93, "duration": 12.5, "model": "base",
       "language_candidates": {"hi": 0.93, "ur": 0.05},
       "segments": [
           {"id": 0, "start": 0.5, "end": 2.25, "text": "नमस्ते दोस्तों।", "language": "hi",
            "avg_logprob": -0.31, "no_speech_prob": 0.01, "compression_ratio": 1.1,
            "temperature": 0.0, "words": [
                {"start": 0.5, "end": 1.1, "word": " नमस्ते", "probability": 0.91},
                {"start": 1.2, "end": 2.25, "word": " दोस्तों।", "probability": 0.88}]}],
       "decode_passes": 1, "speech_regions": [[0.4, 2.35]],
       "language_shares": {"hi": 1.0}, "languages": ["hi"]}


def job_file(root: Path, folder: str, name: str, data: dict) -> Path:
    """``data`` written as a stage of job 'film-1' would have it: <job>/stages/<folder>/."""
    (root / "film-1").mkdir(exist_ok=True)
    (root / "film-1" / "job.json").write_text("{}", "utf-8")
    path = root / "film-1" / "stages" / folder / name
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    return path


def test_a_transcript_round_trips_with_the_fields_it_was_written_with(tmp_path):
    path = tmp_path / "segments.json"
    transcript.save(path, Transcript.model_validate({**ASR, "schema_version": SCHEMA_VERSION}))
    written = json.loads(path.read_text("utf-8"))
    assert next(iter(written)) == "schema_version" and written["schema_version"] == 2
    assert {k: v for k, v in written.items() if k != "schema_version"} == ASR  # no nulls added
    loaded = transcript.load_transcript(path)
    assert loaded.segments[0].words[1].word == " दोस्तों।"
    assert loaded.segments[0].lyrics is None and "lyrics" not in loaded.segments[0].to_json()
    assert loaded.speech_regions == [(0.4, 2.35)]


def test_a_field_a_stage_sets_is_written_and_a_line_keeps_its_shape(tmp_path):
    segment = Segment.model_validate(ASR["segments"][0])
    flagged = segment.model_copy(update={"lyrics": True, "song_score": 0.8})
    assert flagged.to_json() == {**ASR["segments"][0], "lyrics": True, "song_score": 0.8}
    line = Line(id=3, start=1.0, end=2.0, text="Hello", source_text="नमस्ते",
                confidence=None, origin="nmt")
    line.origin, line.untranslated_reason = "untranslated", "unchanged"
    path = tmp_path / "segments.json"
    transcript.save(path, Translation(language="en", engine="nllb", segments=[line]))
    row = transcript.load_translation(path).segments[0]
    assert row.to_json() == {"id": 3, "start": 1.0, "end": 2.0, "text": "Hello",
                             "source_text": "नमस्ते", "confidence": None,
                             "origin": "untranslated", "untranslated_reason": "unchanged"}
    # what a cue reads from either kind
    assert (row.words, row.language) == ((), None)
    assert (segment.origin, segment.source_text) == (None, None)


@pytest.mark.parametrize(("folder", "stage"), [("04_asr", "asr"), ("05_alignment", "alignment"),
                                               ("07_translation_hi", "translation"),
                                               ("08_translation_llm_hi", "translation_llm")])
def test_a_file_without_a_schema_version_names_the_stage_to_re_run(tmp_path, folder, stage):
    kind = "translation" in folder
    data = {"language": "hi", "engine": "nllb", "segments": []} if kind else ASR
    path = job_file(tmp_path, folder, "segments.json", data)
    with pytest.raises(InputError) as raised:
        (transcript.load_translation if kind else transcript.load_transcript)(path)
    assert f"re-run stage {stage}" in raised.value.message
    assert "older version of the pipeline (schema 1; this version reads 2)" in \
        raised.value.message
    assert raised.value.fix == f"./run-pipeline.sh -j film-1 --force {stage}"
    assert raised.value.exit_code == 2


def test_a_newer_schema_is_refused_too(tmp_path):
    path = job_file(tmp_path, "05_alignment", "aligned.json", {**ASR, "schema_version": 9})
    with pytest.raises(InputError, match="another version of the pipeline .schema 9"):
        transcript.load_transcript(path)


def test_an_unknown_field_is_refused_naming_where_it_is(tmp_path):
    """The unknown field policy: refused (extra="forbid"), at any depth, with its place."""
    segments = [{**ASR["segments"][0], "speaker": "A"}]
    path = job_file(tmp_path, "04_asr", "segments.json",
                    {**ASR, "schema_version": SCHEMA_VERSION, "segments": segments})
    with pytest.raises(InputError) as raised:
        transcript.load_transcript(path)
    assert "segments.0.speaker: Extra inputs are not permitted" in raised.value.message
    assert raised.value.fix == "./run-pipeline.sh -j film-1 --force asr"
    with pytest.raises(Exception, match="Extra inputs"):
        Line(id=1, start=0.0, end=1.0, text="x", speaker="A")


def test_a_broken_file_and_a_file_outside_a_job_say_what_to_do(tmp_path):
    broken = job_file(tmp_path, "06_songs", "segments.json", {})
    broken.write_text('{"schema_version": 2, "segments": [', "utf-8")
    with pytest.raises(InputError, match="cannot be read .* re-run stage songs"):
        transcript.load_transcript(broken)
    loose = tmp_path / "aligned.json"
    loose.write_text(json.dumps({"segments": []}), "utf-8")
    with pytest.raises(InputError, match="re-run the stage that wrote it") as raised:
        transcript.load_transcript(loose)
    assert raised.value.fix == "./run-pipeline.sh -j JOB_ID --force STAGE"


def test_load_any_tells_a_translation_from_a_transcript(tmp_path):
    source, target = tmp_path / "aligned.json", tmp_path / "segments.json"
    transcript.save(source, Transcript.model_validate(ASR))
    transcript.save(target, Translation(language="en", engine="llm", segments=[]))
    assert isinstance(transcript.load_any(source), Transcript)
    assert isinstance(transcript.load_any(target), Translation)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"schema_version": SCHEMA_VERSION, "segments": [{"end": 1}]}))
    with pytest.raises(InputError, match=r"not a valid transcript: segments.0.start: Field "):
        transcript.load_any(broken)
