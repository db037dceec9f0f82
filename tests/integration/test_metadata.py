"""The metadata stage for real: `python -m stages.metadata` in .venvs/common, with httpx and
musicbrainzngs talking to a loopback stand-in of TMDB and MusicBrainz
(tests/metadata_server.py). Covers: a film found (cast with characters, crew, soundtrack
tracks), a second run served from the cache with zero requests, not found, a title shared by
several films (chosen by year, else popularity, alternatives recorded), 429 retried, a rate
limit that does not clear, server errors and a refused connection (success + warning, a stale
cache kept), a corrupt cache file refetched, no key (zero TMDB requests), a key from the keys
file as a v4 token, a non-ASCII title, a title parsed from a release-style file name, and that
the key (given with whitespace around it) reaches the server but no file, log or output."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from shared.hardware_cache import CachePaths
from shared.stage import ResolveContext, StageRequest
from stages.metadata import MetadataParams, resolve
from tests.helpers import ROOT, write_stage_request
from tests.metadata_server import MetadataServer, closed_port_url

pytestmark = pytest.mark.integration

PYTHON = ROOT / ".venvs" / "common" / "bin" / "python"
KEY = "test-key-123"
V4_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJ0ZXN0In0.c2lnbmF0dXJlLXRlc3Q"
LAGAAN, DEVDAS_2002, DEVDAS_1955 = 19666, 4254, 69334
LAGAAN_OST = "3c1f4d7e-5a2b-4c8d-9e0f-1a2b3c4d5e6f"

if not PYTHON.exists():
    pytest.skip("the common venv is missing: ./bootstrap.sh", allow_module_level=True)


class Job:
    """A job folder with the metadata stage's request.json, its params resolved as the runner
    would (stages.metadata.resolve), and the application caches under ``root/.cache``."""

    def __init__(self, root: Path, title: str, year: int | None = None, *,
                 media_name: str = "film.mkv", **params) -> None:
        self.root = root
        self.dir = root / "job"
        self.stage_dir = self.dir / "stages" / "01_metadata"
        self.stage_dir.mkdir(parents=True, exist_ok=True)
        self.home = root / "home"
        self.home.mkdir(exist_ok=True)
        self.caches = CachePaths.under(root / ".cache")
        media = root / media_name
        job = SimpleNamespace(title=title, year=year, media=SimpleNamespace(path=media))
        ctx = ResolveContext(hardware=SimpleNamespace(cache=self.caches), models=None, job=job,
                             profile="cpu", lang=None)
        self.params = resolve(MetadataParams(**params), ctx)
        request = StageRequest(
            job_id="film-1", job_dir=self.dir, stage="metadata", key="metadata",
            stage_dir=self.stage_dir, deliverables_dir=self.dir / "subtitles", title=title,
            media=media, params=self.params.model_dump(mode="json"), inputs={})
        write_stage_request(request, job_id="film-1")
        self.outputs: list[str] = []

    @property
    def tmdb_cache(self) -> Path:
        return self.caches.application_caches["tmdb"]

    def run(self, server: MetadataServer | None, *, key: str | None = KEY,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        child = {"PATH": os.environ["PATH"], "HOME": str(self.home), "PYTHONPATH": str(ROOT),
                 "PYTHONUNBUFFERED": "1", "PYTHONNOUSERSITE": "1", "LANG": "C.UTF-8",
                 "SUBPIPE_LOG_LEVEL": "DEBUG",
                 "SUBPIPE_KEYS_FILE": str(self.root / "no-keys.toml")}
        if server is not None:
            child["TMDB_BASE_URL"] = server.tmdb_url
            child["MUSICBRAINZ_BASE_URL"] = server.musicbrainz_host
        if key is not None:
            child["TMDB_API_KEY"] = f"  {key}  "  # surrounding whitespace is stripped
        child.update(env or {})
        proc = subprocess.run([str(PYTHON), "-m", "shared.stage_main", "stages.metadata",
                               "--job", str(self.dir)],
                              capture_output=True, text=True, env=child, timeout=120, cwd=ROOT)
        self.outputs.append(proc.stdout + proc.stderr)
        return proc

    @property
    def result(self) -> dict:
        return json.loads((self.stage_dir / "result.json").read_text("utf-8"))

    @property
    def metadata(self) -> dict:
        return json.loads((self.stage_dir / "metadata.json").read_text("utf-8"))


def ok(job: Job, proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr
    assert job.result["status"] == "ok", job.result
    assert job.result["outputs"] == ["stages/01_metadata/metadata.json"]
    return job.metadata


def assert_key_nowhere(job: Job, key: str = KEY) -> None:
    """The key is in no file under the test's folder (job, caches, logs) nor any output."""
    for path in job.root.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), f"the key leaked into {path}"
    for text in job.outputs:
        assert key not in text, "the key leaked into the stage's output"


