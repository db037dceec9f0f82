"""A minimal Hugging Face hub on 127.0.0.1, for testing downloads with the real
huggingface_hub client (HF_ENDPOINT=hub.endpoint) and no network.

It serves a catalogue {repo_id: {filename: bytes}} of model repos, each at one fixed commit,
through exactly the endpoints huggingface_hub 1.x's snapshot_download / hf_hub_download call:

    GET  /api/models/{repo}/revision/{rev}   model_info: "sha" and "siblings"
    GET  /api/models/{repo}/tree/{rev}       list_repo_tree (recursive): oid, size, lfs
    HEAD /{repo}/resolve/{rev}/{file}        metadata: X-Repo-Commit, ETag, Content-Length;
                                             LFS files also X-Linked-Etag / X-Linked-Size
    GET  /{repo}/resolve/{rev}/{file}        the bytes; honours "Range: bytes=N-" (206)

Files whose names end in an LFS suffix (model.bin, *.safetensors, ...) are LFS: their ETag is
the sha256 of the content, so the client names the blob by sha256; other files carry the git
blob sha1. LFS files are served straight from /resolve (the real hub redirects them to a CDN
on another host, which huggingface_hub then fetches without auth; the metadata is the same).
No X-Xet-* header, xetHash or xet link is ever sent, so the client never takes the Xet path.

Unknown repos answer 404 with X-Error-Code: RepoNotFound, unknown revisions RevisionNotFound,
unknown files EntryNotFound, like the hub. ``cut_short(repo, file)`` makes the next GET of a
file send half its bytes and close the connection (``then=500``: later GETs of it fail);
``fail(status)`` answers every request with that status (a hub that is down). It also answers
GET /api/agent-harnesses (an empty registry), which huggingface_hub fetches once a day. Every
request is recorded in ``requests``; past ``max_requests`` the hub answers 410 and sets
``overflowed``, so a runaway client is caught.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".bin", ".safetensors", ".pt", ".pth", ".th", ".ckpt", ".onnx", ".npz", ".h5",
                ".model", ".msgpack")

_API = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/(?P<kind>revision|tree)/(?P<rev>[^/]+)"
                  r"(?:/(?P<path>.*))?)?$")
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def commit_for(repo_id: str) -> str:
    """The fixed 40-hex commit the fake hub serves ``repo_id`` at."""
    return hashlib.sha1(f"fake-hub commit of {repo_id}".encode()).hexdigest()


def is_lfs(filename: str) -> bool:
    return filename.endswith(LFS_SUFFIXES)


@dataclass
class Request:
    method: str
    path: str  # unquoted, without the query
    query: str
    headers: dict[str, str]  # lower-case names
    status: int = 0


@dataclass
class FakeHub:
    catalogue: dict[str, dict[str, bytes]]
    max_requests: int = 500
    requests: list[Request] = field(default_factory=list)
    overflowed: bool = False
    _cuts: set[tuple[str, str]] = field(default_factory=set)
    _broken: dict[tuple[str, str], int] = field(default_factory=dict)
    _fail_status: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            fake = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "the fake hub is not running"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- behaviour ---------------------------------------------------------------------------
    def cut_short(self, repo_id: str, filename: str, *, then: int | None = None) -> None:
        """The next GET of this file sends half of its bytes, then closes the connection;
        with ``then``, every later GET of it answers that status until ``heal()``."""
        with self._lock:
            self._cuts.add((repo_id, filename))
            if then is not None:
                self._broken[(repo_id, filename)] = then

    def heal(self) -> None:
        """Serve every file normally again (cuts, broken files and ``fail`` are cleared)."""
        with self._lock:
            self._cuts.clear()
            self._broken.clear()
            self._fail_status = None

    def fail(self, status: int | None) -> None:
        """Answer every request with ``status`` (None: serve normally again)."""
        self._fail_status = status

    # -- what happened ---------------------------------------------------------------------
    def commit(self, repo_id: str) -> str:
        return commit_for(repo_id)

    def file_gets(self, repo_id: str, filename: str | None = None) -> list[Request]:
        """The GET /resolve requests for a repo (or one of its files), in order."""
        prefix = f"/{repo_id}/resolve/"
        return [r for r in self.requests if r.method == "GET" and r.path.startswith(prefix)
                and (filename is None or r.path.endswith("/" + filename))]

    def fetched_repos(self) -> set[str]:
        """The repos whose files were asked for (HEAD or GET /resolve)."""
        return {m["repo"] for r in self.requests if (m := _RESOLVE.match(r.path))}

    def for_repo(self, repo_id: str) -> list[Request]:
        return [r for r in self.requests
                if r.path.startswith((f"/{repo_id}/", f"/api/models/{repo_id}/"))
                or r.path == f"/api/models/{repo_id}"]

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()
            self.overflowed = False


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHub
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects; every reply has a length
    server_version = "fake-hub/1"

    def log_message(self, format, *args):  # noqa: A002 - quiet: the hub records requests itself
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    # -- dispatch --------------------------------------------------------------------------
    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        record = Request(method, unquote(url.path), url.query,
                         {k.lower(): v for k, v in self.headers.items()})
        hub = self.fake
        with hub._lock:
            hub.requests.append(record)
            over = len(hub.requests) > hub.max_requests
            if over:
                hub.overflowed = True
        if over:
            return self._json(record, 410, {"error": "fake hub: too many requests"})
        if hub._fail_status is not None:
            return self._json(record, hub._fail_status, {"error": "fake hub: internal error"})
        if record.path == "/api/agent-harnesses":  # huggingface_hub fetches it once a day
            return self._json(record, 200, {"standardEnvVars": [], "harnesses": {}})
        if m := _API.match(record.path):
            return self._api(record, m)
        if m := _RESOLVE.match(record.path):
            return self._resolve(record, method, m)
        return self._json(record, 404, {"error": "Not Found"})

    def _repo(self, record: Request, repo_id: str, rev: str) -> dict[str, bytes] | None:
        files = self.fake.catalogue.get(repo_id)
        if files is None:
            self._json(record, 404, {"error": "Repository not found"}, code="RepoNotFound",
                       message="Repository not found")
            return None
        if rev not in ("main", commit_for(repo_id)):
            self._json(record, 404, {"error": f"Invalid rev id: {rev}"}, code="RevisionNotFound",
                       message=f"Invalid rev id: {rev}")
            return None
        return files

    def _api(self, record: Request, m: re.Match) -> None:
        repo_id, kind, rev = m["repo"], m["kind"], m["rev"] or "main"
        files = self._repo(record, repo_id, rev)
        if files is None:
            return
        commit = commit_for(repo_id)
        if kind == "tree":
            return self._json(record, 200, _tree(files, m["path"] or ""))
        self._json(record, 200, {
            "_id": commit[:24], "id": repo_id, "modelId": repo_id, "author": repo_id.split("/")[0],
            "sha": commit, "lastModified": "2024-01-01T00:00:00.000Z",
            "createdAt": "2024-01-01T00:00:00.000Z", "private": False, "gated": False,
            "disabled": False, "downloads": 0, "likes": 0, "tags": [],
            "siblings": [{"rfilename": name} for name in sorted(files)],
        })

    def _resolve(self, record: Request, method: str, m: re.Match) -> None:
        repo_id, rev, path = m["repo"], m["rev"], m["path"]
        files = self._repo(record, repo_id, rev)
        if files is None:
            return
        commit = commit_for(repo_id)
        if path not in files:
            return self._json(record, 404, {"error": "Entry not found"}, code="EntryNotFound",
                              message="Entry not found", extra={"X-Repo-Commit": commit})
        cut, broken = False, None
        if method == "GET":
            with self.fake._lock:
                cut = (repo_id, path) in self.fake._cuts
                self.fake._cuts.discard((repo_id, path))
                broken = None if cut else self.fake._broken.get((repo_id, path))
        if broken is not None:
            return self._json(record, broken, {"error": "fake hub: internal error"})
        data = files[path]
        headers = {"X-Repo-Commit": commit, "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream"}
        if is_lfs(path):
            digest = sha256(data)
            headers.update({"ETag": f'"{digest}"', "X-Linked-Etag": f'"{digest}"',
                            "X-Linked-Size": str(len(data))})
        else:
            headers["ETag"] = f'"{git_blob_sha1(data)}"'
        start = 0
        status = 200
        range_header = record.headers.get("range")
        if range_header and method == "GET":
            rm = re.fullmatch(r"bytes=(\d+)-(\d*)", range_header.strip())
            if not rm or int(rm[1]) >= len(data):
                record.status = 416
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = int(rm[1])
            end = int(rm[2]) if rm[2] else len(data) - 1
            data = data[start:end + 1]
            status = 206
            headers["Content-Range"] = f"bytes {start}-{start + len(data) - 1}/{len(files[path])}"
        record.status = status
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if method == "HEAD":
            return
        if cut:  # a dropped connection: half the bytes, then the socket closes
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)

    def _json(self, record: Request, status: int, body, *, code: str | None = None,
              message: str | None = None, extra: dict[str, str] | None = None) -> None:
        record.status = status
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if code:
            self.send_header("X-Error-Code", code)
        if message:
            self.send_header("X-Error-Message", message)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


def _tree(files: dict[str, bytes], under: str) -> list[dict]:
    """The recursive /tree listing: folders, then files with their git oid (and LFS info)."""
    prefix = under.strip("/") + "/" if under.strip("/") else ""
    folders = sorted({"/".join(name.split("/")[:i]) for name in files
                      for i in range(1, name.count("/") + 1)})
    out: list[dict] = [{"type": "directory", "path": f, "oid": hashlib.sha1(f.encode()).hexdigest(),
                        "size": 0} for f in folders if f.startswith(prefix)]
    for name in sorted(files):
        if not name.startswith(prefix):
            continue
        data = files[name]
        entry: dict = {"type": "file", "path": name, "size": len(data)}
        if is_lfs(name):
            pointer = (f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256(data)}\n"
                       f"size {len(data)}\n").encode()
            entry["oid"] = git_blob_sha1(pointer)
            entry["lfs"] = {"oid": sha256(data), "size": len(data), "pointerSize": len(pointer)}
        else:
            entry["oid"] = git_blob_sha1(data)
        out.append(entry)
    return out


def tiny_model_files(repo_id: str, *, weights_kb: int = 64) -> dict[str, bytes]:
    """A small, deterministic file set that looks like a model repo: a config, a vocabulary,
    a nested tokenizer file and LFS weights (``weights_kb`` KiB of repo-specific bytes)."""
    seed = hashlib.sha256(repo_id.encode()).digest()
    weights = (seed * (weights_kb * 1024 // len(seed) + 1))[:weights_kb * 1024]
    return {
        "config.json": json.dumps({"model": repo_id, "fake": True}).encode(),
        "vocabulary.txt": "\n".join(["<s>", "</s>", repo_id]).encode(),
        "tokenizer/tokenizer.json": json.dumps({"repo": repo_id}).encode(),
        "model.bin": weights,
    }
