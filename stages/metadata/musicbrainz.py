"""MusicBrainz: the film's soundtrack release with its tracks, through musicbrainzngs.

musicbrainzngs needs a descriptive user agent (set here) and keeps to one request per second
(its default, kept). Its own retry loop (up to 8 tries, 2 s more each time) and its unbounded
socket wait are bounded for the stage's calls by ``max_retries``, ``max_retry_wait_s`` and
``timeout_s``. Cache (the musicbrainz application cache): ``search/<sha256 of title, year>``
-> the chosen release id, ``release/<mbid>.json`` -> the release with its recordings.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass, field

from stages.metadata.cache import JsonCache, query_key
from stages.metadata.films import same_title, year_of

logger = logging.getLogger(__name__)

APP = "subtitle-pipeline"
# MusicBrainz asks for a way to reach the application's user or maintainer in the user agent:
# --set metadata.musicbrainz_contact=you@example.org (none is sent by default)
CONTACT = None
DEFAULT_HOST = "musicbrainz.org"
BASE_URL_ENV = "MUSICBRAINZ_BASE_URL"
SEARCH_LIMIT = 10


@dataclass
class SoundtrackAnswer:
    found: bool = False
    source: str = "none"  # "musicbrainz" | "cache" | "none"
    release_id: str | None = None
    title: str | None = None
    date: str | None = None
    artist: str | None = None
    tracks: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"found": self.found, "source": self.source, "release_id": self.release_id,
                "title": self.title, "date": self.date, "artist": self.artist,
                "tracks": self.tracks}


def host_of(params) -> tuple[str, bool]:
    """(host[:port], use https) from the param, $MUSICBRAINZ_BASE_URL or the default;
    "127.0.0.1:8080" and "http://..." mean plain HTTP."""
    value = (params.musicbrainz_base_url or os.environ.get(BASE_URL_ENV) or "").strip()
    if not value:
        return DEFAULT_HOST, True
    value = value.rstrip("/")
    for scheme, https in (("https://", True), ("http://", False)):
        if value.startswith(scheme):
            return value[len(scheme):], https
    return value, value == DEFAULT_HOST


@contextlib.contextmanager
def _bounded(params) -> Iterator[None]:
    """musicbrainzngs with at most max_retries tries, max_retry_wait_s of waiting between
    them, and timeout_s per socket operation (it passes no timeout to urllib)."""
    from musicbrainzngs import musicbrainz as mb

    original = mb._safe_read
    pauses = sum(range(1, params.max_retries))  # it sleeps n * delta before try n + 1
    delta = min(1.0, params.max_retry_wait_s / pauses) if pauses else 0.0
    previous = socket.getdefaulttimeout()
    mb._safe_read = functools.partial(original, max_retries=params.max_retries,
                                      retry_delay_delta=delta)
    socket.setdefaulttimeout(params.timeout_s)
    try:
        yield
    finally:
        mb._safe_read = original
        socket.setdefaulttimeout(previous)


def _release_year(release: dict) -> int | None:
    return year_of(release.get("date"))


def _is_soundtrack(release: dict) -> bool:
    group = release.get("release-group") or {}
    secondary = group.get("secondary-type-list") or []
    return group.get("type") == "Soundtrack" or "Soundtrack" in secondary


def _contains(a: str, b: str) -> bool:
    def norm(text: str) -> str:
        return "".join(ch for ch in text.casefold() if ch.isalnum())
    a, b = norm(a), norm(b)
    return bool(a and b) and (a in b or b in a)


def choose_release(releases: list[dict], titles: list[str], year: int | None) -> dict | None:
    """The film's soundtrack among search results: its title must contain one of the film's
    titles (or the other way round); then an exact title, soundtrack type, a release within
    a year of the film's, and MusicBrainz's own score decide."""
    def score(r: dict) -> tuple:
        exact = any(same_title(r.get("title"), t) for t in titles)
        near_year = year is not None and _release_year(r) is not None \
            and abs(_release_year(r) - year) <= 1
        try:
            mb_score = int(r.get("ext:score", 0))
        except ValueError:
            mb_score = 0
        return (exact, _is_soundtrack(r), near_year, mb_score)

    candidates = [r for r in releases if isinstance(r, dict) and r.get("id")
                  and any(_contains(str(r.get("title") or ""), t) for t in titles)]
    return max(candidates, key=score) if candidates else None


def tracks_of(release: dict) -> list[dict]:
    """Every track of every medium, numbered 1..N across the release, with its length."""
    tracks = []
    for medium in release.get("medium-list") or []:
        for track in medium.get("track-list") or []:
            recording = track.get("recording") or {}
            length = track.get("track_or_recording_length") or track.get("length") \
                or recording.get("length")
            try:
                length_s = round(int(length) / 1000, 3) if length else None
            except ValueError:
                length_s = None
            tracks.append({"position": len(tracks) + 1, "medium": _int(medium.get("position")),
                           "number": track.get("number") or track.get("position"),
                           "title": track.get("title") or recording.get("title") or "",
                           "length_s": length_s})
    return tracks


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def search_titles(titles: list[str | None]) -> list[str]:
    """The film's titles, the one to search for first: the shortest in Latin script
    (MusicBrainz names Indian soundtracks in Latin script, and "Lagaan" finds the soundtrack
    where "Lagaan: Once Upon a Time in India" also finds every "Once Upon a Time")."""
    unique = [t for t in dict.fromkeys(t.strip() for t in titles if t) if t]
    latin = sorted((t for t in unique if _latin(t)), key=len)
    return latin + [t for t in unique if t not in latin]


def _latin(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return bool(letters) and all(ord(ch) < 0x250 for ch in letters)


def lookup(params, titles: list[str], year: int | None, version: str, cache: JsonCache,
           warnings: list[str]) -> SoundtrackAnswer:
    """The soundtrack of the film called ``titles[0]`` (the others also match: see
    search_titles); never raises for the service."""
    import musicbrainzngs

    titles = [t for t in dict.fromkeys(titles) if t]
    if not titles:
        return SoundtrackAnswer()
    musicbrainzngs.set_useragent(APP, version, params.musicbrainz_contact or CONTACT)
    host, https = host_of(params)
    musicbrainzngs.set_hostname(host, use_https=https)
    name = query_key(titles[0], year)
    entry = cache.get("search", name)
    found = None
    if entry is not None:
        if isinstance(entry.data, dict) and isinstance(entry.data.get("release_id"), str):
            found = entry.data
        else:
            cache.damaged("search", name, "not a search entry")
            entry = None
    errors = (musicbrainzngs.MusicBrainzError, OSError, ValueError, KeyError, TypeError,
              AttributeError, ElementTree.ParseError)
    if not params.online:  # offline: the cached answer, however old, or none
        return _release(found["release_id"], cache, warnings, (), online=False) if found \
            else SoundtrackAnswer()
    with _bounded(params):
        if found is None or entry.stale:
            try:
                searched = _search(titles, year)
            except errors as e:
                _warn(warnings, f"MusicBrainz: the soundtrack search failed ({_describe(e)})")
                if found is None:
                    return SoundtrackAnswer()
            else:
                if searched is None:
                    _warn(warnings, f"MusicBrainz has no soundtrack of {titles[0]!r}"
                          + (f" ({year})" if year else ""))
                    return SoundtrackAnswer()
                found = {"query": titles[0], "year": year, **searched}
                cache.put("search", name, found)
        answer = _release(found["release_id"], cache, warnings, errors)
    if answer.found and not answer.artist and isinstance(found.get("artist"), str):
        answer.artist = found["artist"]
    return answer


def _search(titles: list[str], year: int | None) -> dict | None:
    import musicbrainzngs

    result = musicbrainzngs.search_releases(release=titles[0], type="soundtrack",
                                            limit=SEARCH_LIMIT)
    chosen = choose_release(result.get("release-list") or [], titles, year)
    if chosen is None:
        return None
    return {"release_id": str(chosen["id"]), "artist": chosen.get("artist-credit-phrase")}


def _release(release_id: str, cache: JsonCache, warnings: list[str],
             errors: tuple, online: bool = True) -> SoundtrackAnswer:
    import musicbrainzngs

    try:
        entry = cache.get("release", release_id)
    except ValueError:  # an id that is no file name
        _warn(warnings, f"MusicBrainz: odd release id {release_id!r}")
        return SoundtrackAnswer()
    cached = None
    if entry is not None:
        if isinstance(entry.data, dict) and entry.data.get("id") == release_id:
            cached = entry.data
            if not entry.stale or not online:
                return _answer(cached, "cache")
        else:
            cache.damaged("release", release_id, "not a MusicBrainz release")
    if not online:
        return SoundtrackAnswer()
    try:
        release = musicbrainzngs.get_release_by_id(release_id, includes=["recordings"])
        release = release["release"]
    except errors as e:
        _warn(warnings, f"MusicBrainz: the release {release_id} could not be fetched "
              f"({_describe(e)})")
        return _answer(cached, "cache") if cached else SoundtrackAnswer()
    cache.put("release", release_id, release)
    return _answer(release, "musicbrainz")


def _answer(release: dict, source: str) -> SoundtrackAnswer:
    return SoundtrackAnswer(found=True, source=source, release_id=release.get("id"),
                            title=release.get("title"), date=release.get("date"),
                            artist=release.get("artist-credit-phrase"),
                            tracks=tracks_of(release))


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _warn(warnings: list[str], message: str) -> None:
    logger.warning("%s", message)
    warnings.append(message)
