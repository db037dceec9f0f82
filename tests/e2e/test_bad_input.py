"""Bad input end to end, through the user-facing scripts: every mistake a user can make gives
a non-zero exit (2 for bad input or usage, 1 for a broken environment or a failed stage), a
message on stderr that names the fix, and loses nothing: no job folder from a rejected
request, the user's media untouched, an existing job's completed outputs kept."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import (
    ROOT,
    ffmpeg,
    make_silence,
    prepare,
    run_pipeline,
    run_script,
    srt_text,
    stages_ran,
)

pytestmark = pytest.mark.e2e

ODD_NAME = "फ़िल्म 'टेस्ट' \"1\".flac"


# -- helpers ------------------------------------------------------------------------------
def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its hash: compare before and after a failed command."""
    return {p.relative_to(folder).as_posix(): sha256(p)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_fails(proc: subprocess.CompletedProcess, code: int, *needles: str) -> None:
    """Exit ``code``, an `error:` line and a `fix:` line on stderr, and every needle in it;
    never a Python traceback."""
    detail = f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.returncode == code, detail
    assert "error:" in proc.stderr and "fix:" in proc.stderr, detail
    assert "Traceback" not in proc.stderr, detail
    for needle in needles:
        assert needle in proc.stderr, f"{needle!r} not in stderr\n{detail}"


def prepare_fails(jobs_root: Path, *args: str) -> subprocess.CompletedProcess:
    """prepare-job.sh with a bad request: it must exit 2 and create no job folder."""
    proc = run_script("prepare-job.sh", *args, "--out", str(jobs_root))
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert proc.stdout.strip() == "", "a rejected request printed a job id"
    assert not jobs_root.exists() or not any(jobs_root.iterdir()), \
        f"a rejected request left {list(jobs_root.iterdir())}"
    return proc


def hardware_cache_file() -> Path:
    from shared.paths import HARDWARE_CACHE_ENV

    return Path(os.environ[HARDWARE_CACHE_ENV])


def copy_job(job_dir: Path, jobs_root: Path) -> Path:
    jobs_root.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copytree(job_dir, jobs_root / job_dir.name))


# -- fixtures -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def done_job(test_cache, speech, tmp_path_factory) -> dict:
    """One job prepared and run to the end, from a file whose name has spaces, quotes, an
    apostrophe and Devanagari; the run-pipeline tests below check it survives their errors."""
    base = tmp_path_factory.mktemp("done")
    media = base / "media folder" / ODD_NAME
    media.parent.mkdir()
    shutil.copyfile(speech / "jfk.flac", media)
    media_hash = sha256(media)
    jobs_root = base / "out"
    job_id = prepare("--media", str(media), "-s", "en", out=jobs_root)
    proc = run_pipeline(job_id, out=jobs_root)
    return {"media": media, "media_hash": media_hash, "jobs_root": jobs_root, "job_id": job_id,
            "job_dir": jobs_root / job_id, "run": proc}


# -- prepare-job: the request is rejected before anything is written ---------------------
def test_missing_media_file(test_cache, jobs_root, tmp_path):
    proc = prepare_fails(jobs_root, "--media", str(tmp_path / "no such film.mp4"))
    assert_fails(proc, 2, "no such film.mp4", "does not exist", "--media")


