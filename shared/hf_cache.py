"""The Hugging Face hub cache layout, read and written without huggingface_hub, so it works
in every venv and the checks are exactly the ones the loaders depend on:

    <hub>/models--<org>--<name>/blobs/<hash>
    <hub>/models--<org>--<name>/snapshots/<revision>/<file> -> ../../blobs/<hash>
    <hub>/models--<org>--<name>/refs/main        the revision, with NO trailing newline
    <hub>/models--<org>--<name>/trees/<rev>.json the file listing huggingface_hub >= 1.x saves
                                                 before fetching the files
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from shared.file_hashes import sha256_file

_CHUNK = 8 * 2**20


def repo_folder(hub_cache: Path, repo_id: str) -> Path:
    return Path(hub_cache) / ("models--" + repo_id.replace("/", "--"))


def read_ref(hub_cache: Path, repo_id: str, ref: str = "main") -> str | None:
    path = repo_folder(hub_cache, repo_id) / "refs" / ref
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8")


def snapshot_dir(hub_cache: Path, repo_id: str, revision: str = "main") -> Path | None:
    """The snapshot folder that ``revision`` (a ref name or commit) resolves to, or None."""
    commit = read_ref(hub_cache, repo_id, revision) if len(revision) != 40 else revision
    if not commit:
        return None
    folder = repo_folder(hub_cache, repo_id) / "snapshots" / commit
    return folder if folder.is_dir() else None


def is_cached(hub_cache: Path, repo_id: str, revision: str = "main") -> bool:
    """The snapshot exists, is not empty, and holds every file of its saved listing."""
    folder = snapshot_dir(hub_cache, repo_id, revision)
    if folder is None or not any(folder.iterdir()):
        return False
    return not missing_files(hub_cache, repo_id, folder.name)


def missing_files(hub_cache: Path, repo_id: str, commit: str) -> list[str]:
    """Files the commit's saved listing (trees/<commit>.json) names but the snapshot lacks:
    what an interrupted download left out. huggingface_hub writes refs/ and the listing before
    it fetches the files, so a partial snapshot looks complete to a plain folder check.
    Empty when no listing was saved (the embedded model, older huggingface_hub)."""
    folder = repo_folder(hub_cache, repo_id)
    try:
        listing = json.loads((folder / "trees" / f"{commit}.json").read_text("utf-8"))
        names = list(listing["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return []
    snap = folder / "snapshots" / commit
    return sorted(name for name in names if not (snap / name).exists())


def git_blob_sha1(path: Path) -> str:
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class CacheCheck:
    status: str  # "ok" | "missing" | "incomplete" | "corrupt"
    detail: str = ""
    size_bytes: int = 0
    revision: str | None = None


def check_repo(hub_cache: Path, repo_id: str, revision: str = "main",
               hash_blobs: bool = True) -> CacheCheck:
    """Check that a cached repo is complete and intact, the way an offline load needs it."""
    folder = repo_folder(hub_cache, repo_id)
    if not folder.is_dir():
        return CacheCheck("missing", f"{folder} does not exist")
    commit = revision if len(revision) == 40 else read_ref(hub_cache, repo_id, revision)
    if commit is None:
        return CacheCheck("missing", f"{folder}/refs/{revision} does not exist")
    if commit != commit.strip():
        return CacheCheck("corrupt", f"refs/{revision} has surrounding whitespace or a newline")
    snap = folder / "snapshots" / commit
    if not snap.is_dir() or not any(snap.iterdir()):
        return CacheCheck("missing", f"snapshot {commit} is missing or empty", revision=commit)
    missing = missing_files(hub_cache, repo_id, commit)
    if missing:
        return CacheCheck("incomplete", f"{len(missing)} file(s) missing (interrupted download): "
                          f"{', '.join(missing)}", revision=commit)
    size = 0
    for path in sorted(snap.rglob("*")):
        if path.is_dir():
            continue
        if path.is_symlink() and not path.exists():
            return CacheCheck("corrupt", f"{path.relative_to(snap)} points at a missing blob",
                              revision=commit)
        size += path.stat().st_size
        if hash_blobs and path.is_symlink():
            blob = path.resolve()
            name = blob.name
            if len(name) == 64:
                actual = sha256_file(blob)
            elif len(name) == 40:
                actual = git_blob_sha1(blob)
            else:
                continue
            if actual != name:
                return CacheCheck(
                    "corrupt", f"{path.relative_to(snap)}: content hash {actual[:12]} does not "
                    f"match blob {name[:12]} (partial or damaged download)", revision=commit)
    return CacheCheck("ok", f"{size / 2**20:.0f} MB", size_bytes=size, revision=commit)


def install_snapshot(hub_cache: Path, repo_id: str, revision: str,
                     files: dict[str, Path]) -> Path:
    """Place local files into the cache as ``repo_id`` at ``revision`` (blobs named by sha256,
    relative symlinks from the snapshot, refs/main last). Returns the snapshot folder."""
    folder = repo_folder(hub_cache, repo_id)
    blobs = folder / "blobs"
    snap = folder / "snapshots" / revision
    blobs.mkdir(parents=True, exist_ok=True)
    snap.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        digest = sha256_file(source)
        blob = blobs / digest
        if not blob.exists():
            tmp = blobs / f".{digest}.incomplete"
            shutil.copyfile(source, tmp)
            os.replace(tmp, blob)
        link = snap / name
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        try:
            link.symlink_to(os.path.relpath(blob, link.parent))
        except OSError:  # no symlink permission (Windows): plain files work too
            shutil.copyfile(blob, link)
    refs = folder / "refs"
    refs.mkdir(exist_ok=True)
    tmp_ref = refs / ".main.tmp"
    tmp_ref.write_text(revision, encoding="utf-8")  # no trailing newline
    os.replace(tmp_ref, refs / "main")
    return snap


def install_folder(hub_cache: Path, repo_id: str, folder: Path) -> Path:
    """Place every file of ``folder`` into the cache as ``repo_id``, at a revision derived
    from the files' names and contents (the same files always give the same revision): what
    the tests' tiny models use. Returns the snapshot folder."""
    import hashlib

    files = {p.name: p for p in sorted(folder.iterdir()) if p.is_file()}
    digest = hashlib.sha1()
    for name, path in files.items():
        digest.update(name.encode() + path.read_bytes())
    return install_snapshot(hub_cache, repo_id, digest.hexdigest(), files)