def warned(document: dict, text: str) -> bool:
    return any(text in w for w in document["warnings"])


def test_found_cast_crew_soundtrack_then_served_from_cache(tmp_path):
    job = Job(tmp_path, "Lagaan", 2001)
    with MetadataServer() as server:
        doc = ok(job, job.run(server))
        tmdb, mb = server.of("tmdb"), server.of("musicbrainz")
        # a second run: everything from the cache, no request at all
        second = job.run(server)
        assert server.count() == 4
    assert [r.path for r in tmdb] == ["/3/search/movie", f"/3/movie/{LAGAAN}"]
    assert tmdb[0].query["query"] == "Lagaan" and tmdb[0].query["language"] == "en-US"
    assert all(r.query["api_key"] == KEY for r in tmdb)  # stripped of its whitespace
    assert tmdb[1].query["append_to_response"] == "credits"
    assert doc["query"] == {"title": "Lagaan", "year": 2001, "parsed_from_filename": False}
    assert doc["found"] and doc["source"] == "tmdb" and doc["tmdb_id"] == LAGAAN
    assert doc["title"] == "Lagaan: Once Upon a Time in India"
    assert doc["original_title"] == "लगान" and doc["original_language"] == "hi"
    assert doc["year"] == 2001 and "cricket" in doc["overview"]
    assert doc["genres"] == ["Drama", "Music", "History"]
    assert doc["cast"][:2] == [{"name": "Aamir Khan", "character": "Bhuvan", "order": 0},
                               {"name": "Gracy Singh", "character": "Gauri", "order": 1}]
    assert len(doc["cast"]) == 5
    assert doc["crew"] == {"director": ["Ashutosh Gowariker"],
                           "writers": ["Ashutosh Gowariker", "K. P. Saxena"],
                           "music": ["A. R. Rahman", "Javed Akhtar"]}
    assert doc["choice"] == {"reason": "only", "alternatives": []}
    assert doc["warnings"] == []

    # the soundtrack: the Soundtrack release, not the album of the same name
    assert [r.path for r in mb] == ["/ws/2/release/", f"/ws/2/release/{LAGAAN_OST}"]
    # searched by the shortest Latin title ("Lagaan", not TMDB's "Lagaan: Once Upon a ...")
    assert mb[0].query["query"] == "release:(lagaan) type:(soundtrack)"
    assert mb[1].query["inc"] == "recordings"
    assert mb[0].headers["User-Agent"].startswith("subtitle-pipeline/")
    sound = doc["soundtrack"]
    assert sound["found"] and sound["release_id"] == LAGAAN_OST and sound["title"] == "Lagaan"
    assert sound["artist"] == "A. R. Rahman" and sound["date"] == "2001-05-09"
    assert [t["title"] for t in sound["tracks"]] == [
        "Ghanan Ghanan", "Mitwa", "Radha Kaise Na Jale", "O Rey Chhori", "Chale Chalo",
        "O Paalanhaare"]
    assert [t["position"] for t in sound["tracks"]] == [1, 2, 3, 4, 5, 6]
    assert sound["tracks"][0]["length_s"] == 371.0
    assert sound["tracks"][2]["length_s"] == 335.0  # only the recording has a length

    again = ok(job, second)
    assert again["source"] == "cache" and again["soundtrack"]["source"] == "cache"
    for field in ("tmdb_id", "title", "cast", "crew", "genres", "choice"):
        assert again[field] == doc[field]
    assert again["soundtrack"]["tracks"] == sound["tracks"]
    cached = json.loads((job.tmdb_cache / "movie" / f"{LAGAAN}.json").read_text("utf-8"))
    assert cached["fetched_at"] and cached["data"]["movie"]["id"] == LAGAAN
    assert len(list((job.tmdb_cache / "search").glob("*.json"))) == 1
    assert_key_nowhere(job)


def test_not_found_succeeds_empty_with_a_warning(tmp_path):
    job = Job(tmp_path, "A Film Nobody Made", 1999)
    with MetadataServer() as server:
        doc = ok(job, job.run(server))
        assert server.count("tmdb") == 1 and server.count("musicbrainz") == 1
    assert not doc["found"] and doc["source"] == "none" and doc["cast"] == []
    assert doc["crew"] == {"director": [], "writers": [], "music": []}
    assert not doc["soundtrack"]["found"] and doc["soundtrack"]["tracks"] == []
    assert warned(doc, "TMDB has no film titled 'A Film Nobody Made' (1999)")
    assert warned(doc, "MusicBrainz has no soundtrack")


