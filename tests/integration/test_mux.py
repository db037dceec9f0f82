"""The mux stage on generated 4-second videos (testsrc + a sine tone, H.264/AAC) with Hindi
(Devanagari), English and Gujarati subtitles written here: the copy has every track with its
ISO 639-2 tag and title, exactly one default, the video and audio copied, and each track
extracts back to the same cues. Bad input: an AVI falls back to MKV, a user's file at the
output name is kept, audio-only input makes nothing and succeeds, and the original media is
never modified."""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from shared.errors import ConfigError
from shared.file_hashes import sha256_file
from shared.file_names import safe_title
from shared.stage import StageRequest
from stages.mux.run import AUDIO_ONLY, process
from tests.helpers import ROOT, ffmpeg, have, write_stage_request

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not have("ffmpeg") or not have("ffprobe"),
                                 reason="needs ffmpeg and ffprobe")]

SECONDS = 4.0
TITLE = "My Film: Part 1"
STEM = safe_title(TITLE)
TIMING_TOLERANCE_S = 0.05
DURATION_TOLERANCE_S = 0.1

# language -> (ISO 639-2, name, cues as (start, end, text))
LANGS = {
    "hi": ("hin", "Hindi", [(0.5, 1.8, "नमस्ते दुनिया"),
                            (2.0, 3.5, "यह एक परीक्षण है।\nक्षत्रिय ज्ञान श्री")]),
    "en": ("eng", "English", [(0.5, 1.8, "Hello world"),
                              (2.0, 3.5, "This is a test.\nTwo lines, one cue")]),
    "gu": ("guj", "Gujarati", [(0.5, 1.8, "નમસ્તે દુનિયા"), (2.0, 3.5, "આ એક પરીક્ષણ છે.")]),
}
# text the subtitles stage has already escaped: the mux must pass it through untouched
ODD_TEXT = r"a \{b\} &lt;c&gt; < d & {e}"


