"""A loopback stand-in for TMDB (v3 REST, JSON) and MusicBrainz (ws/2, XML), for the metadata
stage's tests.

Listens on 127.0.0.1 (a random port), one thread per request, and stops after
``max_requests`` requests or ``max_seconds``, whichever comes first, so a test that goes wrong
cannot hang. Each request takes the next action of its service's script (then the default):

    "ok"   answer from the small film and release catalogue below (recorded-shape answers:
           the fields and nesting TMDB and MusicBrainz send, with invented values)
    429    rate limited, with ``Retry-After: <retry_after>``
    500    a server error (also 502, 503 ...)

TMDB: ``/3/search/movie?query=&primary_release_year=`` (title or original title contains the
query), ``/3/movie/{id}?append_to_response=credits`` and 401 for a wrong or missing key (v3
``api_key`` parameter or v4 ``Authorization: Bearer``). MusicBrainz:
``/ws/2/release/?query=release:(...) type:(soundtrack)`` and
``/ws/2/release/{mbid}?inc=recordings``.
Every request is recorded (service, path, query, headers) for assertions.
"""

from __future__ import annotations

import json
import re
import socket
import unicodedata
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

from tests.loopback import LoopbackService

MB_NS = "http://musicbrainz.org/ns/mmd-2.0#"
EXT_NS = "http://musicbrainz.org/ns/ext#-2.0"

# -- the catalogue ----------------------------------------------------------------------------
# TMDB id -> film; cast as (name, character), crew as (name, job, department)
FILMS: dict[int, dict[str, Any]] = {
    19666: {
        "title": "Lagaan: Once Upon a Time in India", "original_title": "लगान",
        "release_date": "2001-06-15", "popularity": 14.872, "original_language": "hi",
        "overview": "In 1893, the villagers of Champaner stake their future on a game of "
                    "cricket against their British rulers.",
        "tagline": "", "runtime": 224, "imdb_id": "tt0169102",
        "genres": [(18, "Drama"), (10402, "Music"), (36, "History")],
        "cast": [("Aamir Khan", "Bhuvan"), ("Gracy Singh", "Gauri"),
                 ("Rachel Shelley", "Elizabeth Russell"),
                 ("Paul Blackthorne", "Captain Andrew Russell"), ("Kulbhushan Kharbanda",
                                                                  "Raja Puran Singh")],
        "crew": [("Ashutosh Gowariker", "Director", "Directing"),
                 ("Ashutosh Gowariker", "Screenplay", "Writing"),
                 ("Ashutosh Gowariker", "Story", "Writing"),
                 ("K. P. Saxena", "Dialogue", "Writing"),
                 ("A. R. Rahman", "Original Music Composer", "Sound"),
                 ("Javed Akhtar", "Lyricist", "Sound"),
                 ("Anil Mehta", "Director of Photography", "Camera"),
                 ("Aamir Khan", "Producer", "Production")],
    },
    28960: {
        "title": "Mughal-E-Azam", "original_title": "मुग़ल-ए-आज़म",
        "release_date": "1960-08-05", "popularity": 6.42, "original_language": "hi",
        "overview": "Prince Salim falls in love with the court dancer Anarkali.",
        "tagline": "", "runtime": 197, "imdb_id": "tt0054098",
        "genres": [(18, "Drama"), (10749, "Romance"), (36, "History")],
        "cast": [("Prithviraj Kapoor", "Akbar"), ("Dilip Kumar", "Salim"),
                 ("Madhubala", "Anarkali"), ("Durga Khote", "Jodhabai")],
        "crew": [("K. Asif", "Director", "Directing"), ("Aman", "Screenplay", "Writing"),
                 ("Kamal Amrohi", "Dialogue", "Writing"), ("Naushad", "Music", "Sound"),
                 ("Shakeel Badayuni", "Lyricist", "Sound")],
    },
    4254: {
        "title": "Devdas", "original_title": "देवदास", "release_date": "2002-07-12",
        "popularity": 11.53, "original_language": "hi",
        "overview": "A wealthy law graduate returns home and is torn between two women.",
        "tagline": "", "runtime": 185, "imdb_id": "tt0238936",
        "genres": [(18, "Drama"), (10749, "Romance")],
        "cast": [("Shah Rukh Khan", "Devdas Mukherjee"), ("Aishwarya Rai Bachchan", "Paro"),
                 ("Madhuri Dixit", "Chandramukhi")],
        "crew": [("Sanjay Leela Bhansali", "Director", "Directing"),
                 ("Ismail Darbar", "Music", "Sound")],
    },
    69334: {
        "title": "Devdas", "original_title": "देवदास", "release_date": "1955-01-01",
        "popularity": 3.21, "original_language": "hi",
        "overview": "Bimal Roy's adaptation of the Sarat Chandra Chattopadhyay novel.",
        "tagline": "", "runtime": 159, "imdb_id": "tt0047990",
        "genres": [(18, "Drama")],
        "cast": [("Dilip Kumar", "Devdas"), ("Suchitra Sen", "Parvati (Paro)"),
                 ("Vyjayanthimala", "Chandramukhi")],
        "crew": [("Bimal Roy", "Director", "Directing"), ("S. D. Burman", "Music", "Sound")],
    },
}

