"""ffprobe facts the subtitle timing rules depend on: the frame rate, and whether it varies."""

from __future__ import annotations

from pathlib import Path

from shared.media import probe
from stages.subtitles.style import frame_rate
from tests.helpers import ffmpeg


def test_variable_frame_rate_is_detected_and_noted_for_qc(tmp_path: Path):
    constant, variable = tmp_path / "cfr.mp4", tmp_path / "vfr.mp4"
    source = ["-f", "lavfi", "-i", "testsrc=r=30:d=3:s=64x48"]
    ffmpeg(*source, "-c:v", "libx264", str(constant))
    # every frame for 1 s, then one frame in three: 30 fps base rate, ~17.9 fps on average
    ffmpeg(*source, "-vf", r"select='lt(t\,1)+not(mod(n\,3))'", "-fps_mode", "vfr",
           "-c:v", "libx264", str(variable))
    cfr, vfr = probe(constant), probe(variable)
    assert cfr.video_fps == 30 and not cfr.variable_frame_rate
    assert vfr.variable_frame_rate and 15 < vfr.video_fps < 21
    fps, notes = frame_rate({"video_fps": vfr.video_fps, "variable_frame_rate": True})
    assert fps == vfr.video_fps and "variable frame rate" in notes[0]
    assert frame_rate({"video_fps": None})[0] == 24  # audio only


def test_a_matroska_track_shorter_than_the_video_has_its_own_length(tmp_path: Path):
    """ffprobe gives Matroska streams no duration, only a DURATION tag: a dub that ends 2 s
    before the video is 1 s long, not the container's 3 s (demux would call it cut short)."""
    film = tmp_path / "short dub.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc=r=25:d=3:s=64x48", "-f", "lavfi", "-i",
           "sine=frequency=440:sample_rate=16000:duration=1", "-map", "0:v", "-map", "1:a",
           "-c:v", "libx264", "-c:a", "aac", str(film))
    info = probe(film)
    [track] = info.audio_streams
    assert 2.9 < info.duration < 3.2 and 0.9 < track.duration < 1.2
    late = tmp_path / "late dub.mkv"  # the tag is where the track ends: 1.5 s + 1 s
    ffmpeg("-i", str(film), "-itsoffset", "1.5", "-i", str(film), "-map", "0:v", "-map",
           "1:a", "-c", "copy", str(late))
    [track] = probe(late).audio_streams
    assert 1.4 < track.start_time < 1.6 and 0.9 < track.duration < 1.2, track
