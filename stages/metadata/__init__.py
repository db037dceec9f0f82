"""metadata: the film's names from TMDB and its soundtrack from MusicBrainz (common venv).

With the job's title and year (from ``--title/--year``, or parsed from a release-style file
name such as ``Lagaan.2001.1080p.BluRay.mkv``) the stage looks the film up on TMDB (v3 REST:
search, then the details with credits): cast with character names, crew (director, writers,
music), genres, overview, original title and language; and the soundtrack release on
MusicBrainz (track titles, positions, lengths), over the network only when the run is
online (``metadata.online``; by default when a TMDB key is configured: the pipeline runs
offline otherwise, and says so once). Both answers are cached in the application
caches (hardware_cache.json: ``tmdb``, ``musicbrainz``) and reused offline. A metadata service
never fails the job: no key, no network, a server error or a rate limit that does not clear
leave ``found: false`` (or the cached answer) and a warning in ``metadata.json``. The API key
comes from TMDB_API_KEY or the user's keys file (shared.keys), never from the params, and is
never written or logged.

This module is the contract (Params, SPEC, resolve); the work is in run.py (metadata.json),
tmdb.py (search, details), films.py (choice, shape), retry.py (bounded retries),
musicbrainz.py (soundtrack) and cache.py (the application caches).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from pydantic import Field

from shared.stage import ResolveContext, StageParams, StageSpec

logger = logging.getLogger(__name__)

_YEAR_SUFFIX = re.compile(r"^(?P<title>.+?)\s*[\(\[](?P<year>(18|19|20)\d\d)[\)\]]\s*$")


class MetadataParams(StageParams):
    enabled: bool = Field(True, description="look the film up; false writes an empty "
                          "metadata.json (no request is made)")
    title: str | None = Field(
        None, description="the film's title; default: the job's title, or the title parsed "
        "from the file name when the job's title is just the file name (set by resolve)")
    year: int | None = Field(None, ge=1870, le=2100, description="release year; default: the "
                             "job's --year, or the year in the file name (set by resolve)")
    parsed_from_filename: bool = Field(False, description="set by resolve: title/year came "
                                       "from the file name")
    tmdb_id: int | None = Field(None, ge=1, description="use this TMDB film (no search): for a "
                                "title the search gets wrong")
    language: str = Field("en-US", pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$",
                          description="TMDB language of titles and overview (en-US, hi-IN)")
    max_age_days: float = Field(180.0, ge=0, description="cached answers older than this are "
                                "fetched again (the old answer is kept when that fails)")
    timeout_s: float = Field(10.0, gt=0, le=300, description="seconds per request")
    max_retries: int = Field(3, ge=1, le=10, description="tries per request when the service "
                             "answers 429 (rate limited) or 5xx")
    max_retry_wait_s: float = Field(10.0, ge=0, le=300, description="most seconds spent "
                                    "waiting between tries of one request (Retry-After "
                                    "included); a longer Retry-After gives up at once")
    soundtrack: bool = Field(True, description="also look up the soundtrack on MusicBrainz")
    online: bool | None = Field(
        None, description="look the film up over the network (TMDB, MusicBrainz). None: only "
        "when a TMDB key is configured (the machine is one that looks things up); false: "
        "never, the application caches only; true: always (MusicBrainz needs no key). An "
        "offline run says so once in the log, with how to turn lookups on")
    tmdb_base_url: str | None = Field(
        None, pattern=r"^https?://\S+$", description="TMDB API address; default: "
        "$TMDB_BASE_URL or https://api.themoviedb.org/3")
    musicbrainz_base_url: str | None = Field(
        None, pattern=r"^(https?://)?[^\s/]+/?$", description="MusicBrainz server "
        "(host:port or http(s)://host:port); default: $MUSICBRAINZ_BASE_URL or "
        "https://musicbrainz.org")
    musicbrainz_contact: str | None = Field(
        None, description="contact URL or e-mail sent in the MusicBrainz user agent (as "
        "MusicBrainz asks); default: the project's address")
    tmdb_cache_dir: str | None = Field(None, description="set by resolve: the tmdb "
                                       "application cache")
    musicbrainz_cache_dir: str | None = Field(None, description="set by resolve: the "
                                              "musicbrainz application cache")
    credentials: str | None = Field(None, description="set by resolve: where the TMDB key "
                                    "comes from (the variable or keys file, never the key), "
                                    "so adding a key re-runs the stage")


def parse_filename(name: str) -> tuple[str | None, int | None]:
    """Title and year of a release-style file name ("Lagaan.2001.1080p.BluRay.mkv" ->
    ("Lagaan", 2001)) with guessit; (None, None) when it finds no title."""
    try:
        from guessit import guessit

        guess = guessit(name, {"type": "movie"})
    except Exception as e:  # noqa: BLE001 - a parser failure must not stop the job
        logger.warning("could not parse the file name %r (%s)", name, e)
        return None, None
    title = guess.get("title")
    year = guess.get("year")
    if isinstance(title, list):
        title = " ".join(str(t) for t in title)
    if isinstance(year, list):
        year = year[0] if year else None
    title = str(title).strip() if title else None
    return title or None, int(year) if isinstance(year, int) else None


def parse_filename_cached(name: str, folder: Path) -> tuple[str | None, int | None]:
    """parse_filename, remembered in ``folder``/filenames.json per guessit version: guessit
    builds its rules for ~0.3 s on each run's plan, for the same answer."""
    import json
    from importlib.metadata import version

    from shared import atomic

    path = folder / "filenames.json"
    key = f"guessit {version('guessit')}: {name}"
    try:
        memo = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        memo = {}
    if isinstance(memo.get(key), list) and len(memo[key]) == 2:
        return memo[key][0], memo[key][1]
    title, year = parse_filename(name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, json.dumps({**memo, key: [title, year]}, ensure_ascii=False))
    except OSError as e:  # a read-only cache only costs the parse next time
        logger.debug("could not remember the parse of %r: %s", name, e)
    return title, year


