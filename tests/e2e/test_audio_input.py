"""Audio that needs care before ASR: one speaker per stereo channel, a corrupt frame in the
middle of a file, speech surrounded by long silences (VAD feeds ASR), synthetic Hindi."""

from __future__ import annotations

import json

import pysubs2
import pytest

from tests.helpers import (
    JFK_TEXT,
    cer,
    concat_audio,
    espeak,
    ffmpeg,
    make_silence,
    prepare,
    run_pipeline,
    run_script,
    srt_text,
    wer,
)

pytestmark = pytest.mark.e2e

LEFT = ("He began a confused complaint against the wizard, who had vanished behind the "
        "curtain on the left.")
RIGHT = "The horizon seems extremely distant."


@pytest.mark.parametrize("channel, reference", [("left", LEFT), ("right", RIGHT)])
def test_each_stereo_channel_is_transcribed_on_its_own(test_cache, speech, jobs_root, channel,
                                                       reference):
    job_id = prepare("--media", str(speech / "stereo_diarization.wav"), "-s", "en",
                     "--set", f"demux.channel={channel}", out=jobs_root)
    run_pipeline(job_id, out=jobs_root)
    text = srt_text(jobs_root / job_id / "subtitles" / "stereo_diarization.en.srt")
    assert wer(reference, text) <= 0.15, text


def test_corrupt_frame_mid_file_is_reported_with_its_time(test_cache, speech, jobs_root,
                                                          tmp_path):
    mp3 = tmp_path / "jfk.mp3"
    ffmpeg("-i", str(speech / "jfk.flac"), "-c:a", "libmp3lame", "-b:a", "64k", str(mp3))
    data = bytearray(mp3.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 3000] = bytes(0xFF if i % 7 else 0 for i in range(3000))
    corrupt = tmp_path / "jfk corrupt.mp3"
    corrupt.write_bytes(bytes(data))
    job_id = prepare("--media", str(corrupt), "-s", "en", out=jobs_root)
    proc = run_pipeline(job_id, out=jobs_root)
    assert "warning: ffmpeg could not decode" in proc.stdout
    info = json.loads((jobs_root / job_id / "stages" / "01_demux" / "media_info.json")
                      .read_text())
    errors = info["decode_errors"]
    assert errors["count"] >= 1 and 3.0 < errors["at"][0]["time"] < 8.0  # mid-file, not 0
    assert "00:00:0" in (jobs_root / job_id / "logs" / "demux.log").read_text()
    assert wer(JFK_TEXT, srt_text(jobs_root / job_id / "subtitles" / "jfk corrupt.en.srt")) \
        <= 0.3  # the rest of the speech is there


@pytest.mark.parametrize("vad", ["silero", "pyannote"])
def test_asr_fed_by_vad_writes_no_text_in_silence(test_cache, speech, jobs_root, tmp_path,
                                                  vad):
    silence = make_silence(tmp_path / "silence.wav", 5.0)
    padded = concat_audio([silence, speech / "jfk.flac", silence], tmp_path / "padded.wav")
    job_id = prepare("--media", str(padded), "-s", "en", "--vad", vad, out=jobs_root)
    run_pipeline(job_id, out=jobs_root)
    job_dir = jobs_root / job_id
    subs = pysubs2.load(str(job_dir / "subtitles" / "padded.en.srt"))
    assert subs and all(4.7 <= e.start / 1000 and e.end / 1000 <= 16.3 for e in subs)
    assert wer(JFK_TEXT, srt_text(job_dir / "subtitles" / "padded.en.srt")) <= 0.10
    asr = json.loads(next(job_dir.glob("stages/*_asr/segments.json")).read_text())
    assert asr["speech_chunks"] == 1  # one chunk decoded; the 10 s of silence never were
    venv = {"silero": "whisperx", "pyannote": "pyannote"}[vad]  # vad's venv follows its backend
    assert json.loads((job_dir / "lock.json").read_text())["stages"]["vad"]["env"] == venv
    assert f"(venv {venv})" in (job_dir / "logs" / "vad.log").read_text()


HINDI = "नमस्ते दोस्तों। आज हम एक फिल्म देखने जा रहे हैं। यह फिल्म बहुत अच्छी है।"