def test_folder_without_media(test_cache, jobs_root, tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("no media here\n")
    proc = prepare_fails(jobs_root, "--media", str(folder))
    assert_fails(proc, 2, "holds no media files", ".mp4", ".flac")
    assert (folder / "readme.txt").read_text() == "no media here\n"


def test_text_file_renamed_mp4(test_cache, jobs_root, tmp_path):
    fake = tmp_path / "film.mp4"
    fake.write_text("this is a text file, not a video\n")
    before = sha256(fake)
    proc = prepare_fails(jobs_root, "--media", str(fake))
    assert_fails(proc, 2, "film.mp4", "not a media file", "plays in a media player")
    assert sha256(fake) == before


def test_video_without_audio(test_cache, jobs_root, tmp_path):
    video = tmp_path / "silent film.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=2", "-c:v", "libx264",
           "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(video))
    before = sha256(video)
    proc = prepare_fails(jobs_root, "--media", str(video))
    assert_fails(proc, 2, "has no audio stream", "choose a file with sound")
    assert sha256(video) == before


def test_zero_length_file(test_cache, jobs_root, tmp_path):
    empty = tmp_path / "film.mkv"
    empty.touch()
    proc = prepare_fails(jobs_root, "--media", str(empty))
    assert_fails(proc, 2, "film.mkv", "is empty (0 bytes)", "copy or export the media again")
    assert empty.stat().st_size == 0


def test_unknown_language_code(test_cache, jobs_root, media_file):
    before = sha256(media_file)
    proc = prepare_fails(jobs_root, "--media", str(media_file), "-s", "xx")
    assert_fails(proc, 2, "unknown language code 'xx'", "config/languages.toml")
    assert sha256(media_file) == before


def test_language_whisper_cannot_transcribe(test_cache, jobs_root, media_file):
    proc = prepare_fails(jobs_root, "--media", str(media_file), "-s", "or")
    assert_fails(proc, 2, "Whisper cannot transcribe Odia", "-s auto")


def test_target_equal_to_source(test_cache, jobs_root, media_file):
    proc = prepare_fails(jobs_root, "--media", str(media_file), "-s", "en", "-t", "en")
    assert_fails(proc, 2, "target language en is the source language", "drop en from -t")


def test_targets_with_transcribe_workflow(test_cache, jobs_root, media_file):
    proc = prepare_fails(jobs_root, "--media", str(media_file), "-s", "en", "-t", "hi",
                         "--workflow", "transcribe")
    assert_fails(proc, 2, "--workflow transcribe does not translate", "drop -t",
                 "--workflow translate")


@pytest.mark.parametrize("item", ["asrbeam_size=3", "asr.beam_size"])
def test_malformed_set(test_cache, jobs_root, media_file, item):
    proc = prepare_fails(jobs_root, "--media", str(media_file), "--set", item)
    assert_fails(proc, 2, f"--set '{item}' is malformed", "--set stage.param=value")


@pytest.mark.parametrize(("item", "message", "fix"), [
    ("translation.beam_size=3", "this workflow has no stage 'translation'",
     "use one of: demux, metadata, glossary, asr, alignment, songs, subtitles"),
    ("asr.beam=3", "stage asr has no parameter beam", "beam_size"),
    ("asr.beam_size=abc", "invalid value for asr", "beam_size"),
])
def test_set_unknown_stage_param_or_type(test_cache, jobs_root, media_file, item, message, fix):
    proc = prepare_fails(jobs_root, "--media", str(media_file), "--set", item)
    assert_fails(proc, 2, message, fix)


def test_end_time_before_start_time(test_cache, jobs_root, media_file):
    proc = prepare_fails(jobs_root, "--media", str(media_file), "--start-time", "0:08",
                         "--end-time", "5")
    assert_fails(proc, 2, "--end-time (5s) must be after --start-time (8s)", "swap or correct")


def test_bad_time_string(test_cache, jobs_root, media_file):
    proc = prepare_fails(jobs_root, "--media", str(media_file), "--start-time", "1:3x")
    assert_fails(proc, 2, "--start-time '1:3x' is not a time", "MM:SS")


def test_out_not_writable(test_cache, media_file, tmp_path):
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        jobs_root = locked / "out"
    else:
        # Tests run as root in CI, where chmod 0o500 does not stop writes: a folder "under"
        # a regular file can never be created, by anyone.
        blocker = tmp_path / "file.txt"
        blocker.write_text("a file, not a folder\n")
        jobs_root = blocker / "out"
    try:
        proc = run_script("prepare-job.sh", "--media", str(media_file), "--out", str(jobs_root))
        assert_fails(proc, 2, "cannot write to the jobs folder", "--out DIR")
        assert not jobs_root.exists()
    finally:
        if jobs_root.parent.is_dir():
            jobs_root.parent.chmod(0o700)


def test_engine_that_cannot_translate_the_pair(test_cache, jobs_root, media_file):
    proc = prepare_fails(jobs_root, "--media", str(media_file), "--workflow", "translate",
                         "-s", "hi", "-t", "fr", "--set", "translation.engine=indictrans2")
    assert_fails(proc, 2, "indictrans2 cannot translate Hindi (hi) -> French (fr)",
                 "--set translation.engine=nllb or llm")


def test_pair_no_machine_translation_covers(test_cache, jobs_root, media_file):
    proc = prepare_fails(jobs_root, "--media", str(media_file), "--workflow", "translate",
                         "-s", "en", "-t", "brx,xx")
    assert_fails(proc, 2, "unknown language code 'xx'")
    proc = prepare_fails(jobs_root, "--media", str(media_file), "--workflow", "translate",
                         "-s", "fr", "-t", "brx")
    assert_fails(proc, 2, "no machine-translation engine translates French (fr) -> Bodo (brx)",
                 "--set translation.engine=llm")


def test_translate_needs_targets_and_a_named_source(test_cache, jobs_root, media_file):
    proc = prepare_fails(jobs_root, "--media", str(media_file), "--workflow", "translate",
                         "-s", "hi")
    assert_fails(proc, 2, "--workflow translate needs target languages", "-t en")
    proc = prepare_fails(jobs_root, "--media", str(media_file), "--workflow", "translate",
                         "-t", "en")
    assert_fails(proc, 2, "-s auto works only with --workflow transcribe", "-s hi")


def test_malformed_or_missing_glossary(test_cache, jobs_root, media_file, tmp_path):
    bad = tmp_path / "names.tsv"
    bad.write_text("Shree\tShree\nbhai\n", encoding="utf-8")
    proc = prepare_fails(jobs_root, "--media", str(media_file), "--workflow", "translate",
                         "-s", "hi", "-t", "en", "--glossary", str(bad))
    assert_fails(proc, 2, "names.tsv line 2: no translation", "columns separated by tabs")
    proc = prepare_fails(jobs_root, "--media", str(media_file), "--glossary",
                         str(tmp_path / "nope.tsv"))
    assert_fails(proc, 2, "nope.tsv does not exist", "--glossary")


def test_truncated_media_ends_degraded_and_its_printed_fix_command_works(
        test_cache, jobs_root, speech, tmp_path):
    """A film cut short (an interrupted copy: the header still says 11 s, the data stops at
    about 5 s): ffprobe reads it and ffmpeg decodes what is there with exit 0, so only the
    length tells. The job ends degraded (exit 3) naming both lengths and a fix whose ffmpeg
    command runs and gives a readable copy."""
    import shlex

    from tests.helpers import degraded_stages

    whole = tmp_path / "whole.mp4"
    ffmpeg("-i", str(speech / "jfk.flac"), "-c:a", "aac", "-b:a", "64k", "-movflags",
           "+faststart", str(whole))  # the index first, as streaming files have it
    cut = tmp_path / "Cut Short.mp4"
    cut.write_bytes(whole.read_bytes()[:whole.stat().st_size // 2])
    before = sha256(cut)
    job_id = prepare("--media", str(cut), "-s", "en", out=jobs_root)
    proc = run_pipeline(job_id, out=jobs_root, check=False)
    detail = f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert proc.returncode == 3, detail
    (reason,) = degraded_stages(jobs_root / job_id)["demux"]
    assert "Cut Short.mp4 stops at 00:00:0" in reason and "lasts 00:00:11" in reason, reason
    assert "cut short" in reason and "copy, download or export it again" in reason
    command = shlex.split(reason.split("re-encode what ffmpeg can decode of it: ")[1]
                          .split(", then")[0])
    assert command[:2] == ["ffmpeg", "-i"] and command[2] == str(cut)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", *command[1:]], check=True)
    fixed = tmp_path / "Cut Short.fixed.mkv"
    assert fixed.is_file() and sha256(cut) == before
    from shared.media import probe

    assert 3 < probe(fixed).duration < 8  # the part there was, now whole


def test_garbage_ffprobe_takes_for_audio_fails_in_demux_with_the_fix(test_cache, jobs_root,
                                                                    tmp_path):
    """Random bytes named .flac: ffprobe guesses an audio stream from the name (so prepare
    accepts it), ffmpeg cannot decode it: demux fails (exit 1) naming the fix, and no
    re-encode command (ffmpeg just failed to read it); the file is left as it was."""
    import random

    garbage = tmp_path / "Garbage.flac"
    garbage.write_bytes(random.Random(0).randbytes(50_000))
    before = sha256(garbage)
    job_id = prepare("--media", str(garbage), "-s", "en", out=jobs_root)
    proc = run_pipeline(job_id, out=jobs_root, check=False)
    assert_fails(proc, 1, "ffmpeg could not read the audio of", "Garbage.flac",
                 "copy, download or export it again")
    assert "re-encode" not in proc.stderr.split("fix: ")[1].splitlines()[0]
    assert stages_ran(proc) == [] and sha256(garbage) == before


# -- media that is unusual but valid: it must just work -----------------------------------
def test_silent_file_gives_an_empty_srt(test_cache, jobs_root, tmp_path):
    silence = make_silence(tmp_path / "silence.wav", 5)
    before = sha256(silence)
    job_id = prepare("--media", str(silence), out=jobs_root)
    proc = run_pipeline(job_id, out=jobs_root)
    assert stages_ran(proc) == ["demux", "metadata", "glossary", "asr", "alignment", "songs",
                                "subtitles:source"]
    srts = sorted((jobs_root / job_id / "subtitles").glob("silence.*.srt"))
    assert len(srts) == 1, srts
    assert "-->" not in srts[0].read_text("utf-8")  # zero cues
    transcript = json.loads(srts[0].with_suffix(".json").read_text("utf-8"))
    assert transcript["segments"] == []
    assert sha256(silence) == before


def test_odd_filename_runs_and_job_id_is_ascii(done_job):
    from shared.job import JOB_ID_PATTERN

    job_id, job_dir = done_job["job_id"], done_job["job_dir"]
    assert job_id.isascii() and JOB_ID_PATTERN.match(job_id), job_id
    assert stages_ran(done_job["run"]) == ["demux", "metadata", "glossary", "asr", "alignment",
                                         "songs", "subtitles:source"]
    srts = sorted((job_dir / "subtitles").glob("*.en.srt"))
    assert len(srts) == 1 and srts[0].name.startswith("फ़िल्म 'टेस्ट'"), srts
    assert "ask not what your country" in srt_text(srts[0]).lower()
    for suffix in (".en.vtt", ".en.json", ".en.txt"):
        assert (job_dir / "subtitles" / srts[0].name.replace(".en.srt", suffix)).is_file()
    job = json.loads((job_dir / "job.json").read_text("utf-8"))
    assert job["media"]["path"] == str(done_job["media"]) and job["title"] == ODD_NAME[:-5]
    assert sha256(done_job["media"]) == done_job["media_hash"]


# -- run-pipeline: a bad reference or a broken job is refused; the job is kept ------------
def test_job_id_with_parent_folder(done_job, tmp_path):
    jobs_root = tmp_path / "out"
    jobs_root.mkdir()
    decoy = copy_job(done_job["job_dir"], tmp_path / "outside")  # jobs_root/../outside/<id>
    before = snapshot(decoy)
    ref = f"../outside/{decoy.name}"
    proc = run_script("run-pipeline.sh", "-j", ref, "--out", str(jobs_root))
    assert_fails(proc, 2, f"'{ref}' is not a valid job id", "the id prepare-job printed")
    assert snapshot(decoy) == before


def test_unknown_job_id(done_job):
    before = snapshot(done_job["job_dir"])
    proc = run_script("run-pipeline.sh", "-j", "no-such-job-20200101-000000-abcd", "--out",
                      str(done_job["jobs_root"]))
    assert_fails(proc, 2, "no job 'no-such-job-20200101-000000-abcd'", "--status")
    assert snapshot(done_job["job_dir"]) == before


def test_no_job_given(done_job):
    before = snapshot(done_job["job_dir"])
    proc = run_script("run-pipeline.sh", "--out", str(done_job["jobs_root"]))
    assert_fails(proc, 2, "no job given", "-j <job-id>", "--latest")
    assert snapshot(done_job["job_dir"]) == before


def test_job_json_edited_into_invalid_json(done_job, tmp_path):
    job_dir = copy_job(done_job["job_dir"], tmp_path / "out")
    job_file = job_dir / "job.json"
    lines = job_file.read_text("utf-8").splitlines(keepends=True)
    line_no = next(n for n, line in enumerate(lines, 1) if '"workflow"' in line)
    lines[line_no - 1] = lines[line_no - 1].replace('"transcribe"', "transcribe")  # unquoted
    job_file.write_text("".join(lines), "utf-8")
    before = snapshot(job_dir)
    proc = run_script("run-pipeline.sh", "-j", job_dir.name, "--out", str(tmp_path / "out"))
    assert_fails(proc, 1, f"{job_file} is not valid JSON (line {line_no},",
                 f"undo the edit to {job_file}")
    assert snapshot(job_dir) == before


def test_job_json_missing_a_field(done_job, tmp_path):
    job_dir = copy_job(done_job["job_dir"], tmp_path / "out")
    job_file = job_dir / "job.json"
    data = json.loads(job_file.read_text("utf-8"))
    del data["workflow"]
    job_file.write_text(json.dumps(data, indent=2), "utf-8")
    before = snapshot(job_dir)
    proc = run_script("run-pipeline.sh", "-j", job_dir.name, "--out", str(tmp_path / "out"))
    assert_fails(proc, 1, f"{job_file} is invalid", "workflow: Field required",
                 "prepare the job again")
    assert snapshot(job_dir) == before


def test_from_unknown_stage(done_job):
    before = snapshot(done_job["job_dir"])
    proc = run_pipeline(done_job["job_id"], "--from", "translation", out=done_job["jobs_root"],
                        check=False)
    assert_fails(proc, 2, "no stage 'translation'",
                 "use one of: demux, metadata, glossary, asr, alignment, songs, subtitles")
    assert snapshot(done_job["job_dir"]) == before


# -- run-pipeline: the machine is not ready ------------------------------------------------
def _edited_hardware_cache(tmp_path: Path, edit) -> Path:
    data = json.loads(hardware_cache_file().read_text("utf-8"))
    edit(data)
    path = tmp_path / "hardware_cache.json"
    path.write_text(json.dumps(data, indent=2), "utf-8")
    return path


def test_venv_missing_at_run_time(test_cache, jobs_root, media_file, tmp_path):
    def no_whisperx(data: dict) -> None:
        missing = tmp_path / "venvs" / "whisperx"
        data["environments"]["whisperx"]["path"] = str(missing)
        data["environments"]["whisperx"]["python"] = str(missing / "bin" / "python")

    cache = _edited_hardware_cache(tmp_path, no_whisperx)
    before = sha256(media_file)
    job_id = prepare("--media", str(media_file), "-s", "en", out=jobs_root)
    proc = run_pipeline(job_id, out=jobs_root, env={"SUBPIPE_HARDWARE_CACHE": str(cache)},
                        check=False)
    assert_fails(proc, 2, "found before any stage ran", "environment 'whisperx' is not usable",
                 "./bootstrap.sh --envs whisperx")
    assert stages_ran(proc) == []  # found before the first stage, not after demux
    job_dir = jobs_root / job_id
    assert not (job_dir / "lock.json").exists()
    assert not (job_dir / "subtitles").exists()
    assert sha256(media_file) == before


def test_model_not_cached(test_cache, jobs_root, media_file, tmp_path):
    from tests.helpers import make_model_cache

    # like tests/conftest.py, but the embedded model is not installed: an empty cache
    _, cache = make_model_cache(tmp_path / "empty", embedded=False)
    job_id = prepare("--media", str(media_file), "-s", "en", out=jobs_root)
    proc = run_pipeline(job_id, out=jobs_root, env={"SUBPIPE_HARDWARE_CACHE": str(cache)},
                        check=False)
    assert_fails(proc, 2, "no model for asr is cached", "./cache-models.sh --stage asr",
                 "./bootstrap.sh")
    assert stages_ran(proc) == []
    assert not (jobs_root / job_id / "lock.json").exists()


def test_run_set_cannot_add_the_llm_stage_to_a_prepared_job(test_cache, jobs_root, media_file):
    job_id = prepare("--media", str(media_file), "--workflow", "translate", "-s", "en",
                     "-t", "hi", out=jobs_root)
    before = (jobs_root / job_id / "job.json").read_text("utf-8")
    proc = run_pipeline(job_id, "--set", "translation.engine=hybrid", out=jobs_root,
                        check=False)
    assert_fails(proc, 2, "translation.engine=hybrid changes the stages of job",
                 "prepare the job again with --set translation.engine=hybrid")
    assert (jobs_root / job_id / "job.json").read_text("utf-8") == before
    assert not (jobs_root / job_id / "lock.json").exists()


def test_translation_model_not_cached(test_cache, jobs_root, media_file):
    job_id = prepare("--media", str(media_file), "--workflow", "translate", "-s", "en",
                     "-t", "hi", out=jobs_root)
    needles = ("1 problem(s) found before any stage ran", "translation:hi",
               "no model for translation.en_indic is cached",
               "./cache-models.sh --stage translation",
               "./cache-models.sh --model indictrans2-en-indic-dist-200M")
    proc = run_pipeline(job_id, out=jobs_root, check=False)
    assert_fails(proc, 2, *needles)
    assert stages_ran(proc) == []  # not after demux, ASR and alignment
    assert not (jobs_root / job_id / "lock.json").exists()
    plan = run_pipeline(job_id, "--dry-run", out=jobs_root, check=False)
    assert_fails(plan, 2, *needles)  # the dry run shows the plan and the same problem
    assert re.search(r"^\s*asr\s+run\s", plan.stdout, flags=re.M), plan.stdout


def test_every_problem_of_every_job_is_reported_before_anything_runs(
        test_cache, jobs_root, media_file):
    """A batch of three jobs with two different problems (one shared by two jobs): one run
    reports both, grouped, with their fixes, and runs nothing of the good job either."""
    hindi = [prepare("--media", str(media_file), "--workflow", "translate", "-s", "en",
                     "-t", "hi", out=jobs_root) for _ in range(2)]
    small = prepare("--media", str(media_file), "-s", "en", "--set",
                    "asr.model=faster-whisper-small", out=jobs_root)
    good = prepare("--media", str(media_file), "-s", "en", out=jobs_root)
    args = [a for job_id in (*hindi, small) for a in ("-j", job_id)]
    proc = run_pipeline(good, *args, out=jobs_root, check=False)
    assert_fails(proc, 2, "2 problem(s) found before any stage ran",
                 f"job {hindi[0]} translation:hi, job {hindi[1]} translation:hi",
                 "no model for translation.en_indic is cached",
                 f"job {small} asr", "ASR model Systran/faster-whisper-small is not in the cache")
    assert stages_ran(proc) == []
    assert not any((jobs_root / j / "lock.json").exists() for j in (*hindi, small, good))


@pytest.mark.parametrize("model, message, fix", [
    ("tiny", "ASR model Systran/faster-whisper-tiny is not in the cache",
     "hf download Systran/faster-whisper-tiny --cache-dir"),
    ("faster-whisper-small", "ASR model Systran/faster-whisper-small is not in the cache",
     "./cache-models.sh"),
    ("gigantic", "unknown ASR model 'gigantic'", "a Whisper size"),
])
def test_asr_model_override_that_is_not_usable(test_cache, jobs_root, media_file, model,
                                               message, fix):
    job_id = prepare("--media", str(media_file), "-s", "en", "--set", f"asr.model={model}",
                     out=jobs_root)
    proc = run_pipeline(job_id, out=jobs_root, check=False)
    assert_fails(proc, 2, message, fix)
    assert stages_ran(proc) == []


@pytest.mark.parametrize("broken", ["missing", "invalid JSON"])
def test_hardware_cache_missing_or_invalid(done_job, tmp_path, broken):
    cache = tmp_path / "hardware_cache.json"
    if broken == "invalid JSON":
        cache.write_text(hardware_cache_file().read_text("utf-8")[:200], "utf-8")  # cut short
        message = f"{cache} is not valid JSON (line"
    else:
        message = f"{cache} does not exist"
    env = {"SUBPIPE_HARDWARE_CACHE": str(cache)}
    before = snapshot(done_job["job_dir"])
    proc = run_pipeline(done_job["job_id"], out=done_job["jobs_root"], env=env, check=False)
    assert_fails(proc, 1, message, "./bootstrap.sh", str(cache))
    assert snapshot(done_job["job_dir"]) == before
    proc = run_script("cache-models.sh", "--list", env=env)
    assert_fails(proc, 1, message, "./bootstrap.sh")


def small_disk_works(folder: Path) -> bool:
    """`unshare -m` and a tmpfs mount (root): a small filesystem only the test sees."""
    folder.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run(["unshare", "-m", "sh", "-c",
                            f"mount -t tmpfs -o size=1m tmpfs '{folder}'"],
                           capture_output=True)
    return shutil.which("unshare") is not None and probe.returncode == 0


def test_a_run_that_would_fill_the_disk_stops_before_its_first_stage(speech, tmp_path,
                                                                      test_cache):
    """Jobs on an 8 MB filesystem (a tmpfs in a private mount namespace): a minute of audio
    needs ~2.6 MB of outputs plus the 64 MB a run leaves free, so run-pipeline.sh refuses
    at once (exit 2), saying how much it would write, how much is free and the fix, and
    runs nothing."""
    out = tmp_path / "small"
    if not small_disk_works(out):
        pytest.skip("needs `unshare -m` and mount (root) for a small filesystem")
    media = tmp_path / "minute.wav"
    ffmpeg("-stream_loop", "5", "-i", str(speech / "jfk.flac"), str(media))
    script = f"""set -e
mount -t tmpfs -o size=8m tmpfs '{out}'
'{ROOT}/prepare-job.sh' --media '{media}' -s en --workflow transcribe --out '{out}'
set +e
'{ROOT}/run-pipeline.sh' --latest --out '{out}'
echo "rc=$?"
ls '{out}'/*/ > '{tmp_path}/listing'
"""
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True,
                          text=True, timeout=300)
    assert "rc=2" in proc.stdout, proc.stdout + proc.stderr
    assert re.search(r"this run would write about [\d.]+ MB under .*small \(1 job\(s\): "
                     r"minute-\S+ [\d.]+ MB\), which has [\d.]+ MB free", proc.stderr), \
        proc.stderr
    assert "--prune" in proc.stderr and "prepare-job.sh --out" in proc.stderr
    listing = (tmp_path / "listing").read_text().split()
    assert "job.json" in listing and "lock.json" not in listing and "stages" not in listing
