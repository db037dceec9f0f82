"""cache-models command body: tables for --list and --verify, downloads otherwise."""

from __future__ import annotations

import logging

from rich.table import Table

from scripts import model_cache
from shared import hardware_cache
from shared.display import make_console
from shared.environment_manager import EnvironmentManager
from shared.errors import InputError
from shared.model_registry import load_models
from shared.paths import hardware_cache_path

logger = logging.getLogger("cache-models")


def main(*, list_: bool, every: bool, workflow: str | None, stage: str | None,
         profile: str | None, dry_run: bool, verify: bool,
         names: list[str] | None = None) -> int:
    cache = hardware_cache.load(hardware_cache_path())
    registry = load_models()
    profile = profile or cache.defaults.profile
    registry.profile(profile)
    console = make_console()
    if list_:
        table = Table(title=f"models in {cache.cache.hf_hub_cache} (profile {profile})",
                      title_justify="left")
        for column in ("model", "stage", "repo", "size", "status", "in profile", "fix"):
            table.add_column(column)
        for row in model_cache.list_rows(cache, registry):
            profiles = [p.name for p in registry.profiles.values()
                        if any(row.spec.name in names for names in p.models.values())]
            source = row.spec.repo_id or row.spec.package or ""
            table.add_row(row.spec.name, row.spec.stage, source, f"~{row.spec.size_mb} MB",
                          row.status, ", ".join(profiles), row.fix)
        console.print(table)
        others = model_cache.other_cached_repos(cache, registry)
        if others:
            console.print("other cached repos: " + ", ".join(
                f"{repo} ({size / 2**20:.0f} MB)" for repo, size in others), markup=False)
        return 0
    specs = model_cache.select_models(
        registry, profile, workflow=workflow, stage=stage, every=every, names=names,
        cached_in=cache.cache.hf_hub_cache if verify else None)
    if not specs:
        raise InputError("nothing selected",
                         fix="use --all, --model NAME, --workflow W, --stage S or --profile P")
    if verify:
        rows = model_cache.verify(cache, specs, EnvironmentManager(cache))
        table = Table(title="offline load check", title_justify="left")
        for column in ("model", "env", "status", "detail", "fix"):
            table.add_column(column)
        for row in rows:
            table.add_row(row.spec.name, row.spec.env, row.status.upper(), row.detail, row.fix)
        console.print(table)
        return 0 if all(r.status in ("ok", "skipped") for r in rows) else 1
    model_cache.download(cache, specs, dry_run=dry_run)  # raises if any download failed
    return 0
