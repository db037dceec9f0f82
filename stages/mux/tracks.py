"""The subtitle tracks to mux: one tracks.json per subtitles stage instance, in workflow order
(the source language first, then the targets), and which of them is the default."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

TRACKS_PREFIX = "tracks"


class Track(BaseModel):
    """One language's subtitle files, as the subtitles stage describes them."""

    model_config = ConfigDict(extra="ignore")

    language: str  # ISO 639-1 (or the code the job uses): hi, en, gu
    iso639_2: str  # the container's language tag: hin, eng, guj
    name: str  # the track title: Hindi
    files: dict[str, Path] = Field(default_factory=dict)  # format (srt/vtt/ass) -> file
    cues: int | None = None  # how many cues the files hold, when the subtitles stage says

    def matches(self, code: str) -> bool:
        code = code.strip().lower()
        return code in (self.language.lower(), self.iso639_2.lower())

    def file(self, formats: tuple[str, ...]) -> tuple[str, Path] | None:
        """The first of ``formats`` this track has a file for."""
        for fmt in formats:
            if fmt in self.files:
                return fmt, self.files[fmt]
        return None


def track_keys(inputs: dict[str, Path]) -> list[str]:
    """The tracks inputs in the order the runner gives them: ``tracks`` or ``tracks:<lang>``."""
    return [key for key in inputs
            if key == TRACKS_PREFIX or key.startswith(TRACKS_PREFIX + ":")]


def load_tracks(inputs: dict[str, Path], job_dir: Path) -> list[Track]:
    """Read every tracks.json; subtitle paths become absolute (they are relative to the job
    folder) and must exist."""
    tracks: list[Track] = []
    for key in track_keys(inputs):
        path = Path(inputs[key])
        try:
            track = Track.model_validate(json.loads(path.read_text("utf-8")))
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read the subtitle track list {path} ({e})",
                             fix="re-run the subtitles stage: run-pipeline.sh -j <job> "
                                 "--from subtitles") from e
        files = {fmt: (job_dir / file if not Path(file).is_absolute() else Path(file))
                 for fmt, file in track.files.items()}
        missing = [str(f) for f in files.values() if not f.is_file()]
        if missing:
            raise InputError(f"subtitle file(s) listed in {path} are missing: "
                             + ", ".join(missing),
                             fix="re-run the subtitles stage: run-pipeline.sh -j <job> "
                                 "--from subtitles")
        if any(t.matches(track.language) for t in tracks):
            continue  # one track per language (a workflow lists each language once)
        if track.cues == 0:
            logger.warning("the %s subtitles have no cues: muxed as an empty track", track.name)
        tracks.append(track.model_copy(update={"files": files}))
    return tracks


def find_track(tracks: list[Track], code: str, option: str) -> int:
    """Index of the track in language ``code``; a ConfigError naming the choices if none."""
    for index, track in enumerate(tracks):
        if track.matches(code):
            return index
    choices = ", ".join(t.language for t in tracks) or "none"
    raise ConfigError(f"mux.{option}={code!r}: the job has no subtitle track in that "
                      f"language (it has: {choices})",
                      fix=f"prepare-job.sh ... --set mux.{option}=<one of: {choices}>")


def default_track(tracks: list[Track], default_language: str | None) -> int:
    """The track marked default: the one asked for, else the first target language (the
    second track), else the source."""
    if default_language:
        return find_track(tracks, default_language, "default_language")
    return 1 if len(tracks) > 1 else 0
