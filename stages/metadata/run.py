"""metadata: the work (see the package docstring). Writes metadata.json:

    {"query": {"title", "year", "parsed_from_filename"}, "found", "source": "tmdb"|"cache"|"none",
     "tmdb_id", "imdb_id", "title", "original_title", "year", "release_date",
     "original_language", "overview", "tagline", "runtime_min", "genres": [...],
     "cast": [{"name", "character", "order"}],
     "crew": {"director": [...], "writers": [...], "music": [...]}  (names),
     "crew_detail": [{"name", "job", "department"}],
     "choice": {"reason": "only"|"year"|"title"|"popularity"|"tmdb_id",
                "alternatives": [{"id", "title", "year", "popularity"}]} | null,
     "soundtrack": {"found", "source", "release_id", "title", "date", "artist",
                    "tracks": [{"position", "medium", "number", "title", "length_s"}]},
     "warnings": [...]}
"""

from __future__ import annotations

import logging

from shared import atomic, keys
from shared.paths import PROJECT_ROOT
from shared.stage import StageOutcome, StageRequest
from stages.metadata import MetadataParams
from stages.metadata.cache import JsonCache

logger = logging.getLogger(__name__)

OUTPUT = "metadata.json"


def project_version() -> str:
    """The pipeline's version (pyproject.toml), for the services' user agent."""
    try:
        import tomllib

        with open(PROJECT_ROOT / "pyproject.toml", "rb") as handle:
            return str(tomllib.load(handle)["project"]["version"])
    except (ImportError, OSError, KeyError, ValueError):
        return "0"


def empty_document(params: MetadataParams) -> dict:
    return {
        "query": {"title": params.title, "year": params.year,
                  "parsed_from_filename": params.parsed_from_filename},
        "found": False, "source": "none", "tmdb_id": None, "imdb_id": None, "title": None,
        "original_title": None, "year": None, "release_date": None, "original_language": None,
        "overview": "", "tagline": "", "runtime_min": None, "genres": [], "cast": [],
        "crew": {"director": [], "writers": [], "music": []}, "crew_detail": [],
        "choice": None,
        "soundtrack": {"found": False, "source": "none", "release_id": None, "title": None,
                       "date": None, "artist": None, "tracks": []},
        "warnings": [],
    }


def _quiet_http_logs() -> None:
    # httpx logs every request's URL at INFO, and a v3 key travels in the URL
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _warn(warnings: list[str], message: str) -> None:
    logger.warning("%s", message)
    warnings.append(message)


def _tmdb(params: MetadataParams, key: str | None, version: str, warnings: list[str]) -> dict:
    from stages.metadata import tmdb

    cache = JsonCache(params.tmdb_cache_dir, params.max_age_days, warnings)
    getter = tmdb.open_client(params, key, f"subtitle-pipeline/{version}") if key else None
    try:
        answer = tmdb.lookup(params, getter, cache, warnings)
    finally:
        if getter is not None:
            getter.client.close()
    if not answer.found:
        return {}
    return {"found": True, "source": answer.source, **answer.film, "choice": answer.choice}


def _soundtrack(params: MetadataParams, film: dict, version: str,
                warnings: list[str]) -> dict:
    from stages.metadata import musicbrainz

    cache = JsonCache(params.musicbrainz_cache_dir, params.max_age_days, warnings)
    titles = musicbrainz.search_titles([params.title, film.get("title"),
                                        film.get("original_title")])
    year = film.get("year") or params.year
    answer = musicbrainz.lookup(params, titles, year, version, cache, warnings)
    return answer.as_json()


def process(request: StageRequest, state) -> StageOutcome:
    params = request.params_as(MetadataParams)
    _quiet_http_logs()
    output = request.output(OUTPUT)
    document = empty_document(params)
    warnings: list[str] = []
    credential = keys.find("tmdb")
    key = credential.value if credential else None
    version = project_version()
    params = _online(params, credential is not None, warnings)
    if not params.online:
        key = None  # nothing over the network: the caches only
    if not params.enabled:
        _warn(warnings, "film metadata is off (metadata.enabled=false): nothing looked up")
    elif not params.title:
        _warn(warnings, "the job has no title to look up (prepare-job.sh --title ...)")
    else:
        logger.info("looking up %r%s (TMDB key: %s)", params.title,
                    f" ({params.year})" if params.year else "",
                    credential.source if credential else "none")
        try:
            document.update(_tmdb(params, key, version, warnings))
        except Exception as e:  # noqa: BLE001 - a metadata service never fails the job
            _warn(warnings, keys.redact(f"TMDB lookup failed: {type(e).__name__}: {e}", key))
        if params.soundtrack:
            try:
                document["soundtrack"] = _soundtrack(params, document, version, warnings)
            except Exception as e:  # noqa: BLE001 - a metadata service never fails the job
                _warn(warnings, keys.redact(f"MusicBrainz lookup failed: {type(e).__name__}: "
                                            f"{e}", key))
    # every message is redacted where it is made; this is the last guard before the file
    document["warnings"] = [w.replace(key, "***") if key else w for w in warnings]
    atomic.write_json(output, document)
    _log_summary(document)
    sound = document["soundtrack"]
    info = {"found": document["found"], "source": document["source"],
            "tmdb_id": document["tmdb_id"], "title": document["title"],
            "year": document["year"], "cast": len(document["cast"]),
            "soundtrack_tracks": len(sound["tracks"]), "warnings": len(document["warnings"])}
    return StageOutcome(outputs=[output], info=info)


def _online(params: MetadataParams, has_key: bool, warnings: list[str]) -> MetadataParams:
    """The params with ``online`` decided (unset: online when a TMDB key is configured); an
    offline run says so once, with how to turn the lookups on."""
    online = params.online if params.online is not None else has_key
    if not online and params.enabled and params.title:
        why = "metadata.online=false" if params.online is False else "no TMDB key configured"
        _warn(warnings, f"online lookups are off ({why}): the film's names and soundtrack come "
              "from the application caches only (fix: export TMDB_API_KEY=... to look up TMDB "
              "and MusicBrainz, or --set metadata.online=true for MusicBrainz, which needs "
              "no key)")
    return params.model_copy(update={"online": online})


def _log_summary(document: dict) -> None:
    if document["found"]:
        logger.info("%s (%s), TMDB %s from %s: %d cast, director %s", document["title"],
                    document["year"], document["tmdb_id"], document["source"],
                    len(document["cast"]), ", ".join(document["crew"]["director"]) or "-")
    else:
        logger.info("no film metadata")
    sound = document["soundtrack"]
    if sound["found"]:
        logger.info("soundtrack: %s (%d tracks, from %s)", sound["title"],
                    len(sound["tracks"]), sound["source"])
