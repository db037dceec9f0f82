"""The metadata stage's parts, in-process: choosing a film among search results, TMDB's
details made into metadata.json's shape, the bounded retries (httpx's MockTransport, a fake
sleep), the answer cache (stale, damaged), file-name parsing and resolve, the MusicBrainz
release choice and track list, and params that fail early."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from shared.hardware_cache import CachePaths
from shared.stage import ResolveContext
from stages.metadata import (
    MetadataParams,
    parse_filename,
    parse_filename_cached,
    resolve,
    split_year,
)
from stages.metadata.cache import JsonCache, query_key
from stages.metadata.films import choose, same_title, summarize
from stages.metadata.musicbrainz import choose_release, host_of, search_titles, tracks_of
from stages.metadata.retry import JsonGetter, ServiceError, retry_after

httpx = pytest.importorskip("httpx")


def hit(movie_id: int, title: str, date: str, popularity: float, **extra) -> dict:
    return {"id": movie_id, "title": title, "original_title": extra.pop("original", title),
            "release_date": date, "popularity": popularity, **extra}


# -- choosing a film --------------------------------------------------------------------------
def test_one_result_is_the_only_choice():
    chosen, choice = choose([hit(1, "Lagaan", "2001-06-15", 9.0)], "Lagaan", 1999)
    assert chosen["id"] == 1 and choice == {"reason": "only", "alternatives": []}


def test_the_year_wins_over_popularity():
    results = [hit(1, "Devdas", "2002-07-12", 11.5), hit(2, "Devdas", "1955-01-01", 3.2),
               hit(3, "Devdas", "1936-09-26", 1.1)]
    chosen, choice = choose(results, "Devdas", 1955)
    assert chosen["id"] == 2 and choice["reason"] == "year"
    assert choice["alternatives"] == [
        {"id": 1, "title": "Devdas", "year": 2002, "popularity": 11.5},
        {"id": 3, "title": "Devdas", "year": 1936, "popularity": 1.1}]


def test_without_a_matching_year_the_most_popular_wins():
    results = [hit(2, "Devdas", "1955-01-01", 3.2), hit(1, "Devdas", "2002-07-12", 11.5)]
    for year in (None, 1990):
        chosen, choice = choose(results, "Devdas", year)
        assert chosen["id"] == 1 and choice["reason"] == "popularity"


def test_an_exact_title_beats_a_more_popular_partial_match():
    results = [hit(1, "Don 2", "2011-12-23", 20.0), hit(2, "Don", "2006-10-20", 8.0)]
    chosen, choice = choose(results, "don", None)
    assert chosen["id"] == 2 and choice["reason"] == "title"
    # the original title counts too (a Hindi query for an English-titled result)
    results = [hit(1, "Mughal-E-Azam", "1960-08-05", 6.4, original="मुग़ल-ए-आज़म"),
               hit(2, "Mughal Garden", "1960-01-01", 9.0)]
    chosen, _ = choose(results, "मुग़ल-ए-आज़म", None)
    assert chosen["id"] == 1


def test_same_title_ignores_case_and_punctuation_not_letters():
    assert same_title("Mughal-E-Azam", "mughal e azam")
    assert same_title("मुग़ल-ए-आज़म", "मुग़ल ए आज़म")
    assert not same_title("Devdas", "Devdasi") and not same_title("", "")


def test_details_become_names_characters_and_crew():
    details = {
        "id": 7, "title": "Lagaan", "original_title": "लगान", "release_date": "2001-06-15",
        "original_language": "hi", "overview": "Cricket.", "genres": [{"id": 1, "name": "Drama"}],
        "credits": {
            "cast": [{"name": "B", "character": "Gauri", "order": 1},
                     {"name": "A", "character": "Bhuvan", "order": 0},
                     {"name": "C", "character": None}, {"character": "no name"}],
            "crew": [{"name": "D", "job": "Director", "department": "Directing"},
                     {"name": "D", "job": "Screenplay", "department": "Writing"},
                     {"name": "E", "job": "Dialogue", "department": "Writing"},
                     {"name": "F", "job": "Original Music Composer", "department": "Sound"},
                     {"name": "G", "job": "Lyricist", "department": "Sound"},
                     {"name": "F", "job": "Songs", "department": "Sound"},
                     {"name": "H", "job": "Editor", "department": "Editing"}]}}
    film = summarize(details)
    assert [c["name"] for c in film["cast"]] == ["A", "B", "C"]
    assert film["cast"][2] == {"name": "C", "character": "", "order": 2}
    assert film["crew"] == {"director": ["D"], "writers": ["D", "E"], "music": ["F", "G"]}
    assert {c["job"] for c in film["crew_detail"]} == {
        "Director", "Screenplay", "Dialogue", "Original Music Composer", "Lyricist", "Songs"}
    assert film["year"] == 2001 and film["genres"] == ["Drama"]
    assert summarize({"id": 1, "release_date": ""})["year"] is None


# -- bounded retries --------------------------------------------------------------------------
def getter_for(handler, *, max_tries=3, max_wait_s=10.0, secret="secret-key-123456"):
    sleeps: list[float] = []
    client = httpx.Client(base_url="http://tmdb.test/3/", params={"api_key": secret},
                          transport=httpx.MockTransport(handler), timeout=5)
    return JsonGetter(client, "TMDB", secret, max_tries=max_tries, max_wait_s=max_wait_s,
                      sleep=sleeps.append), sleeps


def test_retry_after_seconds_dates_and_backoff():
    assert retry_after("2", 1) == 2.0 and retry_after(" 0.5 ", 1) == 0.5
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 <= retry_after(later, 1) <= 31
    assert retry_after(None, 1) == 0.5 and retry_after("soon", 3) == 2.0
    assert retry_after("-4", 1) == 0.0


def test_429_is_retried_after_its_retry_after():
    answers = [httpx.Response(429, headers={"Retry-After": "2"}, json={}),
               httpx.Response(200, json={"results": []})]
    getter, sleeps = getter_for(lambda request: answers.pop(0))
    assert getter.get("search/movie", {"query": "x"}) == {"results": []}
    assert sleeps == [2.0] and getter.requests == 2


def test_a_retry_after_past_the_wait_budget_gives_up_without_sleeping():
    getter, sleeps = getter_for(
        lambda request: httpx.Response(429, headers={"Retry-After": "60"}, json={}))
    with pytest.raises(ServiceError, match="max_retry_wait_s"):
        getter.get("search/movie", {})
    assert sleeps == [] and getter.requests == 1


def test_server_errors_stop_after_max_tries():
    getter, sleeps = getter_for(lambda request: httpx.Response(503, text="down"))
    with pytest.raises(ServiceError, match="HTTP 503 after 3 tries"):
        getter.get("movie/1", {})
    assert sleeps == [0.5, 1.0]


def test_404_is_none_and_401_names_the_key():
    getter, _ = getter_for(lambda request: httpx.Response(404, json={"status_code": 34}))
    assert getter.get("movie/1", {}) is None
    getter, _ = getter_for(lambda request: httpx.Response(
        401, json={"status_message": "Invalid API key: You must be granted a valid key."}))
    with pytest.raises(ServiceError, match="API key was refused"):
        getter.get("movie/1", {})


def test_errors_never_carry_the_key():
    secret = "abcdef0123456789secret"

    def refuse(request):
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    getter, _ = getter_for(refuse, secret=secret)
    with pytest.raises(ServiceError) as caught:
        getter.get("search/movie", {"query": "x"})
    assert "unreachable" in str(caught.value) and secret not in str(caught.value)
    assert secret[:8] not in str(caught.value)


def test_a_year_missing_from_the_first_page_is_asked_for():
    from stages.metadata.tmdb import _search

    first = {"page": 1, "total_pages": 3, "results": [hit(1, "Don", "2006-10-20", 20.0),
                                                      hit(2, "Don 2", "2011-12-23", 15.0)]}
    narrowed = {"page": 1, "total_pages": 1, "results": [hit(3, "Don", "1978-05-12", 4.0)]}
    seen = []

    def answer(request):
        seen.append(dict(request.url.params))
        return httpx.Response(200, json=narrowed if "primary_release_year" in request.url.params
                              else first)

    getter, _ = getter_for(answer)
    chosen, choice = _search(getter, "Don", 1978, "en-US")
    assert chosen["id"] == 3 and choice["reason"] == "only"
    assert seen[1]["primary_release_year"] == "1978" and "primary_release_year" not in seen[0]
    seen.clear()
    _search(getter, "Don", 2006, "en-US")  # the year is on the first page: one request
    assert len(seen) == 1


def test_a_given_tmdb_id_skips_the_search(tmp_path):
    from stages.metadata.tmdb import lookup

    def answer(request):
        if request.url.path == "/3/movie/7":
            return httpx.Response(200, json={"id": 7, "title": "Lagaan",
                                             "release_date": "2001-06-15", "credits": {}})
        return httpx.Response(404, json={"status_code": 34})

    warnings: list[str] = []
    getter, _ = getter_for(answer)
    cache = JsonCache(tmp_path, 180, warnings)
    found = lookup(MetadataParams(title="x", tmdb_id=7), getter, cache, warnings)
    assert found.found and found.film["title"] == "Lagaan" and getter.requests == 1
    assert found.choice == {"reason": "tmdb_id", "alternatives": []}
    missing = lookup(MetadataParams(title="x", tmdb_id=8), getter, cache, warnings)
    assert not missing.found and warnings == ["TMDB has no film with id 8"]


# -- the cache --------------------------------------------------------------------------------
def test_cache_entries_go_stale_and_damaged_ones_are_misses(tmp_path):
    warnings: list[str] = []
    cache = JsonCache(tmp_path, 30, warnings)
    cache.put("movie", "7", {"movie": {"id": 7}})
    entry = cache.get("movie", "7")
    assert entry is not None and not entry.stale and entry.data == {"movie": {"id": 7}}
    old = datetime.now(timezone.utc) - timedelta(days=31)
    (tmp_path / "movie" / "7.json").write_text(json.dumps(
        {"fetched_at": old.isoformat(), "data": {}}), "utf-8")
    assert cache.get("movie", "7").stale
    for damaged in ("{broken", "[]", '{"fetched_at": "yesterday", "data": {}}',
                    '{"data": {}}'):
        (tmp_path / "movie" / "7.json").write_text(damaged, "utf-8")
        assert cache.get("movie", "7") is None
    assert len(warnings) == 4 and all("damaged cache file" in w for w in warnings)
    assert cache.get("movie", "8") is None and len(warnings) == 4  # a miss is no warning
    with pytest.raises(ValueError):
        cache.path("movie", "../escape")


def test_query_keys_ignore_case_and_spacing_but_not_year():
    assert query_key("Lagaan ", 2001, "en-US") == query_key("lagaan", 2001, "en-US")
    assert query_key("Lagaan", 2001, "en-US") != query_key("Lagaan", None, "en-US")


def test_an_unwritable_cache_is_a_warning(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x", "utf-8")
    warnings: list[str] = []
    JsonCache(blocker, 1, warnings).put("movie", "1", {})
    assert warnings and "could not write" in warnings[0]


# -- title, year and resolve ------------------------------------------------------------------
def test_release_file_names_and_year_suffixes():
    assert parse_filename("Lagaan.2001.1080p.BluRay.mkv") == ("Lagaan", 2001)
    assert parse_filename("Mughal-e-Azam (1960) [720p].mp4") == ("Mughal-e-Azam", 1960)
    assert parse_filename("मुग़ल-ए-आज़म.1960.mkv") == ("मुग़ल-ए-आज़म", 1960)
    assert split_year("Devdas (1955)") == ("Devdas", 1955)
    assert split_year("Blade Runner 2049") == ("Blade Runner 2049", None)


def test_a_file_name_is_parsed_once_then_read_from_the_cache(tmp_path):
    name = "Lagaan.2001.1080p.BluRay.mkv"
    assert parse_filename_cached(name, tmp_path / "app") == ("Lagaan", 2001)
    memo_file = tmp_path / "app" / "filenames.json"
    memo = json.loads(memo_file.read_text("utf-8"))
    (key, answer), = memo.items()
    assert key.startswith("guessit ") and key.endswith(": " + name) and answer == ["Lagaan", 2001]
    memo_file.write_text(json.dumps({key: ["From the cache", 1999]}), "utf-8")
    assert parse_filename_cached(name, tmp_path / "app") == ("From the cache", 1999)
    memo_file.write_text("not json", "utf-8")  # a damaged memo only costs a parse
    assert parse_filename_cached(name, tmp_path / "app") == ("Lagaan", 2001)


def ctx_for(tmp_path: Path, title: str, year=None, media="film.mkv") -> ResolveContext:
    job = SimpleNamespace(title=title, year=year, media=SimpleNamespace(path=tmp_path / media))
    return ResolveContext(hardware=SimpleNamespace(cache=CachePaths.under(tmp_path / "c")),
                          models=None, job=job, profile="cpu", lang=None)


def test_resolve_parses_the_file_name_only_when_the_title_is_its_stem(tmp_path, monkeypatch):
    monkeypatch.setenv("TMDB_API_KEY", " k ")
    name = "Lagaan.2001.1080p.BluRay.mkv"
    params = resolve(MetadataParams(), ctx_for(tmp_path, Path(name).stem, media=name))
    assert (params.title, params.year, params.parsed_from_filename) == ("Lagaan", 2001, True)
    assert params.tmdb_cache_dir == str(tmp_path.resolve() / "c" / "app" / "tmdb")
    assert params.musicbrainz_cache_dir.endswith("musicbrainz")
    assert params.credentials == "TMDB_API_KEY"
    params = resolve(MetadataParams(), ctx_for(tmp_path, "Lagaan.2001", 2002, media=name))
    assert (params.title, params.year, params.parsed_from_filename) == \
        ("Lagaan.2001", 2002, False)
    params = resolve(MetadataParams(), ctx_for(tmp_path, "Devdas (1955)"))
    assert (params.title, params.year) == ("Devdas", 1955)
    params = resolve(MetadataParams(title="Devdas", year=2002),
                     ctx_for(tmp_path, Path(name).stem, media=name))
    assert (params.title, params.year, params.parsed_from_filename) == ("Devdas", 2002, False)


def test_bad_params_fail_early():
    for bad in ({"language": "english"}, {"tmdb_base_url": "ftp://x"},
                {"max_retries": 0}, {"year": 20011}, {"timeout_s": 0}, {"bogus": 1},
                {"musicbrainz_base_url": "http://a b"}):
        with pytest.raises(ValidationError):
            MetadataParams(**bad)
    assert MetadataParams(language="hi-IN", musicbrainz_base_url="127.0.0.1:5000")


# -- MusicBrainz ------------------------------------------------------------------------------
def release(mbid, title, date, group_type="Soundtrack", score="100"):
    return {"id": mbid, "title": title, "date": date, "ext:score": score,
            "release-group": {"type": group_type,
                              "secondary-type-list": ["Soundtrack"]
                              if group_type == "Soundtrack" else []}}


def test_the_soundtrack_release_is_chosen():
    releases = [release("a", "Lagaan", "2019", "Album"), release("b", "Lagaan", "2001-05-09"),
                release("c", "Once Upon a Time in America", "1984")]
    assert choose_release(releases, ["Lagaan"], 2001)["id"] == "b"
    assert choose_release(releases, ["Lagaan"], None)["id"] == "b"
    assert choose_release(releases[2:], ["Lagaan"], 2001) is None  # no title match
    near = [release("x", "Lagaan (Original Motion Picture Soundtrack)", "2001", score="90"),
            release("y", "Lagaan Remixes", "2011", score="95")]
    assert choose_release(near, ["Lagaan"], 2001)["id"] == "x"


def test_search_titles_prefers_the_shortest_latin_title():
    assert search_titles(["Lagaan", "Lagaan: Once Upon a Time in India", "लगान"]) == [
        "Lagaan", "Lagaan: Once Upon a Time in India", "लगान"]
    assert search_titles(["मुग़ल-ए-आज़म", "Mughal-E-Azam", None])[0] == "Mughal-E-Azam"
    assert search_titles(["मुग़ल-ए-आज़म"]) == ["मुग़ल-ए-आज़म"]


def test_tracks_across_media_with_lengths():
    rel = {"medium-list": [
        {"position": "1", "track-list": [
            {"position": "1", "number": "A1", "title": "One", "length": "61000",
             "track_or_recording_length": "61000"},
            {"position": "2", "number": "A2", "recording": {"title": "Two", "length": "1500"},
             "track_or_recording_length": "1500"}]},
        {"position": "2", "track-list": [{"position": "1", "number": "B1", "title": "Three"}]}]}
    assert tracks_of(rel) == [
        {"position": 1, "medium": 1, "number": "A1", "title": "One", "length_s": 61.0},
        {"position": 2, "medium": 1, "number": "A2", "title": "Two", "length_s": 1.5},
        {"position": 3, "medium": 2, "number": "B1", "title": "Three", "length_s": None}]


def test_musicbrainz_host_from_param_or_environment(monkeypatch):
    monkeypatch.delenv("MUSICBRAINZ_BASE_URL", raising=False)
    assert host_of(MetadataParams()) == ("musicbrainz.org", True)
    monkeypatch.setenv("MUSICBRAINZ_BASE_URL", "127.0.0.1:5000")
    assert host_of(MetadataParams()) == ("127.0.0.1:5000", False)
    assert host_of(MetadataParams(musicbrainz_base_url="https://mb.example.org/")) == \
        ("mb.example.org", True)
    assert host_of(MetadataParams(musicbrainz_base_url="http://10.0.0.2:5000")) == \
        ("10.0.0.2:5000", False)
