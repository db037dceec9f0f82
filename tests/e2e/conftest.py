"""Fixtures the end-to-end tests share."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import prepare, run_pipeline


@pytest.fixture
def media_file(speech, tmp_path) -> Path:
    """A copy of jfk.flac in a folder of its own: the user's media, which a test may check
    is never modified."""
    path = tmp_path / "media" / "jfk.flac"
    path.parent.mkdir()
    shutil.copyfile(speech / "jfk.flac", path)
    return path


@pytest.fixture(scope="session")
def jfk_auto_job(test_cache, speech, tmp_path_factory) -> Path:
    """jfk.flac prepared with -s auto and run to the end once, for the tests that only read
    what that run wrote (test_transcribe.py, test_asr.py): the job folder. Do not change it."""
    jobs_root = tmp_path_factory.mktemp("jfk-auto") / "out"
    job_id = prepare("--media", str(speech / "jfk.flac"), "-s", "auto", out=jobs_root)
    run_pipeline(job_id, out=jobs_root)
    return jobs_root / job_id