# MusicBrainz release id -> release; tracks as (title or None, track ms or None, recording ms)
RELEASES: dict[str, dict[str, Any]] = {
    "3c1f4d7e-5a2b-4c8d-9e0f-1a2b3c4d5e6f": {
        "title": "Lagaan", "date": "2001-05-09", "country": "IN", "artist": "A. R. Rahman",
        "group_type": "Soundtrack", "secondary": ["Soundtrack"], "score": 100,
        "tracks": [("Ghanan Ghanan", 371000, 371000), ("Mitwa", 407000, 407000),
                   ("Radha Kaise Na Jale", None, 335000), ("O Rey Chhori", 382000, 382000),
                   (None, 400000, 400000), ("O Paalanhaare", 319000, 319000)],
        "recording_titles": {4: "Chale Chalo"},
    },
    "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a": {
        "title": "Lagaan", "date": "2019-03-01", "country": "XW", "artist": "Lagaan Band",
        "group_type": "Album", "secondary": [], "score": 100,
        "tracks": [("Intro", 61000, 61000)], "recording_titles": {},
    },
    "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d": {
        "title": "Mughal-E-Azam", "date": "1960", "country": "IN", "artist": "Naushad",
        "group_type": "Soundtrack", "secondary": ["Soundtrack"], "score": 100,
        "tracks": [("Pyar Kiya To Darna Kya", 380000, 380000),
                   ("Mohe Panghat Pe", 240000, 240000)],
        "recording_titles": {},
    },
}


def norm(text: str) -> str:
    text = unicodedata.normalize("NFC", text).casefold()
    return "".join(ch for ch in text if ch.isalnum() or unicodedata.category(ch) == "Mn")


