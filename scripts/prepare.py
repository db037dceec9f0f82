"""prepare: validate a request up front and write one job folder per media file."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from shared import atomic, media
from shared import job as jobs
from shared.errors import InputError
from shared.file_hashes import HashMemo
from shared.language_input import parse_language
from shared.languages import AUTO, load_languages, translation_route
from shared.model_registry import load_models
from shared.overrides import parse_sets, validate_overrides
from shared.workflows import expand, load_workflows

logger = logging.getLogger("prepare")

GLOSSARY_FILE = "glossary.tsv"
_TIME = re.compile(r"^(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d+)?)$")


@dataclass
class PrepareOptions:
    media: list[Path]
    workflow: str = "transcribe"
    source_lang: str | None = None
    target_langs: list[str] = field(default_factory=list)
    start_time: str | None = None
    end_time: str | None = None
    title: str | None = None
    year: int | None = None
    profile: str | None = None
    separate: bool = False
    vad: str = "none"
    sets: list[str] = field(default_factory=list)
    glossary: Path | None = None
    out: Path = Path("out")


def parse_time(text: str, flag: str) -> float:
    """Seconds from '90', '1:30', '01:02:03.5'."""
    match = _TIME.match(text.strip())
    if not match:
        raise InputError(f"{flag} '{text}' is not a time",
                         fix=f"write seconds (90), MM:SS (1:30) or HH:MM:SS(.ms), e.g. {flag} 0:45")
    parts = [p for p in match.groups() if p is not None]
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds


def _warn_weak_asr(language: str, chosen: str | None, profile: str | None) -> None:
    """Say before anything runs when the ASR model the job will use is known to transcribe
    ``language`` poorly (config/models.toml weak_languages), naming a better one and whether
    it is cached."""
    from shared import hardware_cache
    from shared.errors import PipelineError
    from shared.paths import hardware_cache_path

    registry = load_models()
    try:
        cache = hardware_cache.load(hardware_cache_path())
        hub = cache.cache.hf_hub_cache
        spec = (registry.by_repo_or_name(chosen) or
                registry.by_repo_or_name(f"faster-whisper-{chosen}") if chosen else
                registry.resolve(profile or cache.defaults.profile, "asr", hub))
    except PipelineError:
        return  # no hardware cache or no model yet: the run's own check says what to do
    if spec is None or language not in spec.weak_languages:
        return
    better = registry.better_asr(language, spec)
    if better is None:
        return
    state = ("cached: use it with --set asr.model=" + better.name if better.is_cached(hub) else
             f"not cached: ./cache-models.sh --model {better.name}, then --set "
             f"asr.model={better.name}")
    logger.warning("ASR model %s is known to transcribe '%s' poorly (little or no text); "
                   "%s is better for it (%s)", spec.name, language, better.name, state)


def collect_media(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        path = path.expanduser()
        if not path.exists():
            raise InputError(f"{path} does not exist", fix="check the path given to --media")
        if path.is_dir():
            files = sorted(p for p in path.rglob("*")
                           if p.is_file() and p.suffix.lower() in media.MEDIA_EXTENSIONS)
            if not files:
                kinds = ", ".join(sorted(media.MEDIA_EXTENSIONS))
                raise InputError(f"the folder {path} holds no media files",
                                 fix=f"put media there ({kinds})")
            found += files
        else:
            found.append(path)
    for path in found:
        if path.stat().st_size == 0:
            raise InputError(f"{path} is empty (0 bytes)",
                             fix="copy or export the media again (an interrupted copy leaves "
                             "an empty file)")
    return [p.resolve() for p in dict.fromkeys(found)]


def batch_id(paths: list[Path]) -> str:
    """The id of the jobs one prepare call makes from several media: the folder's name when
    one folder was given, else 'batch', with a time stamp and a random part."""
    name = paths[0].expanduser().name if len(paths) == 1 and paths[0].is_dir() else "batch"
    return jobs.new_job_id(name or "batch")


def _check_glossary(path: Path) -> Path:
    from shared import glossary

    path = path.expanduser().resolve()
    loaded = glossary.load(path)  # raises with the line number of a malformed line
    for duplicate in loaded.duplicates:
        logger.warning("glossary %s: %s", path.name, duplicate)
    logger.info("glossary %s: %d terms", path.name, len(loaded))
    return path


def prepare(opts: PrepareOptions) -> list[tuple[str, Path]]:
    """Validate everything first; then create the job folders. Returns (job id, folder)."""
    workflow = load_workflows().get(opts.workflow)
    features = (["separation"] if opts.separate else []) + (["vad"] if opts.vad != "none" else [])
    features += load_workflows().switched_on(parse_sets(opts.sets))
    missing = workflow.missing_stages(features)
    if missing:
        with_options = f" with {', '.join(features)}" if features else ""
        raise InputError(f"workflow '{workflow.name}'{with_options} needs stage(s) "
                         f"{', '.join(missing)}, which this version does not have yet",
                         fix="use --workflow transcribe")
    languages = load_languages()
    source = (opts.source_lang or AUTO).strip()
    if source.lower() == AUTO:
        source = AUTO
        if workflow.needs_targets:
            raise InputError(f"-s auto works only with --workflow transcribe; {workflow.name} "
                             "needs the spoken language", fix="name it, e.g. -s hi")
    else:
        lang = languages.get(parse_language(source, "source"))
        if not lang.whisper:
            raise InputError(f"Whisper cannot transcribe {lang.name} ({lang.code})",
                             fix="use -s auto or the closest language Whisper supports")
        source = lang.code
    targets = list(dict.fromkeys(parse_language(t, "target")
                                 for t in opts.target_langs if t.strip()))
    if source in targets:
        raise InputError(f"target language {source} is the source language (-s {source})",
                         fix=f"drop {source} from -t: the transcript is already in {source}")
    if workflow.needs_targets and not targets:
        raise InputError(f"--workflow {workflow.name} needs target languages",
                         fix="add -t en (or several: -t en,gu)")
    if not workflow.needs_targets and targets:
        translating = [w.name for w in load_workflows().workflows.values()
                       if w.needs_targets and not w.missing_stages()]
        raise InputError(f"--workflow {workflow.name} does not translate, but -t was given",
                         fix=f"use --workflow {' or '.join(translating)}, or drop -t"
                         if translating else "drop -t (translation is not in this version yet)")
    start = parse_time(opts.start_time, "--start-time") if opts.start_time else None
    end = parse_time(opts.end_time, "--end-time") if opts.end_time else None
    if start is not None and end is not None and end <= start:
        raise InputError(f"--end-time ({end:g}s) must be after --start-time ({start:g}s)",
                         fix="swap or correct the two times")
    if opts.profile:
        load_models().profile(opts.profile)
    stage_names = workflow.stage_names(features)
    overrides = validate_overrides(opts.sets, stage_names)
    if "vad" in features:
        overrides.setdefault("vad", {}).setdefault("backend", opts.vad)
    for target in targets:  # the chosen engine must cover source -> target
        translation_route(source, target, overrides.get("translation", {}).get("engine", "auto"))
    glossary_file = _check_glossary(opts.glossary) if opts.glossary else None
    files = collect_media(opts.media)
    if source != AUTO:
        _warn_weak_asr(source, overrides.get("asr", {}).get("model"), opts.profile)

    probed = []
    demux = overrides.get("demux", {})
    for path in files:
        info = media.probe(path)
        track = media.pick_audio_stream(info, demux.get("audio_stream"),
                                        demux.get("audio_language"),
                                        None if source == AUTO else source)
        if len(info.audio_streams) > 1:
            logger.info("%s: transcribing audio track %d (%s) of %s", path.name, track.index,
                        track.language or "untagged", media.describe_tracks(info))
        if start is not None and info.duration is not None and start >= info.duration:
            raise InputError(f"--start-time {start:g}s is beyond the end of {path.name} "
                             f"({info.duration:.1f}s)", fix="choose a start inside the media")
        probed.append((path, info))

    memo = HashMemo()
    jobs_root = opts.out.expanduser().resolve()
    batch = batch_id(opts.media) if len(probed) > 1 else None
    created = []
    for path, info in probed:
        title = opts.title if (opts.title and len(probed) == 1) else path.stem
        instances = expand(workflow, targets, features)
        job_id = jobs.new_job_id(title)
        job = jobs.Job(
            job_id=job_id, created_at=jobs.utc_now(), workflow=workflow.name,
            media=jobs.MediaRef(path=path, sha256=memo.sha256(path), size=path.stat().st_size,
                                duration=info.duration, has_video=info.has_video,
                                audio_streams=len(info.audio_streams)),
            title=title, year=opts.year, source_lang=source, target_langs=targets,
            start_time=start, end_time=end, profile=opts.profile, features=features,
            overrides=overrides, glossary=GLOSSARY_FILE if glossary_file else None,
            stages=instances, batch=batch)
        job_dir = jobs.create_job_dir(jobs_root, job_id)
        (job_dir / "logs").mkdir()
        if glossary_file:
            atomic.write_bytes(job_dir / GLOSSARY_FILE, glossary_file.read_bytes())
        jobs.save(job, job_dir)
        created.append((job_id, job_dir))
    return created