# -- media and subtitle files ------------------------------------------------------------
def _av_inputs() -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc=size=160x120:rate=25:duration={SECONDS}",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={SECONDS}"]


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    mp4 = folder / "film.mp4"
    ffmpeg(*_av_inputs(), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-b:a", "64k", str(mp4))
    old_srt = folder / "commentary.srt"
    old_srt.write_text(srt([(0.2, 1.0, "old commentary")]), "utf-8")
    mkv = folder / "film.mkv"  # with a subtitle stream of its own, marked default
    ffmpeg("-i", str(mp4), "-i", str(old_srt), "-map", "0", "-map", "1", "-c", "copy",
           "-metadata:s:s:0", "language=eng", "-metadata:s:s:0", "title=Commentary",
           "-disposition:s:0", "default", str(mkv))
    avi = folder / "film.avi"
    ffmpeg(*_av_inputs(), "-c:v", "mpeg4", "-q:v", "5", "-c:a", "libmp3lame", str(avi))
    webm = folder / "film.webm"
    ffmpeg(*_av_inputs(), "-c:v", "libvpx", "-deadline", "realtime", "-b:v", "200k",
           "-c:a", "libopus", str(webm))
    m4a = folder / "song.m4a"
    ffmpeg(*_av_inputs()[4:], "-c:a", "aac", "-b:a", "64k", str(m4a))
    return {"mp4": mp4, "mkv": mkv, "avi": avi, "webm": webm, "m4a": m4a}


def _clock(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


def srt(cues) -> str:
    return "".join(f"{n}\n{_clock(a, ',')} --> {_clock(b, ',')}\n{text}\n\n"
                   for n, (a, b, text) in enumerate(cues, 1))


def vtt(cues) -> str:
    return "WEBVTT\n\n" + "".join(f"{_clock(a, '.')} --> {_clock(b, '.')}\n{text}\n\n"
                                  for a, b, text in cues)


def ass(cues) -> str:
    import pysubs2

    subs = pysubs2.SSAFile()
    for a, b, text in cues:
        subs.append(pysubs2.SSAEvent(start=round(a * 1000), end=round(b * 1000),
                                     text=text.replace("\n", r"\N")))
    return subs.to_string("ass")


def make_request(root: Path, source: Path, langs=("hi", "en"), params=None,
                 has_video: bool = True, formats=("srt", "vtt", "ass"),
                 cues: dict | None = None) -> StageRequest:
    """A job folder with the files earlier stages would have left (media_info.json, the
    subtitle files, one tracks.json per language) and the mux stage's request.json."""
    job_dir = root / "job"
    stage_dir = job_dir / "stages" / "09_mux"
    demux_dir = job_dir / "stages" / "01_demux"
    for folder in (stage_dir, demux_dir, job_dir / "subtitles"):
        folder.mkdir(parents=True, exist_ok=True)
    (demux_dir / "media_info.json").write_text(json.dumps(
        {"source": str(source), "has_video": has_video, "media_duration": SECONDS}), "utf-8")
    inputs = {"media": source, "media_info": demux_dir / "media_info.json"}
    writers = {"srt": srt, "vtt": vtt, "ass": ass}
    for n, lang in enumerate(langs):
        iso, name, lang_cues = LANGS[lang]
        lang_cues = (cues or {}).get(lang, lang_cues)
        files = {}
        for fmt in formats:
            rel = f"subtitles/{STEM}.{lang}.{fmt}"
            (job_dir / rel).write_text(writers[fmt](lang_cues), "utf-8")
            files[fmt] = rel
        key = "source" if n == 0 else lang
        folder = job_dir / "stages" / f"0{5 + n}_subtitles_{key}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "tracks.json").write_text(json.dumps(
            {"language": lang, "iso639_2": iso, "name": name, "files": files},
            ensure_ascii=False), "utf-8")
        inputs[f"tracks:{key}"] = folder / "tracks.json"
    request = StageRequest(job_id="job", job_dir=job_dir, stage="mux", key="mux",
                           stage_dir=stage_dir, deliverables_dir=job_dir / "subtitles",
                           title=TITLE, media=source, params=params or {}, inputs=inputs)
    write_stage_request(request)
    return request


def run_stage(request: StageRequest) -> dict:
    """``python -m shared.stage_main stages.mux --job DIR``, as the runner starts it."""
    proc = subprocess.run(
        [str(ROOT / ".venvs" / "common" / "bin" / "python"), "-m", "shared.stage_main",
         "stages.mux", "--job", str(request.job_dir)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    result = json.loads((request.stage_dir / "result.json").read_text("utf-8"))
    assert proc.returncode == 0, proc.stderr
    return {**result, "log": proc.stderr}


# -- looking at the output -------------------------------------------------------------
def streams(path: Path) -> list[dict]:
    proc = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams",
                           str(path)], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)["streams"]


def subtitle_streams(path: Path) -> list[dict]:
    return [s for s in streams(path) if s["codec_type"] == "subtitle"]


def span(path: Path, selector: str) -> float:
    """Seconds from the first packet of a stream to the end of its last one."""
    proc = subprocess.run(["ffprobe", "-v", "error", "-select_streams", selector,
                           "-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0",
                           str(path)], capture_output=True, text=True, check=True)
    packets = [[float(x) for x in line.split(",")[:2]]
               for line in proc.stdout.splitlines() if line.strip()]
    return max(p + d for p, d in packets) - min(p for p, _ in packets)


def extract_cues(path: Path, index: int) -> list[tuple[float, float, str]]:
    """Subtitle stream ``index`` (among the subtitle streams) as SRT, parsed."""
    proc = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map",
                           f"0:s:{index}", "-f", "srt", "-"], capture_output=True, check=True)
    return parse_srt(proc.stdout.decode("utf-8"))