def closed_port_url() -> str:
    """An address where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@dataclass
class Recorded:
    service: str  # "tmdb" | "musicbrainz" | "other"
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class MetadataServer(LoopbackService):
    api_key: str = "test-key-123"
    tmdb_script: list[Any] = field(default_factory=list)
    tmdb_default: Any = "ok"
    mb_script: list[Any] = field(default_factory=list)
    mb_default: Any = "ok"
    retry_after: str = "1"
    max_requests: int = 100
    max_seconds: float = 120.0
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._serve(_handler(self))

    @property
    def tmdb_url(self) -> str:
        return self.url + "/3"

    @property
    def musicbrainz_host(self) -> str:
        return self.host_port

    def of(self, service: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.service == service]

    def count(self, service: str | None = None) -> int:
        with self._lock:
            return len([r for r in self.requests if service in (None, r.service)])

    def next_action(self, recorded: Recorded) -> Any:
        with self._lock:
            self.requests.append(recorded)
            if len(self.requests) > self.max_requests:
                return 503
            script = self.tmdb_script if recorded.service == "tmdb" else self.mb_script
            default = self.tmdb_default if recorded.service == "tmdb" else self.mb_default
            return script.pop(0) if script else default


# -- TMDB (JSON) ------------------------------------------------------------------------------
def _tmdb_result(movie_id: int) -> dict:
    film = FILMS[movie_id]
    return {"adult": False, "backdrop_path": f"/{movie_id}b.jpg",
            "genre_ids": [g for g, _ in film["genres"]], "id": movie_id,
            "original_language": film["original_language"],
            "original_title": film["original_title"], "overview": film["overview"],
            "popularity": film["popularity"], "poster_path": f"/{movie_id}p.jpg",
            "release_date": film["release_date"], "title": film["title"], "video": False,
            "vote_average": 7.6, "vote_count": 1200}


def _tmdb_details(movie_id: int, credits: bool) -> dict:
    film = FILMS[movie_id]
    data = {**_tmdb_result(movie_id), "genres": [{"id": g, "name": n} for g, n in film["genres"]],
            "imdb_id": film["imdb_id"], "runtime": film["runtime"], "tagline": film["tagline"],
            "status": "Released", "spoken_languages": [{"iso_639_1": "hi", "name": "हिन्दी"}]}
    data.pop("genre_ids")
    if credits:
        data["credits"] = {
            "cast": [{"adult": False, "gender": 2, "id": 1000 + i, "known_for_department":
                      "Acting", "name": name, "original_name": name, "popularity": 5.0,
                      "profile_path": None, "cast_id": 10 + i, "character": character,
                      "credit_id": f"c{movie_id}{i}", "order": i}
                     for i, (name, character) in enumerate(film["cast"])],
            "crew": [{"adult": False, "gender": 2, "id": 2000 + i, "known_for_department":
                      department, "name": name, "original_name": name, "popularity": 2.0,
                      "profile_path": None, "credit_id": f"k{movie_id}{i}",
                      "department": department, "job": job}
                     for i, (name, job, department) in enumerate(film["crew"])]}
    return data


def tmdb_answer(path: str, query: dict[str, str]) -> tuple[int, dict]:
    if path == "/3/search/movie":
        text = norm(query.get("query", ""))
        year = query.get("primary_release_year")
        hits = [i for i, f in FILMS.items()
                if text and (text in norm(f["title"]) or text in norm(f["original_title"]))
                and (not year or f["release_date"].startswith(year))]
        results = [_tmdb_result(i) for i in hits]
        return 200, {"page": 1, "results": results, "total_pages": 1 if results else 0,
                     "total_results": len(results)}
    match = re.fullmatch(r"/3/movie/(\d+)", path)
    if match and int(match.group(1)) in FILMS:
        credits = "credits" in query.get("append_to_response", "").split(",")
        return 200, _tmdb_details(int(match.group(1)), credits)
    return 404, {"success": False, "status_code": 34,
                 "status_message": "The resource you requested could not be found."}


# -- MusicBrainz (XML) ------------------------------------------------------------------------
def _artist_credit(name: str) -> str:
    return (f"<artist-credit><name-credit><name>{escape(name)}</name><artist id=\"a-1\">"
            f"<name>{escape(name)}</name><sort-name>{escape(name)}</sort-name></artist>"
            "</name-credit></artist-credit>")


def _release_group(release: dict) -> str:
    secondary = "".join(f"<secondary-type>{s}</secondary-type>" for s in release["secondary"])
    return (f"<release-group id=\"rg-1\" type=\"{release['group_type']}\">"
            f"<title>{escape(release['title'])}</title><primary-type>Album</primary-type>"
            + (f"<secondary-type-list>{secondary}</secondary-type-list>" if secondary else "")
            + "</release-group>")


def _search_release(mbid: str) -> str:
    r = RELEASES[mbid]
    return (f"<release id={quoteattr(mbid)} ns2:score=\"{r['score']}\">"
            f"<title>{escape(r['title'])}</title><status id=\"s-1\">Official</status>"
            f"{_artist_credit(r['artist'])}{_release_group(r)}<date>{r['date']}</date>"
            f"<country>{r['country']}</country><medium-list count=\"1\">"
            f"<track-count>{len(r['tracks'])}</track-count><medium><format>CD</format>"
            f"<track-list count=\"{len(r['tracks'])}\"/></medium></medium-list></release>")


def _track(mbid: str, n: int, title: str | None, length: int | None, rec_length: int,
           rec_title: str) -> str:
    return (f"<track id=\"{mbid[:8]}-t{n}\"><position>{n}</position><number>{n}</number>"
            + (f"<title>{escape(title)}</title>" if title else "")
            + (f"<length>{length}</length>" if length else "")
            + f"<recording id=\"{mbid[:8]}-r{n}\"><title>{escape(rec_title)}</title>"
            f"<length>{rec_length}</length></recording></track>")


def _full_release(mbid: str) -> str:
    r = RELEASES[mbid]
    tracks = "".join(
        _track(mbid, n, title, length, rec_length,
               r["recording_titles"].get(n - 1, title or ""))
        for n, (title, length, rec_length) in enumerate(r["tracks"], 1))
    return (f"<release id={quoteattr(mbid)}><title>{escape(r['title'])}</title>"
            "<status id=\"s-1\">Official</status><quality>normal</quality>"
            "<text-representation><language>hin</language><script>Latn</script>"
            f"</text-representation><date>{r['date']}</date><country>{r['country']}</country>"
            "<medium-list count=\"1\"><medium><position>1</position><format>CD</format>"
            f"<track-list count=\"{len(r['tracks'])}\" offset=\"0\">{tracks}</track-list>"
            "</medium></medium-list></release>")


def _metadata(body: str) -> str:
    return (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><metadata xmlns=\"{MB_NS}\" "
            f"xmlns:ns2=\"{EXT_NS}\" created=\"2024-05-01T10:00:00.000Z\">{body}</metadata>")


def release_query_title(query: str) -> str:
    """The text of ``release:(...)`` in a Lucene query, unescaped."""
    match = re.search(r"release:\((.*?)(?<!\\)\)", query)
    text = match.group(1) if match else query
    return re.sub(r"\\(.)", r"\1", text)


def musicbrainz_answer(path: str, query: dict[str, str]) -> tuple[int, str]:
    if path.rstrip("/") == "/ws/2/release" and "query" in query:
        wanted = norm(release_query_title(query["query"]))
        hits = [mbid for mbid, r in RELEASES.items()   # fuzzy like Lucene: types not filtered
                if wanted and (norm(r["title"]) in wanted or wanted in norm(r["title"]))]
        body = "".join(_search_release(m) for m in hits)
        return 200, _metadata(f"<release-list count=\"{len(hits)}\" offset=\"0\">{body}"
                              "</release-list>")
    match = re.fullmatch(r"/ws/2/release/([0-9a-f-]+)", path)
    if match and match.group(1) in RELEASES:
        return 200, _metadata(_full_release(match.group(1)))
    return 404, "<?xml version=\"1.0\"?><error><text>Not Found</text></error>"


# -- the handler ------------------------------------------------------------------------------
def _handler(server: MetadataServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes, content_type: str,
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: dict, headers: dict | None = None) -> None:
            self._send(status, json.dumps(data, ensure_ascii=False).encode("utf-8"),
                       "application/json;charset=utf-8", headers)

        def do_GET(self) -> None:  # noqa: N802 - the http.server hook
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            service = ("tmdb" if parts.path.startswith("/3/") else
                       "musicbrainz" if parts.path.startswith("/ws/2/") else "other")
            recorded = Recorded(service, parts.path, query, dict(self.headers.items()))
            action = server.next_action(recorded)
            if service == "other":
                self._send(404, b"not found", "text/plain")
            elif action == 429:
                body = {"success": False, "status_code": 25, "status_message":
                        "Your request count (41) is over the allowed limit of (40)."}
                self._json(429, body, {"Retry-After": server.retry_after})
            elif action != "ok":
                self._send(int(action), b"<html>server error</html>", "text/html")
            elif service == "tmdb":
                self._tmdb(parts.path, query)
            else:
                status, xml = musicbrainz_answer(parts.path, query)
                self._send(status, xml.encode("utf-8"), "application/xml; charset=utf-8")

        def _tmdb(self, path: str, query: dict[str, str]) -> None:
            bearer = self.headers.get("Authorization", "")
            if query.get("api_key") != server.api_key and bearer != f"Bearer {server.api_key}":
                self._json(401, {"success": False, "status_code": 7, "status_message":
                                 "Invalid API key: You must be granted a valid key."})
                return
            status, data = tmdb_answer(path, query)
            self._json(status, data)

    return Handler
