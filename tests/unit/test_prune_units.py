"""What --prune counts as an intermediate, and how lock.json remembers a pruned output."""

from __future__ import annotations

from shared import lockfile
from shared.prune import is_intermediate


def output(path: str) -> lockfile.OutputRecord:
    return lockfile.OutputRecord(path=path, sha256="ab" * 32, size=10)


def test_intermediates_are_the_audio_and_streamed_segments_in_stage_folders():
    chosen = {p for p in ("stages/01_demux/audio_16k.wav", "stages/01_demux/audio_44k.wav",
                          "stages/02_source_separation/vocals.wav",
                          "stages/04_asr/segments.jsonl", "stages/04_asr/segments.json",
                          "stages/01_demux/media_info.json", "subtitles/film.en.srt",
                          "subtitles/film.en.json", "film.subtitled.mkv")
              if is_intermediate(output(p))}
    assert chosen == {"stages/01_demux/audio_16k.wav", "stages/01_demux/audio_44k.wav",
                      "stages/02_source_separation/vocals.wav", "stages/04_asr/segments.jsonl"}


def test_a_pruned_output_keeps_its_record_and_hash(tmp_path):
    audio, info = output("stages/01_demux/audio_16k.wav"), output("stages/01_demux/info.json")
    lockfile.record(tmp_path, lockfile.StageRecord(
        key="demux", stage="demux", env="common", fingerprint="f", components={},
        outputs=[audio, info], started_at="", finished_at="", duration_s=1.0))
    lockfile.mark_pruned(tmp_path, {audio.path})
    outputs = lockfile.load(tmp_path).stages["demux"].outputs
    assert [(o.path, o.sha256, o.pruned) for o in outputs] == [
        (audio.path, audio.sha256, True), (info.path, info.sha256, False)]
    assert list(lockfile.pruned_outputs(tmp_path)) == [(tmp_path / audio.path).resolve()]