def extract_ass_cues(path: Path, index: int) -> list[tuple[float, float, str]]:
    """An ASS stream as it is stored (stream copy), parsed: its dialogue text and times."""
    import pysubs2

    proc = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map",
                           f"0:s:{index}", "-c:s", "copy", "-f", "ass", "-"],
                          capture_output=True, check=True)
    subs = pysubs2.SSAFile.from_string(proc.stdout.decode("utf-8"))
    return [(e.start / 1000, e.end / 1000, e.text.replace(r"\N", "\n")) for e in subs]


def parse_srt(text: str) -> list[tuple[float, float, str]]:
    cues = []
    for block in re.split(r"\n\s*\n", text.replace("\r", "").strip()):
        lines = block.split("\n")
        start, end = (_seconds(t) for t in lines[1].split(" --> "))
        cues.append((start, end, "\n".join(lines[2:])))
    return cues


def _seconds(clock: str) -> float:
    h, m, s = clock.strip().replace(",", ".").split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def assert_same_cues(got, expected, tolerance: float = TIMING_TOLERANCE_S) -> None:
    assert [text for _, _, text in got] == [text for _, _, text in expected]
    for (a, b, _), (x, y, _) in zip(got, expected, strict=True):
        assert abs(a - x) <= tolerance and abs(b - y) <= tolerance, (got, expected)


def assert_copied(source: Path, output: Path) -> None:
    """Video and audio streams are the source's, not re-encoded, and as long."""
    for kind, selector in (("video", "v:0"), ("audio", "a:0")):
        src = next(s for s in streams(source) if s["codec_type"] == kind)
        out = next(s for s in streams(output) if s["codec_type"] == kind)
        assert out["codec_name"] == src["codec_name"]
        for key in ("width", "height", "sample_rate", "channels", "profile"):
            assert out.get(key) == src.get(key), key
        assert abs(span(output, selector) - span(source, selector)) <= DURATION_TOLERANCE_S


def assert_tracks(output: Path, expected: list[tuple[str, str, str]], default: str,
                  title_tag: str = "title", first: int = 0) -> None:
    """Subtitle streams ``first``.. are (iso, title, codec) in order; only ``default`` is
    marked default among all subtitle streams."""
    subs = subtitle_streams(output)
    got = [(s["tags"].get("language"), s["tags"].get(title_tag), s["codec_name"])
           for s in subs[first:]]
    assert got == expected
    defaults = [s["tags"].get("language") for s in subs if s["disposition"]["default"]]
    assert defaults == [default]


# -- the tests ---------------------------------------------------------------------------
def test_mkv_through_the_stage_process(media, tmp_path):
    """MKV in, MKV out, run as the runner runs it: SRT tracks hin + eng after the input's
    own subtitle stream, English default, texts and times as written, input untouched."""
    before = sha256_file(media["mkv"])
    request = make_request(tmp_path, media["mkv"],
                           cues={"en": [*LANGS["en"][2], (3.6, 3.9, ODD_TEXT)]})
    result = run_stage(request)
    assert result["status"] == "ok", result
    output = request.job_dir / f"{STEM}.subtitled.mkv"
    assert result["outputs"] == [output.name]
    assert result["info"]["container"] == "mkv"
    assert result["info"]["tracks"] == [
        {"language": "hin", "title": "Hindi", "codec": "subrip", "default": False},
        {"language": "eng", "title": "English", "codec": "subrip", "default": True}]
    subs = subtitle_streams(output)
    assert subs[0]["tags"].get("title") == "Commentary"  # the input's own stream, kept
    assert_tracks(output, [("hin", "Hindi", "subrip"), ("eng", "English", "subrip")],
                  default="eng", first=1)
    assert_copied(media["mkv"], output)
    assert_same_cues(extract_cues(output, 1), LANGS["hi"][2])
    assert_same_cues(extract_cues(output, 2), [*LANGS["en"][2], (3.6, 3.9, ODD_TEXT)])
    assert sha256_file(media["mkv"]) == before
    assert not list(request.job_dir.glob("*.partial")) and not list(
        request.job_dir.glob(".*partial"))


