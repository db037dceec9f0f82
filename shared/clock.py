"""How a message names a moment of a film: 2:47, or 1:02:47 past the first hour."""

from __future__ import annotations


def short_clock(seconds: float) -> str:
    """2:47, or 1:02:47 past an hour (whole seconds, rounded down)."""
    minutes, secs = divmod(int(max(seconds, 0.0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
