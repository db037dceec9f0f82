"""The whole transcribe workflow, every optional stage included, in a network namespace with
no network at all: every stage finds what it needs on disk."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests import tiny_demucs
from tests.helpers import ROOT, lock, make_model_cache, network_namespace_works, prepare

pytestmark = pytest.mark.e2e


@pytest.mark.skipif(not network_namespace_works(),
                    reason="needs `unshare --net` (root or user namespaces); the stages' own "
                    "tests refuse sockets inside the process instead")
def test_full_transcribe_workflow_without_a_network(speech, tmp_path):
    cache, hw_json = make_model_cache(tmp_path)
    tiny_demucs.install(cache)
    env = {"SUBPIPE_HARDWARE_CACHE": str(hw_json)}
    out = tmp_path / "out"
    job_id = prepare("--media", str(speech / "jfk.flac"), "-s", "en", "--separate",
                     "--vad", "silero", "--set", "source_separation.cpu_threads=1",
                     out=out, env=env)
    proc = subprocess.run(["unshare", "--net", str(ROOT / "run-pipeline.sh"), "-j", job_id,
                           "--out", str(out)], capture_output=True, text=True, timeout=900,
                          env={**os.environ, **env, "TMDB_API_KEY": "offline-test-key"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    stages = {"demux", "metadata", "glossary", "source_separation", "vad", "asr", "alignment",
              "songs", "subtitles:source"}
    for stage in stages:
        assert f"{stage}: done in" in proc.stdout
    # a random tiny Demucs garbles the vocals, so the words are not checked: the point is
    # that every stage ran, offline, and left its outputs
    assert set(lock(out / job_id)["stages"]) == stages
    # the metadata stage tried TMDB with the key, found no network, and went on
    metadata = json.loads(next((out / job_id).glob("stages/*_metadata/metadata.json"))
                          .read_text("utf-8"))
    assert metadata["found"] is False and metadata["warnings"]
    assert "offline-test-key" not in proc.stdout + proc.stderr
    assert (out / job_id / "subtitles" / "jfk.en.srt").is_file()
