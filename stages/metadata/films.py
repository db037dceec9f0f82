"""TMDB answers made into the pipeline's shape (pure functions, no I/O).

``choose`` picks one film from a search: the one released in the wanted year, else the one
whose title is exactly the query, else the most popular; the others are kept as alternatives.
``summarize`` turns ``movie/{id}?append_to_response=credits`` into metadata.json's fields.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

DIRECTOR_JOBS = ("Director",)
WRITER_JOBS = ("Screenplay", "Writer", "Story", "Dialogue")
MUSIC_JOBS = ("Original Music Composer", "Music", "Lyricist", "Music Director", "Songs")
MAX_ALTERNATIVES = 10


def year_of(date: Any) -> int | None:
    """2001 from "2001-06-15"; None for "", None or junk."""
    if isinstance(date, str) and re.match(r"^\d{4}", date):
        return int(date[:4])
    return None


def same_title(a: Any, b: Any) -> bool:
    """Titles equal once case, accents-as-composed and punctuation are set aside."""
    def norm(text: Any) -> str:
        text = unicodedata.normalize("NFC", str(text or "")).casefold()
        return "".join(ch for ch in text if ch.isalnum() or unicodedata.category(ch) == "Mn")
    return bool(norm(a)) and norm(a) == norm(b)


def brief(result: dict) -> dict:
    """A search result as an alternative: id, title, year, popularity."""
    return {"id": result.get("id"), "title": result.get("title"),
            "year": year_of(result.get("release_date")),
            "popularity": _popularity(result)}


def _popularity(result: dict) -> float:
    value = result.get("popularity")
    return float(value) if isinstance(value, (int, float)) else 0.0


def valid_results(data: dict | None) -> list[dict]:
    results = (data or {}).get("results")
    if not isinstance(results, list):
        return []
    return [r for r in results if isinstance(r, dict) and isinstance(r.get("id"), int)]


def choose(results: list[dict], title: str, year: int | None) -> tuple[dict, dict]:
    """(the chosen result, the choice record {"reason", "alternatives"}).

    reason: "only" (one result), "year" (the only way the chosen one stands out is its
    release year), "title" (its title is the query, the others' are not), "popularity"."""
    if not results:
        raise ValueError("no results to choose from")
    if len(results) == 1:
        return results[0], {"reason": "only", "alternatives": []}

    def year_match(r: dict) -> bool:
        return year is not None and year_of(r.get("release_date")) == year

    def title_match(r: dict) -> bool:
        return same_title(r.get("title"), title) or same_title(r.get("original_title"), title)

    ranked = sorted(results, key=lambda r: (year_match(r), title_match(r), _popularity(r)),
                    reverse=True)
    chosen = ranked[0]
    if year_match(chosen) and not all(year_match(r) for r in results):
        reason = "year"
    elif title_match(chosen) and not all(title_match(r) for r in results):
        reason = "title"
    else:
        reason = "popularity"
    others = sorted((r for r in results if r is not chosen), key=_popularity, reverse=True)
    return chosen, {"reason": reason,
                    "alternatives": [brief(r) for r in others[:MAX_ALTERNATIVES]]}


def _names(crew: list[dict], jobs: tuple[str, ...]) -> list[str]:
    names: list[str] = []
    for person in crew:
        name = person.get("name")
        if person.get("job") in jobs and isinstance(name, str) and name not in names:
            names.append(name)
    return names


def summarize(details: dict) -> dict:
    """metadata.json's film fields from TMDB's movie details with credits appended."""
    credits = details.get("credits") if isinstance(details.get("credits"), dict) else {}
    cast_raw = [c for c in credits.get("cast") or [] if isinstance(c, dict) and c.get("name")]
    crew_raw = [c for c in credits.get("crew") or [] if isinstance(c, dict) and c.get("name")]
    cast = [{"name": c["name"], "character": c.get("character") or "",
             "order": c.get("order") if isinstance(c.get("order"), int) else i}
            for i, c in enumerate(cast_raw)]
    cast.sort(key=lambda c: c["order"])
    wanted = DIRECTOR_JOBS + WRITER_JOBS + MUSIC_JOBS
    genres = [g["name"] for g in details.get("genres") or []
              if isinstance(g, dict) and isinstance(g.get("name"), str)]
    return {
        "tmdb_id": details.get("id"),
        "imdb_id": details.get("imdb_id"),
        "title": details.get("title"),
        "original_title": details.get("original_title"),
        "year": year_of(details.get("release_date")),
        "release_date": details.get("release_date") or None,
        "original_language": details.get("original_language"),
        "overview": details.get("overview") or "",
        "tagline": details.get("tagline") or "",
        "runtime_min": details.get("runtime"),
        "genres": genres,
        "cast": cast,
        "crew": {"director": _names(crew_raw, DIRECTOR_JOBS),
                 "writers": _names(crew_raw, WRITER_JOBS),
                 "music": _names(crew_raw, MUSIC_JOBS)},
        "crew_detail": [{"name": c["name"], "job": c["job"], "department": c.get("department")}
                        for c in crew_raw if c.get("job") in wanted],
    }

