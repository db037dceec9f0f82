"""Style profiles (config/subtitle_styles.toml): the timing and readability rules of one
language, and the frame rate the frame-based rules are measured in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.config_files import load_toml, validate
from shared.paths import CONFIG_DIR

STYLES_FILE = CONFIG_DIR / "subtitle_styles.toml"
DEFAULT = "default"
AUDIO_ONLY_FPS = 24.0


class StyleProfile(BaseModel):
    """One language's rules; every field documented in config/subtitle_styles.toml."""

    model_config = ConfigDict(extra="forbid")

    max_chars_per_line: int = Field(42, ge=4)
    max_lines: int = Field(2, ge=1, le=4)
    max_cps: float = Field(20.0, gt=0)
    min_duration: float = Field(5 / 6, ge=0)
    max_duration: float = Field(7.0, gt=0)
    min_gap_frames: int = Field(2, ge=0)
    close_gap_frames: int = Field(12, ge=0)
    linger_s: float = Field(0.5, ge=0)
    merge_below_s: float = Field(1.2, ge=0)


class StyleTable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    styles: dict[str, dict[str, Any]]


def load_sections(path: Path = STYLES_FILE) -> dict[str, dict[str, Any]]:
    """The file's sections, validated (every section must make a valid profile)."""
    table = validate(StyleTable, load_toml(path), path)
    for section in table.styles.values():
        validate(StyleProfile, {**table.styles.get(DEFAULT, {}), **section}, path)
    return table.styles


def sections_for(language: str | None, sections: dict[str, dict[str, Any]]
                 ) -> dict[str, dict[str, Any]]:
    """The sections that shape ``language``'s profile (all of them when it is not known yet)."""
    if language is None:
        return dict(sections)
    return {k: v for k, v in sections.items() if k in (DEFAULT, language)}


def profile_for(language: str, sections: dict[str, dict[str, Any]],
                overrides: dict[str, Any] | None = None) -> StyleProfile:
    """default section < the language's section < ``overrides`` (the job's --set values)."""
    merged = {**sections.get(DEFAULT, {}), **sections.get(language, {})}
    merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return StyleProfile.model_validate(merged)


def frame_rate(media_info: dict[str, Any]) -> tuple[float, list[str]]:
    """The frame rate the frame-based rules use, and notes for the QC report: a variable
    frame rate video uses its average rate; audio-only input uses 24 fps."""
    notes = []
    fps = media_info.get("video_fps")
    if not fps or fps <= 0:
        notes.append(f"no video frame rate (audio-only input): frames are counted at "
                     f"{AUDIO_ONLY_FPS:g} fps")
        return AUDIO_ONLY_FPS, notes
    if media_info.get("variable_frame_rate"):
        notes.append(f"variable frame rate video: frames are counted at the average rate, "
                     f"{fps:.3f} fps")
    return float(fps), notes