def test_mp4_gets_mov_text_and_the_chosen_default(media, tmp_path):
    before = sha256_file(media["mp4"])
    en_cues = [*LANGS["en"][2], (3.6, 3.9, ODD_TEXT)]
    request = make_request(tmp_path, media["mp4"], langs=("hi", "en", "gu"),
                           params={"default_language": "guj"}, cues={"en": en_cues})
    outcome = process(request, None)
    output = request.job_dir / f"{STEM}.subtitled.mp4"
    assert outcome.outputs == [output]
    assert outcome.info["container"] == "mp4"
    # MP4 stores a track's title as its handler name
    assert_tracks(output, [("hin", "Hindi", "mov_text"), ("eng", "English", "mov_text"),
                           ("guj", "Gujarati", "mov_text")], default="guj",
                  title_tag="handler_name")
    assert_copied(media["mp4"], output)
    for index, cues in enumerate((LANGS["hi"][2], en_cues, LANGS["gu"][2])):
        assert_same_cues(extract_cues(output, index), cues, tolerance=0.002)
    assert sha256_file(media["mp4"]) == before


def test_source_only_is_default_and_ass_tracks(media, tmp_path):
    request = make_request(tmp_path, media["mp4"], langs=("hi",),
                           params={"container": "mkv", "mkv_subtitle_format": "ass"})
    outcome = process(request, None)
    output = request.job_dir / f"{STEM}.subtitled.mkv"
    assert outcome.outputs == [output]
    assert_tracks(output, [("hin", "Hindi", "ass")], default="hin")
    assert_copied(media["mp4"], output)
    assert_same_cues(extract_ass_cues(output, 0), LANGS["hi"][2])


def test_webm_gets_webvtt_or_falls_back_without_vtt(media, tmp_path, caplog):
    request = make_request(tmp_path / "a", media["webm"])
    outcome = process(request, None)
    assert outcome.outputs == [request.job_dir / f"{STEM}.subtitled.webm"]
    assert_tracks(outcome.outputs[0], [("hin", "Hindi", "webvtt"),
                                       ("eng", "English", "webvtt")], default="eng")
    assert_copied(media["webm"], outcome.outputs[0])
    assert_same_cues(extract_cues(outcome.outputs[0], 0), LANGS["hi"][2])

    request = make_request(tmp_path / "b", media["webm"], formats=("srt",))
    with caplog.at_level(logging.WARNING):
        outcome = process(request, None)
    assert outcome.outputs == [request.job_dir / f"{STEM}.subtitled.mkv"]
    assert "WebVTT" in outcome.info["fallback"] and "writing MKV" in caplog.text


def test_avi_falls_back_to_mkv_with_a_message(media, tmp_path, caplog):
    before = sha256_file(media["avi"])
    request = make_request(tmp_path, media["avi"])
    with caplog.at_level(logging.WARNING):
        outcome = process(request, None)
    output = request.job_dir / f"{STEM}.subtitled.mkv"
    assert outcome.outputs == [output]
    assert "cannot hold subtitle tracks: writing MKV" in caplog.text
    assert outcome.info["container"] == "mkv" and ".avi" in outcome.info["fallback"]
    assert_tracks(output, [("hin", "Hindi", "subrip"), ("eng", "English", "subrip")],
                  default="eng")
    assert_copied(media["avi"], output)
    assert sha256_file(media["avi"]) == before


def test_a_container_that_refuses_the_streams_falls_back_to_mkv(tmp_path, caplog):
    """MP4 asked for, but the input's PCM audio cannot go into MP4: MKV, with a message."""
    source = tmp_path / "pcm.avi"
    ffmpeg(*_av_inputs(), "-c:v", "mpeg4", "-c:a", "pcm_s16le", str(source))
    request = make_request(tmp_path, source, params={"container": "mp4"})
    with caplog.at_level(logging.WARNING):
        outcome = process(request, None)
    assert outcome.outputs == [request.job_dir / f"{STEM}.subtitled.mkv"]
    assert "MP4 could not take the streams" in caplog.text
    assert outcome.info["container"] == "mkv" and "pcm" in outcome.info["fallback"]
    assert_tracks(outcome.outputs[0], [("hin", "Hindi", "subrip"),
                                       ("eng", "English", "subrip")], default="eng")
    assert_copied(source, outcome.outputs[0])
    assert not list(request.job_dir.glob(".*partial"))