def test_ambiguous_title_picks_by_year_else_popularity(tmp_path):
    by_year = Job(tmp_path / "a", "Devdas", 1955, soundtrack=False)
    by_popularity = Job(tmp_path / "b", "Devdas", soundtrack=False)
    with MetadataServer() as server:
        doc = ok(by_year, by_year.run(server))
        other = ok(by_popularity, by_popularity.run(server))
    assert doc["tmdb_id"] == DEVDAS_1955 and doc["year"] == 1955
    assert doc["choice"]["reason"] == "year"
    assert doc["choice"]["alternatives"] == [
        {"id": DEVDAS_2002, "title": "Devdas", "year": 2002, "popularity": 11.53}]
    assert doc["cast"][0] == {"name": "Dilip Kumar", "character": "Devdas", "order": 0}
    assert other["tmdb_id"] == DEVDAS_2002 and other["choice"]["reason"] == "popularity"
    assert [a["id"] for a in other["choice"]["alternatives"]] == [DEVDAS_1955]


def test_rate_limited_then_retried(tmp_path):
    job = Job(tmp_path, "Lagaan", 2001, soundtrack=False)
    with MetadataServer(tmdb_script=[429], retry_after="1") as server:
        started = time.monotonic()
        doc = ok(job, job.run(server))
        elapsed = time.monotonic() - started
        paths = [r.path for r in server.of("tmdb")]
    assert paths == ["/3/search/movie", "/3/search/movie", f"/3/movie/{LAGAAN}"]
    assert elapsed >= 1.0  # Retry-After honoured
    assert doc["found"] and doc["warnings"] == []
    assert "rate limited (HTTP 429), try 2 of 3 in 1.0 s" in job.outputs[-1]


def test_rate_limit_that_does_not_clear_gives_up_at_once(tmp_path):
    job = Job(tmp_path, "Lagaan", 2001, soundtrack=False)
    with MetadataServer(tmdb_default=429, retry_after="3600") as server:
        started = time.monotonic()
        doc = ok(job, job.run(server))
        assert time.monotonic() - started < 20 and server.count("tmdb") == 1
    assert not doc["found"] and warned(doc, "max_retry_wait_s")


def test_server_errors_continue_with_a_warning_and_keep_a_stale_cache(tmp_path):
    job = Job(tmp_path, "Lagaan", 2001)
    with MetadataServer(tmdb_default=500, mb_default=500) as server:
        doc = ok(job, job.run(server))
        assert server.count("tmdb") == 3  # max_retries tries, then give up
        assert server.count("musicbrainz") == 3
    assert not doc["found"] and not doc["soundtrack"]["found"]
    assert warned(doc, "TMDB: HTTP 500 after 3 tries")
    assert warned(doc, "MusicBrainz: the soundtrack search failed")

    with MetadataServer() as server:  # fill the cache
        ok(job, job.run(server))
    stale = Job(tmp_path, "Lagaan", 2001, max_age_days=0)  # every entry is stale now
    with MetadataServer(tmdb_default=500, mb_default=500, max_requests=20) as server:
        doc = ok(stale, stale.run(server))
        assert server.count("tmdb") == 6  # search and details: each refetch tried 3 times
    assert doc["found"] and doc["source"] == "cache" and doc["tmdb_id"] == LAGAAN
    assert doc["soundtrack"]["found"] and doc["soundtrack"]["source"] == "cache"
    assert warned(doc, "TMDB: using the cached search of")


def test_connection_refused_continues_with_a_warning(tmp_path):
    job = Job(tmp_path, "Lagaan", 2001)
    down = closed_port_url()
    started = time.monotonic()
    doc = ok(job, job.run(None, env={"TMDB_BASE_URL": down + "/3",
                                     "MUSICBRAINZ_BASE_URL": down}))
    assert time.monotonic() - started < 30
    assert not doc["found"] and warned(doc, "TMDB: unreachable (ConnectError")
    assert warned(doc, "MusicBrainz: the soundtrack search failed")
    assert_key_nowhere(job)


def test_corrupt_cache_file_is_ignored_and_refetched(tmp_path):
    job = Job(tmp_path, "Lagaan", 2001, soundtrack=False)
    with MetadataServer() as server:
        ok(job, job.run(server))
        movie = job.tmdb_cache / "movie" / f"{LAGAAN}.json"
        movie.write_text('{"fetched_at": "2024-01-01T00:00:00+00:00", "data": {"mov', "utf-8")
        doc = ok(job, job.run(server))
        assert [r.path for r in server.of("tmdb")][2:] == [f"/3/movie/{LAGAAN}"]
    assert doc["found"] and doc["source"] == "tmdb" and doc["cast"]
    assert warned(doc, "ignoring the damaged cache file")
    assert json.loads(movie.read_text("utf-8"))["data"]["movie"]["id"] == LAGAAN