def test_synthetic_hindi_is_written_in_devanagari_or_the_job_says_it_is_not(
        test_cache, jobs_root, tmp_path, record_property):
    """espeak-ng Hindi is beyond the embedded base model: it gives Hindi ~2% probability and
    detects Latin, Japanese or Latvian, so detection is recorded, not asserted (a larger model
    is needed for that); told the language, it often writes Hindi in Urdu's Arabic script.
    Asserted: a Hindi job yields Hindi or Urdu-script text, and it ends ok only when that
    text is Devanagari: otherwise degraded (exit 3), naming the reason; a detection restricted
    with asr.language_candidates picks one of the candidates."""
    wav = espeak(HINDI, tmp_path / "hindi.wav", voice="hi")
    forced = prepare("--media", str(wav), "-s", "hi", out=jobs_root)
    proc = run_pipeline(forced, out=jobs_root, check=False)
    text = (jobs_root / forced / "subtitles" / "hindi.hi.txt").read_text("utf-8")
    letters = [ch for ch in text if ch.isalpha()]
    deva = [ch for ch in letters if "\u0900" <= ch <= "\u097f"]
    indic = deva + [ch for ch in letters if "\u0600" <= ch <= "\u06ff"]
    assert letters and len(indic) / len(letters) > 0.8, text
    record_property("hindi_devanagari_share", round(len(deva) / len(letters), 3))
    if len(deva) / len(letters) >= 0.5:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    else:
        assert proc.returncode == 3, proc.stdout + proc.stderr
        assert "transcript is written in Arabic script" in proc.stdout, proc.stdout
    record_property("hindi_cer", round(cer(HINDI, text), 3))
    for candidates in (None, '["hi", "en"]'):
        extra = ["--set", f"asr.language_candidates={candidates}"] if candidates else []
        auto = prepare("--media", str(wav), "-s", "auto", *extra, out=jobs_root)
        run_pipeline(auto, "--to", "asr", out=jobs_root)
        detected = json.loads(next((jobs_root / auto).glob("stages/*_asr/segments.json"))
                              .read_text())
        if candidates is None:
            record_property("hindi_detected_unrestricted", detected["language"])
            record_property("hindi_candidates", json.dumps(detected["language_candidates"]))
        else:
            record_property("hindi_detected_among_hi_en", detected["language"])
            assert detected["language"] in ("hi", "en")
            assert set(detected["language_candidates"]) == {"hi", "en"}
            assert sum(detected["language_candidates"].values()) == pytest.approx(1, abs=1e-3)


def test_audio_track_chosen_by_the_spoken_language(test_cache, speech, jobs_root, tmp_path):
    """A film with a silent 'hin' track (the default) and JFK on an 'eng' track: -s en
    transcribes the eng track, -s auto the default, demux.audio_stream the one named; -s ta
    (no track is) and a track or tag the file lacks are refused at prepare, naming the
    tracks."""
    silence = make_silence(tmp_path / "quiet.wav", 11.0)
    film = tmp_path / "two tracks.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=11", "-i", str(silence),
           "-i", str(speech / "jfk.flac"), "-map", "0:v", "-map", "1:a", "-map", "2:a",
           "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
           "-metadata:s:a:0", "language=hin", "-metadata:s:a:1", "language=eng",
           "-disposition:a:0", "default", "-disposition:a:1", "0", str(film))

    def track(job_id: str) -> dict:
        run_pipeline(job_id, "--to", "demux", out=jobs_root)
        return json.loads((jobs_root / job_id / "stages" / "01_demux" / "media_info.json")
                          .read_text())["audio_stream"]

    assert track(prepare("--media", str(film), "-s", "auto", out=jobs_root))["language"] \
        == "hin"
    assert track(prepare("--media", str(film), "-s", "auto", "--set",
                         "demux.audio_stream=2", out=jobs_root))["language"] == "eng"
    english = prepare("--media", str(film), "-s", "en", out=jobs_root)
    run_pipeline(english, out=jobs_root)
    info = json.loads((jobs_root / english / "stages" / "01_demux" / "media_info.json")
                      .read_text())
    assert info["audio_streams"] == 2 and info["audio_stream"]["language"] == "eng"
    assert wer(JFK_TEXT, srt_text(jobs_root / english / "subtitles" / "two tracks.en.srt")) \
        <= 0.15
    jobs = set(jobs_root.iterdir())
    for args, said in ((["-s", "ta"], "the job says the speech is 'ta' but no audio track of "
                        "two tracks.mkv is tagged so"),
                       (["-s", "en", "--set", "demux.audio_stream=5"],
                        "two tracks.mkv has no audio stream 5"),
                       (["-s", "en", "--set", "demux.audio_language=tam"],
                        "no audio track of two tracks.mkv is tagged tam")):
        proc = run_script("prepare-job.sh", "--media", str(film), *args, "--out",
                          str(jobs_root))
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert said in proc.stderr and "its audio tracks: 1 hin (default), 2 eng" in \
            proc.stderr and "--set demux.audio_stream=INDEX" in proc.stderr, proc.stderr
    assert set(jobs_root.iterdir()) == jobs  # nothing prepared