def test_a_users_file_at_the_output_name_is_never_overwritten(media, tmp_path):
    request = make_request(tmp_path, media["mp4"])
    mine = request.job_dir / f"{STEM}.subtitled.mp4"
    mine.write_bytes(b"the user's own cut")
    first = process(request, None).outputs[0]
    assert first.name == f"{STEM}.subtitled.1.mp4"
    assert mine.read_bytes() == b"the user's own cut"
    # a re-run replaces its own earlier output, and still leaves the user's file alone
    assert process(request, None).outputs[0] == first
    assert mine.read_bytes() == b"the user's own cut"
    assert not (request.job_dir / f"{STEM}.subtitled.2.mp4").exists()
    # the stage's file, once edited by the user, is theirs too
    with open(first, "ab") as handle:
        handle.write(b"edited")
    assert process(request, None).outputs[0].name == f"{STEM}.subtitled.2.mp4"
    assert first.read_bytes().endswith(b"edited")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_the_copy_is_readable_by_others_as_the_umask_allows(media, tmp_path):
    """ffmpeg's .partial file is renamed with the umask's mode, and a re-run that replaces
    the stage's own copy keeps the mode the user gave it."""
    request = make_request(tmp_path, media["mkv"])
    old = os.umask(0o027)
    try:
        output = process(request, None).outputs[0]
        assert stat.S_IMODE(output.stat().st_mode) == 0o640
        output.chmod(0o644)  # the user shares it with the media server
        assert process(request, None).outputs[0] == output
        assert stat.S_IMODE(output.stat().st_mode) == 0o644
    finally:
        os.umask(old)


def test_drop_existing_subtitles(media, tmp_path):
    request = make_request(tmp_path, media["mkv"], params={"keep_existing_subtitles": False})
    outcome = process(request, None)
    assert_tracks(outcome.outputs[0], [("hin", "Hindi", "subrip"),
                                       ("eng", "English", "subrip")], default="eng")
    assert outcome.info["kept_subtitle_streams"] == []


def test_audio_only_input_makes_nothing_and_succeeds(media, tmp_path):
    before = sha256_file(media["m4a"])
    request = make_request(tmp_path, media["m4a"], has_video=False)
    result = run_stage(request)
    assert result["status"] == "ok" and result["outputs"] == []
    assert AUDIO_ONLY in result["log"]
    assert not list(request.job_dir.glob("*.subtitled.*"))
    assert sha256_file(media["m4a"]) == before


def test_unknown_default_language_names_the_choices(media, tmp_path):
    request = make_request(tmp_path, media["mp4"], params={"default_language": "ta"})
    with pytest.raises(ConfigError, match="it has: hi, en"):
        process(request, None)
    assert not list(request.job_dir.glob("*.subtitled*"))


def _gray_frame(path: Path, at: float) -> bytes:
    return subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-ss", str(at), "-i",
                           str(path), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray",
                           "-"], capture_output=True, check=True).stdout