def test_no_key_makes_no_tmdb_request(tmp_path):
    """No key and metadata.online=true: MusicBrainz (which needs no key) is looked up."""
    job = Job(tmp_path, "Lagaan", 2001, online=True)
    with MetadataServer() as server:
        doc = ok(job, job.run(server, key=None))
        assert server.count("tmdb") == 0
    assert not doc["found"] and warned(doc, "no TMDB API key")
    assert warned(doc, "TMDB_API_KEY")  # the warning names the fix
    assert doc["soundtrack"]["found"]  # MusicBrainz needs no key


def test_an_offline_run_makes_no_request_says_so_once_and_uses_the_caches(tmp_path):
    """No key configured (metadata.online unset) or metadata.online=false with a key: not one
    request to either service, one warning saying lookups are off and how to turn them on;
    what an online run cached is still used, even when stale."""
    online = Job(tmp_path, "Lagaan", 2001)
    with MetadataServer() as server:
        ok(online, online.run(server))
        assert server.count("tmdb") == 2 and server.count("musicbrainz") >= 2
    for params in ({}, {"online": False}):
        job = Job(tmp_path, "Lagaan", 2001, max_age_days=0, **params)
        with MetadataServer() as server:
            doc = ok(job, job.run(server, key=None if not params else KEY))
            assert server.count() == 0
        offline = [w for w in doc["warnings"] if "online lookups are off" in w]
        assert len(offline) == 1 and "--set metadata.online=true" in offline[0], doc
        assert not any("no TMDB API key" in w or "failed" in w for w in doc["warnings"])
        assert doc["found"] and doc["source"] == "cache" and doc["soundtrack"]["found"]
        assert job.outputs[-1].count("online lookups are off") == 1
    fresh = Job(tmp_path / "elsewhere", "Lagaan", 2001)
    with MetadataServer() as server:
        doc = ok(fresh, fresh.run(server, key=None))
        assert server.count() == 0
    assert not doc["found"] and not doc["soundtrack"]["found"]


def test_v4_token_from_the_keys_file_is_sent_as_a_bearer_header(tmp_path):
    job = Job(tmp_path, "Lagaan", 2001, soundtrack=False)
    keys_file = tmp_path / "keys.toml"
    keys_file.write_text(f'[tmdb]\napi_key = " {V4_TOKEN} "\n', "utf-8")
    with MetadataServer(api_key=V4_TOKEN) as server:
        doc = ok(job, job.run(server, key=None, env={"SUBPIPE_KEYS_FILE": str(keys_file)}))
        requests = server.of("tmdb")
    assert doc["found"] and len(requests) == 2
    assert all(r.headers["Authorization"] == f"Bearer {V4_TOKEN}" for r in requests)
    assert all("api_key" not in r.query for r in requests)
    keys_file.unlink()
    assert_key_nowhere(job, V4_TOKEN)


def test_non_ascii_title(tmp_path):
    job = Job(tmp_path, "मुग़ल-ए-आज़म", 1960)
    with MetadataServer() as server:
        doc = ok(job, job.run(server))
        search = server.of("tmdb")[0]
    assert search.query["query"] == "मुग़ल-ए-आज़म"
    assert doc["found"] and doc["title"] == "Mughal-E-Azam"
    assert doc["original_title"] == "मुग़ल-ए-आज़म" and doc["query"]["title"] == "मुग़ल-ए-आज़म"
    assert {c["character"] for c in doc["cast"]} >= {"Akbar", "Salim", "Anarkali"}
    assert doc["crew"]["music"] == ["Naushad", "Shakeel Badayuni"]
    assert [t["title"] for t in doc["soundtrack"]["tracks"]] == [
        "Pyar Kiya To Darna Kya", "Mohe Panghat Pe"]


def test_title_and_year_parsed_from_a_release_file_name(tmp_path):
    name = "Lagaan.2001.1080p.BluRay.x264.mkv"
    job = Job(tmp_path, Path(name).stem, media_name=name, soundtrack=False)
    assert (job.params.title, job.params.year, job.params.parsed_from_filename) == \
        ("Lagaan", 2001, True)
    with MetadataServer() as server:
        doc = ok(job, job.run(server))
        assert server.of("tmdb")[0].query["query"] == "Lagaan"
    assert doc["query"] == {"title": "Lagaan", "year": 2001, "parsed_from_filename": True}
    assert doc["tmdb_id"] == LAGAAN


def test_disabled_writes_an_empty_document_without_requests(tmp_path):
    job = Job(tmp_path, "Lagaan", 2001, enabled=False)
    with MetadataServer() as server:
        doc = ok(job, job.run(server))
        assert server.count() == 0
    assert not doc["found"] and warned(doc, "metadata.enabled=false")
