"""TMDB v3 over plain httpx: search the film, fetch its details with credits, cache both.

Cache (the tmdb application cache): ``search/<sha256 of title, year, language>.json`` -> the
chosen id, the choice and the search hit; ``movie/<id>.json`` -> TMDB's details with credits
and the language they are in. A fresh entry is used with no request; a stale one (older than
max_age_days) is fetched again and kept when that fails. The key is a v3 api_key (sent as a
query parameter) or a v4 read token (a JWT, "eyJ...", sent as a Bearer header).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from shared import keys
from stages.metadata.cache import JsonCache, query_key
from stages.metadata.films import choose, summarize, valid_results, year_of
from stages.metadata.retry import JsonGetter, ServiceError

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.themoviedb.org/3"
BASE_URL_ENV = "TMDB_BASE_URL"


@dataclass
class TmdbAnswer:
    found: bool = False
    source: str = "none"  # "tmdb" (fetched now) | "cache" | "none"
    film: dict = field(default_factory=dict)
    choice: dict | None = None


@dataclass
class _Found:
    movie_id: int
    choice: dict
    hit: dict | None
    source: str


def base_url(params) -> str:
    return (params.tmdb_base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).strip()


def open_client(params, key: str, user_agent: str) -> JsonGetter:
    """A retrying JSON getter on an httpx client that carries the key."""
    import httpx

    headers = {"Accept": "application/json", "User-Agent": user_agent}
    query: dict[str, str] = {}
    if key.startswith("eyJ"):  # a v4 read access token (JWT)
        headers["Authorization"] = f"Bearer {key}"
    else:
        query["api_key"] = key
    client = httpx.Client(base_url=base_url(params).rstrip("/") + "/", params=query,
                          headers=headers, timeout=params.timeout_s)
    return JsonGetter(client, "TMDB", key, max_tries=params.max_retries,
                      max_wait_s=params.max_retry_wait_s)


def lookup(params, getter: JsonGetter | None, cache: JsonCache,
           warnings: list[str]) -> TmdbAnswer:
    """The film for params.title/year (or params.tmdb_id); never raises for the service."""
    if params.tmdb_id:
        found = _Found(params.tmdb_id, {"reason": "tmdb_id", "alternatives": []}, None, "param")
    else:
        found = _find(params, getter, cache, warnings)
    if found is None:
        return TmdbAnswer()
    details, source = _details(found.movie_id, params, getter, cache, warnings)
    if details is None and found.hit is None:
        return TmdbAnswer()
    if details is None:
        assert found.hit is not None
        warnings.append("TMDB: only the search result is known (no cast or crew)")
        details, source = found.hit, found.source
    return TmdbAnswer(found=True, source=source, film=summarize(details), choice=found.choice)


def _warn(warnings: list[str], message: str) -> None:
    logger.warning("%s", message)
    warnings.append(message)


def _no_key(params, warnings: list[str]) -> None:
    if params.online is False:  # an offline run: the stage has said so once
        return
    _warn(warnings, "no TMDB API key: the film's cast and crew were not looked up "
          f"(fix: {keys.missing_key_fix('tmdb')})")


def _search(getter: JsonGetter, title: str, year: int | None,
            language: str) -> tuple[dict, dict] | None:
    query = {"query": title, "language": language, "include_adult": "false", "page": 1}
    data = getter.get("search/movie", query)
    results = valid_results(data)
    if year and results and (data or {}).get("total_pages", 1) > 1 and \
            not any(year_of(r.get("release_date")) == year for r in results):
        # the first page has no film of that year: ask for that year's films only
        narrowed = valid_results(getter.get("search/movie",
                                            {**query, "primary_release_year": year}))
        results = narrowed or results
    if not results:
        return None
    return choose(results, title, year)


def _cached_search(cache: JsonCache, name: str) -> tuple[Any, _Found | None]:
    entry = cache.get("search", name)
    if entry is None:
        return None, None
    data = entry.data
    if not (isinstance(data, dict) and isinstance(data.get("id"), int)
            and isinstance(data.get("choice"), dict)):
        cache.damaged("search", name, "not a search entry")
        return None, None
    hit = data.get("hit") if isinstance(data.get("hit"), dict) else None
    return entry, _Found(data["id"], data["choice"], hit, "cache")


def _find(params, getter: JsonGetter | None, cache: JsonCache,
          warnings: list[str]) -> _Found | None:
    title, year, language = params.title, params.year, params.language
    name = query_key(title, year, language)
    entry, cached = _cached_search(cache, name)
    if cached is not None and not entry.stale:
        return cached
    if getter is None:
        if cached is None:
            _no_key(params, warnings)
        else:
            _warn(warnings, "TMDB: not looked up again (no API key, or offline): using the "
                  f"cached search of {entry.fetched_at:%Y-%m-%d}")
        return cached
    try:
        result = _search(getter, title, year, language)
    except ServiceError as e:
        _warn(warnings, str(e))
        if cached is not None:
            _warn(warnings, f"TMDB: using the cached search of {entry.fetched_at:%Y-%m-%d}")
        return cached
    if result is None:
        _warn(warnings, f"TMDB has no film titled {title!r}"
              + (f" ({year})" if year else "") + ": no cast or crew names")
        return None
    hit, choice = result
    if choice["alternatives"]:
        logger.info("TMDB: %d films match %r; chose %s (%s) by %s", len(choice["alternatives"])
                    + 1, title, hit.get("title"), year_of(hit.get("release_date")),
                    choice["reason"])
    cache.put("search", name, {"query": title, "year": year, "language": language,
                               "id": hit["id"], "choice": choice, "hit": hit})
    return _Found(hit["id"], choice, hit, "tmdb")


def _details(movie_id: int, params, getter: JsonGetter | None, cache: JsonCache,
             warnings: list[str]) -> tuple[dict | None, str]:
    name = str(movie_id)
    entry = cache.get("movie", name)
    cached = None
    if entry is not None:
        data = entry.data
        if isinstance(data, dict) and isinstance(data.get("movie"), dict) \
                and data["movie"].get("id") == movie_id:
            cached = data["movie"]
            if not entry.stale and data.get("language") == params.language:
                return cached, "cache"
        else:
            cache.damaged("movie", name, "not a TMDB movie entry")
    if getter is None:
        if cached is None:
            _no_key(params, warnings)
            return None, "none"
        _warn(warnings, "TMDB: not looked up again (no API key, or offline): using the cached "
              f"film {movie_id}")
        return cached, "cache"
    try:
        details = getter.get(f"movie/{movie_id}", {"language": params.language,
                                                   "append_to_response": "credits"})
    except ServiceError as e:
        _warn(warnings, str(e))
        if cached is not None:
            _warn(warnings, f"TMDB: using the cached film {movie_id} of "
                  f"{entry.fetched_at:%Y-%m-%d}")
            return cached, "cache"
        return None, "none"
    if details is None or details.get("id") != movie_id:
        _warn(warnings, f"TMDB has no film with id {movie_id}")
        return None, "none"
    cache.put("movie", name, {"language": params.language, "movie": details})
    return details, "tmdb"