def split_year(title: str) -> tuple[str, int | None]:
    """"Mughal-e-Azam (1960)" -> ("Mughal-e-Azam", 1960)."""
    match = _YEAR_SUFFIX.match(title.strip())
    if not match:
        return title.strip(), None
    return match.group("title").strip(), int(match.group("year"))


def resolve(params: MetadataParams, ctx: ResolveContext) -> MetadataParams:
    """Fill the title and year (parsed from the file name when the job's title is just its
    stem), the cache folders, and where the key comes from; recorded in the params so the
    fingerprint sees them, all but the cache folders (shared/fingerprint.py RUNTIME_PARAMS:
    a driver whose project is elsewhere does not run the stage again)."""
    from shared import keys

    job = ctx.job
    base = ctx.hardware.cache.base_dir / "app"
    title, year, parsed = params.title, params.year, params.parsed_from_filename
    if not title:
        title, parsed = job.title, False
        media = job.media.path
        if title == media.stem:
            guessed_title, guessed_year = parse_filename_cached(media.name, base)
            if guessed_title:
                title, parsed = guessed_title, True
                year = year or job.year or guessed_year
        title, title_year = split_year(title)
        year = year or job.year or title_year
    caches = ctx.hardware.cache.application_caches
    credential = keys.find("tmdb")
    return params.model_copy(update={
        "title": title or None,
        "year": year,
        "parsed_from_filename": parsed,
        "tmdb_cache_dir": params.tmdb_cache_dir or str(caches.get("tmdb") or base / "tmdb"),
        "musicbrainz_cache_dir": params.musicbrainz_cache_dir
        or str(caches.get("musicbrainz") or base / "musicbrainz"),
        "credentials": credential.source if credential else None,
    })


SPEC = StageSpec(
    name="metadata",
    version=1,
    params=MetadataParams,
    inputs={},
    outputs=("metadata.json",),
    description="film metadata (TMDB cast and crew, MusicBrainz soundtrack)",
    environments=("common",),
    resolve=resolve,
    process="stages.metadata.run:process",
)
