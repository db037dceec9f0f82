"""Language codes as users type them, through ./prepare-job.sh: ISO 639-2/3 codes, BCP-47 tags
and names are accepted, and job.json records the language table's codes, which every stage
reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import prepare, run_script

pytestmark = pytest.mark.e2e


def job_json(jobs_root: Path, job_id: str) -> dict:
    return json.loads((jobs_root / job_id / "job.json").read_text("utf-8"))


def test_iso_639_codes_and_bcp47_tags_are_recorded_as_the_table_codes(test_cache, jobs_root,
                                                                     media_file):
    job_id = prepare("--media", str(media_file), "--workflow", "translate", "-s", "deu",
                     "-t", "fra,hi-IN,pt-BR,zh-Hans,zh-Hant,fre", out=jobs_root)
    job = job_json(jobs_root, job_id)
    assert job["source_lang"] == "de"
    assert job["target_langs"] == ["fr", "hi", "pt", "zh", "zho_Hant"]  # fre = fra: once
    translated = sorted(s["lang"] for s in job["stages"] if s["stage"] == "translation")
    assert translated == sorted(job["target_langs"])


def test_a_regional_source_and_a_named_target(test_cache, jobs_root, media_file):
    proc = run_script("prepare-job.sh", "--media", str(media_file), "--workflow", "translate",
                      "-s", "en-GB", "-t", "Hindi", "--out", str(jobs_root))
    assert proc.returncode == 0, proc.stderr
    job = job_json(jobs_root, proc.stdout.split()[-1])
    assert (job["source_lang"], job["target_langs"]) == ("en", ["hi"])
    assert "the region GB is not used" in proc.stderr


def test_a_misspelt_language_is_refused_with_close_matches(test_cache, jobs_root, media_file):
    proc = run_script("prepare-job.sh", "--media", str(media_file), "--workflow", "translate",
                      "-s", "en", "-t", "Germn", "--out", str(jobs_root))
    assert proc.returncode == 2
    assert "unknown language code 'Germn'; close matches: German (de)" in proc.stderr
    assert not jobs_root.exists() or not any(jobs_root.iterdir())
