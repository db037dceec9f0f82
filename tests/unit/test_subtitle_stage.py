"""The subtitles stage for one job (stages/subtitles/run.py): deliverables, qc.json and
tracks.json for the source language and for a translated target, and its contract."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from shared import subtitle_text
from shared.stage import StageRequest
from shared.transcript import SCHEMA_VERSION
from stages.subtitles import SPEC, SubtitleParams, formats, resolve
from stages.subtitles.run import process


def request(job: Path, lang: str, segments: dict, media_info: dict, **params) -> StageRequest:
    stage_dir = job / "stages" / f"09_subtitles_{lang}"
    stage_dir.mkdir(parents=True)
    (stage_dir / "in.json").write_text(json.dumps(
        {"schema_version": SCHEMA_VERSION, **segments}, ensure_ascii=False), "utf-8")
    (stage_dir / "media.json").write_text(json.dumps(media_info), "utf-8")
    return StageRequest(job_id="j1", job_dir=job, stage="subtitles", key=f"subtitles:{lang}",
                        lang=lang, stage_dir=stage_dir, deliverables_dir=job / "subtitles",
                        title="My: Film", media=job / "film.mp4", params=params,
                        inputs={"segments": stage_dir / "in.json",
                                "media_info": stage_dir / "media.json"})


def words(text: str, start: float, step: float = 0.4) -> list[dict]:
    return [{"word": " " + w, "start": round(start + i * step, 3),
             "end": round(start + i * step + step * 0.8, 3)} for i, w in enumerate(text.split())]


HINDI = [("नमस्ते दोस्तों, आज हम एक नई फ़िल्म के बारे में बात करेंगे।", 1.0),
         ("यह फ़िल्म मुंबई में बनी है और इसमें बहुत सारे गाने हैं।", 6.0)]


def test_source_language_writes_every_format_the_transcript_qc_and_tracks(tmp_path):
    segs = [{"start": s, "end": s + 0.4 * len(t.split()), "text": t, "words": words(t, s)}
            for t, s in HINDI]
    segs[1]["lyrics"] = True
    req = request(tmp_path, "source", {"language": "hi", "segments": segs},
                  {"video_fps": 25.0, "variable_frame_rate": True, "timeline_offset": 100.0})
    outcome = process(req, None)
    names = sorted(p.name for p in outcome.outputs)
    assert names == ["My_ Film.hi.ass", "My_ Film.hi.json", "My_ Film.hi.srt",
                     "My_ Film.hi.txt", "My_ Film.hi.vtt", "qc.json", "tracks.json"]
    tracks = json.loads((req.stage_dir / "tracks.json").read_text("utf-8"))
    assert tracks["language"] == "hi" and tracks["iso639_2"] == "hin"
    assert tracks["name"] == "Hindi"
    assert tracks["files"] == {fmt: f"subtitles/My_ Film.hi.{fmt}" for fmt in formats.FORMATS}
    qc = json.loads((req.stage_dir / "qc.json").read_text("utf-8"))
    assert qc["frame_rate"] == 25.0 and qc["profile"]["max_cps"] == 22.0
    assert any("variable frame rate" in note for note in qc["input"]["notes"])
    assert set(qc["rules"]) == {"max_lines", "max_chars_per_line", "max_cps", "min_duration",
                                "max_duration", "min_gap"}
    srt = subtitle_text.read(tmp_path / "subtitles" / "My_ Film.hi.srt")
    assert srt[0]["start"] == 101_000  # on the media's timeline
    assert [c["lyrics"] for c in srt][-1] is True
    said = " ".join(t for t, _ in HINDI).split()
    assert " ".join(" ".join(c["lines"]) for c in srt).split() == said
    transcript = json.loads((tmp_path / "subtitles" / "My_ Film.hi.json").read_text("utf-8"))
    assert transcript["segments"][0]["words"][0]["start"] == 101.0


def test_target_language_keeps_segment_times_and_writes_a_bilingual_variant(tmp_path):
    translated = {"language": "en", "source_language": "hi", "engine": "nllb", "segments": [
        {"id": 0, "start": 1.0, "end": 5.0, "source_text": HINDI[0][0], "origin": "nmt",
         "text": "Hello friends, today we will talk about a new film."},
        {"id": 1, "start": 6.0, "end": 14.0, "source_text": HINDI[1][0], "origin": "llm",
         "text": "This film was made in Mumbai, and it has a great many songs that the "
                 "whole country has been singing for months."},
        {"id": 2, "start": 15.0, "end": 16.0, "source_text": "...", "origin": "empty",
         "text": ""}]}
    req = request(tmp_path, "en", translated, {"video_fps": None}, bilingual=True,
                  formats=["srt", "ass"], max_cps=25)
    outcome = process(req, None)
    names = sorted(p.name for p in outcome.outputs)
    assert names == ["My_ Film.en.ass", "My_ Film.en.bilingual.ass", "My_ Film.en.bilingual.srt",
                     "My_ Film.en.srt", "qc.json", "tracks.json"]  # no transcript for targets
    cues = subtitle_text.read(tmp_path / "subtitles" / "My_ Film.en.srt")
    assert cues[0]["start"] == 1000 and cues[0]["lines"] == [
        "Hello friends,", "today we will talk about a new film."]
    assert [c["lines"][0] for c in cues[1:]] == [  # the 8-second segment split at its comma
        "This film was made in Mumbai,", "and it has a great many songs that the"]
    assert all(6000 <= c["start"] and c["end"] <= 14500 for c in cues[1:])
    qc = json.loads((req.stage_dir / "qc.json").read_text("utf-8"))
    assert qc["profile"]["max_cps"] == 25  # --set subtitles.max_cps=25
    assert qc["frame_rate"] == 24.0 and qc["input"]["dropped_empty_cues"] == 1
    tracks = json.loads((req.stage_dir / "tracks.json").read_text("utf-8"))
    assert tracks["iso639_2"] == "eng" and set(tracks["files"]) == {"srt", "ass"}
    assert tracks["bilingual"]["srt"] == "subtitles/My_ Film.en.bilingual.srt"
    both = (tmp_path / "subtitles" / "My_ Film.en.bilingual.srt").read_text("utf-8")
    assert "नमस्ते दोस्तों," in both.split("Hello")[0]  # the source above the translation


def test_contract_and_resolve_record_the_style_sections():
    assert SPEC.outputs == ("tracks.json", "qc.json")
    assert SPEC.inputs["segments"][:2] == ("translation_llm:segments.json",
                                           "translation:segments.json")
    ctx = SimpleNamespace(lang="source", job=SimpleNamespace(source_lang="hi"))
    params = resolve(SubtitleParams(), ctx)
    assert params.max_cps == 22 and params.max_chars_per_line == 42 and not params.style_table
    auto = resolve(SubtitleParams(), SimpleNamespace(lang="source",
                                                     job=SimpleNamespace(source_lang="auto")))
    assert auto.max_cps is None and {"default", "hi", "en"} <= set(auto.style_table)
    target = resolve(SubtitleParams(max_cps=17), SimpleNamespace(
        lang="en", job=SimpleNamespace(source_lang="hi")))
    assert target.max_cps == 17 and target.max_lines == 2
    styled = resolve(SubtitleParams(style="ja"), ctx)
    assert styled.max_chars_per_line == 16


def test_a_mixed_language_source_is_named_after_its_dominant_language_and_lists_every_one(
        tmp_path):
    english = "And so my fellow Americans, ask not what your country can do."
    spanish = "Hola amigos."
    segs = [{"start": 0.0, "end": 4.8, "text": english, "words": words(english, 0.0),
             "language": "en"},
            {"start": 4.9, "end": 5.7, "text": spanish, "words": words(spanish, 4.9),
             "language": "es"}]
    # asr detected Spanish (it heard it first), but the track holds more English speech
    req = request(tmp_path, "source", {"language": "es", "segments": segs}, {"video_fps": 25.0})
    outcome = process(req, None)
    assert outcome.info["language"] == "en" and outcome.info["languages"] == {"en": 0.8571,
                                                                             "es": 0.1429}
    assert sorted(p.name for p in (tmp_path / "subtitles").glob("*.srt")) == ["My_ Film.en.srt"]
    tracks = json.loads((req.stage_dir / "tracks.json").read_text("utf-8"))
    assert tracks["language"] == "en" and tracks["languages"] == [
        {"language": "en", "iso639_2": "eng", "name": "English", "share": 0.8571},
        {"language": "es", "iso639_2": "spa", "name": "Spanish", "share": 0.1429}]
    transcript = json.loads((tmp_path / "subtitles" / "My_ Film.en.json").read_text("utf-8"))
    cues = transcript["cues"]
    # the short Spanish cue is not merged into its English neighbour
    assert [c["language"] for c in cues][-1] == "es" and cues[-1]["text"] == spanish
    assert {c["language"] for c in cues[:-1]} == {"en"}
    qc = json.loads((req.stage_dir / "qc.json").read_text("utf-8"))
    assert qc["language"] == "en"
    assert qc["languages"] == [
        {"language": "en", "share": 0.8571, "cues": len(cues) - 1,
         "cue_ranges": [[1, len(cues) - 1]]},
        {"language": "es", "share": 0.1429, "cues": 1, "cue_ranges": [[len(cues), len(cues)]]}]


def test_untranslated_lines_are_marked_per_cue_in_qc_json(tmp_path):
    """Lines the translation left in the source language (allowed by
    translation.allow_untranslated) are shown, and qc.json marks each of their cues; a short
    translated cue next to one is not merged into it."""
    translated = {"language": "en", "source_language": "hi", "engine": "llm", "segments": [
        {"id": 0, "start": 1.0, "end": 5.0, "source_text": HINDI[0][0], "origin": "llm",
         "text": "Hello friends, today we will talk about a new film."},
        {"id": 1, "start": 6.0, "end": 9.0, "source_text": "यह फ़िल्म मुंबई में बनी है।",
         "origin": "untranslated", "text": "यह फ़िल्म मुंबई में बनी है।"},
        {"id": 2, "start": 9.1, "end": 9.6, "source_text": "चलो", "origin": "llm",
         "text": "Let's go."},
        {"id": 3, "start": 12.0, "end": 14.0, "source_text": "घर चलते हैं, दोस्तों।",
         "origin": "untranslated", "text": "घर चलते हैं, दोस्तों।"}]}
    req = request(tmp_path, "en", translated, {"video_fps": None}, formats=["srt"])
    outcome = process(req, None)
    qc = json.loads((req.stage_dir / "qc.json").read_text("utf-8"))
    cues = subtitle_text.read(tmp_path / "subtitles" / "My_ Film.en.srt")
    marked = qc["untranslated"]["cues"]
    assert qc["untranslated"]["count"] == len(marked) == 2 and qc["ok"] is False
    assert all(c["untranslated"] for c in marked)
    # the marked cues are exactly the ones showing the source text
    assert [" ".join(cues[c["cue"] - 1]["lines"]) for c in marked] == [
        "यह फ़िल्म मुंबई में बनी है।", "घर चलते हैं, दोस्तों।"]
    assert ["Let's go." in " ".join(c["lines"]) for c in cues].count(True) == 1
    assert "Let's go." not in " ".join(cues[marked[0]["cue"] - 1]["lines"])
    assert marked[0]["start"] == "00:00:06.000"
    assert outcome.info["untranslated"] == 2


def test_a_target_track_flags_every_cue_translating_doubtful_source_text(tmp_path):
    """asr's check left 6.2-7.0 s doubtful (detected fr, decoded as hi): on the source track
    only the cue over those 0.8 s would be flagged; the English line translating the segment
    (6-14 s) is one translation of doubtful text, so each of its cues is flagged in the target
    track's qc.json (the report's only-flagged filter reads it), and the line before is not.
    The source track degrades the job; the target track only flags."""
    from shared.report.timeline import qc_flags

    translated = {"language": "en", "source_language": "hi", "engine": "nllb", "segments": [
        {"id": 0, "start": 1.0, "end": 5.0, "source_text": HINDI[0][0], "origin": "nmt",
         "text": "Hello friends, today we will talk about a new film."},
        {"id": 1, "start": 6.0, "end": 14.0, "source_text": HINDI[1][0], "origin": "nmt",
         "text": "This film was made in Mumbai, and it has a great many songs that the "
                 "whole country has been singing for months."}]}
    source = tmp_path / "aligned.json"
    source.write_text(json.dumps({
        "schema_version": SCHEMA_VERSION, "language": "hi",
        "language_detection": {"rechecks": [
            {"start": 6.2, "end": 7.0, "decoded_as": "hi", "detected": "fr",
             "probability": 0.86, "outcome": "doubtful"},
            {"start": 1.0, "end": 5.0, "decoded_as": "hi", "detected": "hi",
             "probability": 0.9, "outcome": "same"}]},
        "segments": [{"start": s, "end": s + 4.0, "text": t} for t, s in HINDI]},
        ensure_ascii=False), "utf-8")
    req = request(tmp_path, "en", translated, {"video_fps": None})
    outcome = process(req, None)
    cues = subtitle_text.read(tmp_path / "subtitles" / "My_ Film.en.srt")
    line_1 = [n for n, c in enumerate(cues, start=1) if c["start"] >= 6000]
    assert len(line_1) >= 2 and cues[line_1[-1] - 1]["start"] > 7000  # a cue after the span
    qc = json.loads((req.stage_dir / "qc.json").read_text("utf-8"))
    assert qc["doubtful_language"]["count"] == 0  # no source transcript: nothing to carry

    req.inputs["source"] = source
    outcome = process(req, None)
    qc = json.loads((req.stage_dir / "qc.json").read_text("utf-8"))
    found = qc["doubtful_language"]
    assert [row["cue"] for row in found["cues"]] == line_1 and not qc["ok"]
    assert {row["detected"] for row in found["cues"]} == {"fr"}
    assert found["spans"][0]["start"] == "00:00:06.200"  # the region as asr recorded it
    assert {n for n, kinds in qc_flags(qc).items() if "doubtful_language" in kinds} == \
        set(line_1)
    assert outcome.degraded == []  # the source track names the span
