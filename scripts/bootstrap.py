"""bootstrap: probe the hardware, write config/hardware_cache.json, create the cache folders,
build every applicable venv with uv (shared cache, hardlinks, byte-compiled), install the
embedded default model, and check the system tools. A re-run on a ready machine changes
nothing and takes seconds."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from shared import embedded_model, hardware, system_tools, venvs
from shared.env_registry import load_registry
from shared.errors import InputError, PipelineError
from shared.hardware_cache import HardwareCache, build
from shared.model_registry import load_models
from shared.paths import (
    DEFAULT_CACHE_DIR,
    DEFAULT_JOBS_ROOT,
    PROJECT_ROOT,
    VENVS_DIR,
    hardware_cache_path,
    venv_python,
)
from shared.workflows import load_workflows

logger = logging.getLogger("bootstrap")


@dataclass
class BootstrapOptions:
    force: bool = False
    envs: list[str] = field(default_factory=list)
    skip_cache: bool = False
    cache_models: bool = False
    yes: bool = False
    profile: str | None = None
    cache_dir: Path = DEFAULT_CACHE_DIR
    demo: bool = False
    demo_media: Path | None = None
    jobs_root: Path = DEFAULT_JOBS_ROOT
    with_groups: list[str] = field(default_factory=list)


# Optional dependency groups of the common venv (root pyproject.toml), installed only on
# `./bootstrap.sh --with <group>`: a machine that never uses them does not download them.
OPTIONAL_GROUPS = {"cluster": "Ray, for --executor ray and node start"}


def missing_groups(opts: BootstrapOptions, spec_name: str, venv_dir: Path) -> list[str]:
    """The --with groups the common venv lacks (raises on an unknown group)."""
    unknown = [g for g in opts.with_groups if g not in OPTIONAL_GROUPS]
    if unknown:
        raise InputError(f"unknown --with group(s): {', '.join(unknown)}",
                            fix=f"use one of: {', '.join(OPTIONAL_GROUPS)}")
    if spec_name != "common":
        return []
    return [g for g in opts.with_groups if g not in venvs.installed_groups(venv_dir)]


def interactive(opts: BootstrapOptions) -> bool:
    ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    return sys.stdin.isatty() and not ci and not opts.yes


def confirm(question: str, opts: BootstrapOptions, default: bool = True) -> bool:
    if not interactive(opts):
        return default
    answer = input(f"{question} [{'Y/n' if default else 'y/N'}] ").strip().lower()
    return default if not answer else answer.startswith("y")


def base_python() -> str:
    """The interpreter the venvs are built on: the one behind the running (common) venv."""
    return getattr(sys, "_base_executable", None) or sys.executable


def check_system_tools(opts: BootstrapOptions) -> dict[str, str | None]:
    found = {t: system_tools.find(t) for t in (*system_tools.REQUIRED, *system_tools.FOR_TESTS,
                                               *system_tools.fonts())}
    missing = [t for t, p in found.items() if p is None]
    if not missing:
        return found
    manager = system_tools.package_manager()
    command = system_tools.install_command(missing, manager)
    can_install = manager == "apt" and hasattr(os, "geteuid") and os.geteuid() == 0
    if can_install and confirm(f"Install {', '.join(missing)} with apt-get?", opts):
        packages = command.replace("sudo ", "").split()
        logger.info("installing %s", " ".join(packages[3:]))
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        proc = subprocess.run(packages[:3] + ["--no-install-recommends"] + packages[3:], env=env)
        if proc.returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env)
            subprocess.run(packages[:3] + ["--no-install-recommends"] + packages[3:], env=env)
        found = {t: system_tools.find(t) for t in found}
        missing = [t for t, p in found.items() if p is None]
    for tool in missing:
        need = ("required" if tool in system_tools.REQUIRED else
                "burn-in and the report draw that script as boxes without it"
                if tool.startswith("font:") else "used by the tests")
        logger.warning("%s is missing (%s): install it with: %s", tool, need,
                       system_tools.install_command([tool], manager))
    return found


def check_disk(path: Path, need_gb: float, what: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    free_gb = shutil.disk_usage(path).free / 2**30
    if free_gb < need_gb:
        raise PipelineError(
            f"not enough disk for {what}: {free_gb:.1f} GB free at {path}, needs about "
            f"{need_gb:.1f} GB", fix="free some space, or build fewer environments with --envs")


def build_envs(opts: BootstrapOptions, cache: HardwareCache) -> dict[str, str]:
    registry = load_registry()
    names = opts.envs
    if not names and opts.demo:  # the demo needs only what the transcribe workflow uses
        names = cache.workflow_environments["transcribe"]
    selected = registry.select(names)  # raises on unknown names
    uv = None
    status: dict[str, str] = {}
    for spec in selected:
        entry = cache.environments[spec.name]
        if not entry.applicable:
            logger.info("skip %-11s %s", spec.name, entry.reason)
            status[spec.name] = "skipped"
            continue
        state, reason = venvs.venv_state(spec.venv_dir, spec.lock_file)
        adding = missing_groups(opts, spec.name, spec.venv_dir)
        if adding and state == "ready":
            state, reason = "stale", f"adding {', '.join(adding)} (--with)"
        if state == "ready" and not opts.force:
            logger.info("ok   %-11s ready (%s)", spec.name, spec.venv_dir)
            status[spec.name] = "ready"
            continue
        if state == "missing":
            check_disk(VENVS_DIR, spec.size_gb * 0.15, f"the {spec.name} venv")
        uv = uv or venvs.ensure_uv(VENVS_DIR / ".tools", base_python())
        logger.info("build %-10s %s", spec.name, "forced rebuild" if opts.force else reason)
        try:
            groups = venvs.installed_groups(spec.venv_dir) + adding
            seconds = venvs.sync_venv(uv, spec.project_dir, spec.venv_dir, spec.lock_file,
                                      base_python(), reinstall=opts.force,
                                      groups=groups if spec.name == "common" else [])
        except subprocess.CalledProcessError as e:
            logger.error("building %s failed (uv exit %d): check network access to PyPI and "
                         "re-run ./bootstrap.sh --envs %s (a half-built venv is repaired)",
                         spec.name, e.returncode, spec.name)
            status[spec.name] = "failed"
            continue
        check = _import_check(spec)
        if check:
            logger.error("%s built but does not import: %s", spec.name, check)
            status[spec.name] = "failed"
            (spec.venv_dir / venvs.MARKER).unlink(missing_ok=True)
            continue
        logger.info("ok   %-11s built in %.1fs", spec.name, seconds)
        status[spec.name] = "built"
    return status


def _import_check(spec) -> str | None:
    if not spec.import_check:
        return None
    code = "; ".join(f"import {m}" for m in spec.import_check)
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env["PYANNOTE_METRICS_ENABLED"] = "false"
    proc = subprocess.run([str(venv_python(spec.venv_dir)), "-c", code], capture_output=True,
                          text=True, env=env)
    if proc.returncode != 0:
        return (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
    return None


def run_bootstrap(opts: BootstrapOptions) -> int:
    started = time.monotonic()
    registry = load_registry()
    registry.select(opts.envs)  # validate --envs before doing anything
    models = load_models()
    if opts.profile:
        models.profile(opts.profile)
    if opts.skip_cache and opts.cache_models:
        raise InputError("--skip-cache and --cache-models contradict each other",
                         fix="use one of them")

    tools = check_system_tools(opts)
    hw = hardware.probe()
    cache = build(hw, registry, models, load_workflows(), cache_base=opts.cache_dir,
                  profile=opts.profile, system_tools=tools)
    cache.cache.create()
    cache.save(hardware_cache_path())
    gpus = ", ".join(f"{d.name} ({d.vram_mb} MB)" for d in hw.cuda_devices) or "none"
    logger.info("hardware: %s %s, %d cores, %d MB RAM, CUDA: %s%s", hw.os, hw.arch, hw.cpu_cores,
                hw.ram_mb, gpus, ", Apple Silicon" if hw.apple_silicon else "")
    logger.info("profile %s: device %s, compute %s, batch %d", cache.defaults.profile,
                cache.defaults.device, cache.defaults.compute_type, cache.defaults.batch_size)
    logger.info("wrote %s", hardware_cache_path())

    status = build_envs(opts, cache)

    embedded_model.install(cache.cache.hf_hub_cache)
    logger.info("embedded model %s ready in %s", embedded_model.REPO_ID, cache.cache.hf_hub_cache)

    if opts.cache_models or (not opts.skip_cache and confirm(
            f"Download the models of profile {cache.defaults.profile} now?", opts, default=False)):
        from scripts import model_cache

        model_cache.download(cache, model_cache.select_models(
            load_models(), cache.defaults.profile, workflow=None, stage=None, every=False),
            dry_run=False)
    elif not opts.skip_cache:
        logger.info("models: not downloaded; run ./cache-models.sh --profile %s when online",
                    cache.defaults.profile)

    failed = [n for n, s in status.items() if s == "failed"]
    missing_tools = [t for t in system_tools.REQUIRED if not tools.get(t)]
    elapsed = time.monotonic() - started
    if failed or missing_tools:
        logger.error("not ready after %.1fs: %s", elapsed, "; ".join(
            [f"venv {n} failed" for n in failed] + [f"{t} missing" for t in missing_tools]))
        return 1
    logger.info("ready in %.1fs (%s)", elapsed, PROJECT_ROOT)
    if opts.demo:
        from scripts.demo import run_demo

        for srt in run_demo(cache, opts.demo_media, opts.jobs_root):
            logger.info("demo subtitles: %s", srt)
            sys.stdout.write(f"{srt}\n")
    return 0