def _bottom_difference(a: bytes, b: bytes, width: int = 160, height: int = 120) -> float:
    start = width * (height * 2 // 3)
    return sum(abs(x - y) for x, y in zip(a[start:], b[start:], strict=True)) / (len(a) - start)


def test_burn_in_draws_the_text_and_keeps_the_soft_copy(media, tmp_path):
    """Burn English in, with a job folder and a fonts folder whose names need escaping in
    an ffmpeg filter graph."""
    fonts = tmp_path / "fonts: it's [a], b;c"
    fonts.mkdir()
    font = next(Path("/usr/share/fonts").rglob("DejaVuSans.ttf"), None)
    if font:
        (fonts / font.name).write_bytes(font.read_bytes())
    request = make_request(tmp_path / "it's: a [job], x", media["mp4"],
                           params={"burn_in": "en", "burn_in_preset": "ultrafast",
                                   "burn_in_fonts_dir": str(fonts)})
    outcome = process(request, None)
    soft, burned = outcome.outputs
    assert soft.name == f"{STEM}.subtitled.mp4"
    assert burned.name == f"{STEM}.burned-in.en.mp4"
    assert outcome.info["burned_in"]["language"] == "eng"
    video = next(s for s in streams(burned) if s["codec_type"] == "video")
    assert video["codec_name"] == "h264" and not subtitle_streams(burned)
    assert abs(span(burned, "v:0") - span(media["mp4"], "v:0")) <= DURATION_TOLERANCE_S
    # the text is drawn while a cue is on screen (bottom third differs), and not after; the
    # floor is 2, not 5: with the fonts Debian chromium pulls in, libass draws thinner text
    # (5.0 against 0.58 after the cue, measured)
    during = _bottom_difference(_gray_frame(media["mp4"], 1.0), _gray_frame(burned, 1.0))
    after = _bottom_difference(_gray_frame(media["mp4"], 3.8), _gray_frame(burned, 3.8))
    assert during > 3 * after and during > 2, (during, after)
    assert not (request.stage_dir / "burn-in").exists()


def test_filter_value_escapes_a_path_for_the_filter_graph(media, tmp_path):
    """A subtitle path with every character the filter graph treats specially is found by
    the subtitles filter once escaped (and a wrong one is not: the check is real)."""
    from stages.mux.burn import filter_value

    folder = tmp_path / "it's: a [x], y;z\\q"
    folder.mkdir()
    path = folder / "e n's.srt"
    path.write_text(srt(LANGS["en"][2]), "utf-8")

    def burn(candidate: Path) -> int:
        return subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(media["mp4"]),
                               "-vf", f"subtitles=filename={filter_value(str(candidate))}",
                               "-t", "0.5", "-f", "null", "-"], capture_output=True).returncode

    assert burn(path) == 0
    assert burn(folder / "missing.srt") != 0


# two strings of one script, the same number of letters, no two alike: boxes when no font
# covers the script (every letter the same box), different pictures when one does
SCRIPT_PAIRS = {"hi": ("कखगघङ", "चछजझञ"), "ta": ("கஙசஞட", "ணதநபம"),
                "te": ("కఖగఘఙ", "చఛజఝఞ")}
NO_FONT_PAIR = ("\U000f0000\U000f0001\U000f0002", "\U000f0003\U000f0004\U000f0005")


def _drawn_by_libass(folder: Path, text: str) -> bytes:
    """``text`` as one cue drawn by libass with the system's fonts (ffmpeg's subtitles filter,
    what burn-in runs) on a black frame: its grey pixels."""
    (folder / "cue.srt").write_text(srt([(0.0, 2.0, text)]), "utf-8")
    return subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                           "color=black:size=320x120:duration=1", "-vf", "subtitles=cue.srt",
                           "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                          cwd=folder, capture_output=True, check=True).stdout


@pytest.mark.parametrize("lang", sorted(SCRIPT_PAIRS))
def test_an_indian_script_burns_in_as_letters_not_boxes(lang, tmp_path):
    """A font covers the script (bootstrap installs Debian's fonts-lohit-*): two different
    words draw two different pictures, where two words of a script no font covers (Unicode's
    private use plane: the control) draw the same row of boxes."""
    from shared import system_tools

    assert system_tools.find(f"font:{lang}"), (
        f"no font covers {lang}: {system_tools.install_command([f'font:{lang}'])}")
    boxes = [_drawn_by_libass(tmp_path, text) for text in NO_FONT_PAIR]
    assert boxes[0] == boxes[1] and any(boxes[0]), "the control drew no boxes"
    letters = [_drawn_by_libass(tmp_path, text) for text in SCRIPT_PAIRS[lang]]
    assert all(any(picture) for picture in letters)
    assert letters[0] != letters[1], f"libass drew {lang} as boxes"
