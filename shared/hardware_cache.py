"""config/hardware_cache.json: what bootstrap found and chose for this machine.

Written by bootstrap (atomically), read by the EnvironmentManager, the runner and
cache-models. A missing, stale or hand-broken file gives an error that names the fix.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from shared import atomic
from shared.config_files import validate
from shared.env_registry import EnvironmentRegistry, current_platform
from shared.errors import ConfigError
from shared.hardware import HardwareInfo
from shared.model_registry import ModelRegistry, batch_size_for, choose_profile
from shared.paths import DEFAULT_CACHE_DIR, PROJECT_ROOT, venv_python
from shared.workflows import WorkflowRegistry

SCHEMA_VERSION = 1
APPLICATION_CACHES = ("tmdb", "musicbrainz", "glossary", "llm")


def _regenerate(path: Path) -> str:
    """The fix for a missing or broken hardware cache, naming the file bootstrap rewrites
    (config/hardware_cache.json, or $SUBPIPE_HARDWARE_CACHE where that is set)."""
    return f"./bootstrap.sh --skip-cache   (rewrites {path})"


class CachePaths(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_dir: Path
    torch_home: Path
    hf_home: Path
    hf_hub_cache: Path
    mlx_home: Path
    application_caches: dict[str, Path]

    @classmethod
    def under(cls, base: Path) -> CachePaths:
        base = Path(base).resolve()
        return cls(
            base_dir=base,
            torch_home=base / "torch",
            hf_home=base / "huggingface",
            hf_hub_cache=base / "huggingface" / "hub",
            mlx_home=base / "mlx",
            application_caches={name: base / "app" / name for name in APPLICATION_CACHES},
        )

    def create(self) -> None:
        for path in (self.torch_home, self.hf_hub_cache, self.mlx_home,
                     *self.application_caches.values()):
            path.mkdir(parents=True, exist_ok=True)


class EnvironmentEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path
    python: Path
    applicable: bool
    reason: str = ""


class Defaults(BaseModel):
    """Device, compute type, batch size and model profile chosen for this machine."""

    model_config = ConfigDict(extra="forbid")

    profile: str
    device: str
    compute_type: str
    batch_size: int
    asr_backend: str
    cpu_threads: int


class HardwareCache(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int
    generated_at: str
    project_root: Path
    platform: str
    hardware: HardwareInfo
    cache: CachePaths
    environments: dict[str, EnvironmentEntry]
    stage_environments: dict[str, list[str]]
    workflow_environments: dict[str, list[str]]
    defaults: Defaults
    system_tools: dict[str, str | None] = Field(default_factory=dict)

    def save(self, path: Path) -> None:
        atomic.write_text(path, self.model_dump_json(indent=2) + "\n")


def build(hw: HardwareInfo, envs: EnvironmentRegistry, models: ModelRegistry,
          workflows: WorkflowRegistry, cache_base: Path = DEFAULT_CACHE_DIR,
          profile: str | None = None, system_tools: dict[str, str | None] | None = None,
          ) -> HardwareCache:
    plat = current_platform()
    env_entries: dict[str, EnvironmentEntry] = {}
    for spec in envs.environments.values():
        ok, reason = spec.applies_here(plat)
        env_entries[spec.name] = EnvironmentEntry(
            path=spec.venv_dir, python=venv_python(spec.venv_dir), applicable=ok, reason=reason)
    applicable = {n for n, e in env_entries.items() if e.applicable}
    stage_envs: dict[str, list[str]] = {}
    for spec in envs.environments.values():
        if spec.name in applicable:
            for stage in spec.stages:
                stage_envs.setdefault(stage, []).append(spec.name)
    workflow_envs = {
        wf.name: sorted({"common"} | {e for s in wf.stage_names() for e in stage_envs.get(s, [])})
        for wf in workflows.workflows.values()
    }
    profile_name = profile or choose_profile(hw)
    prof = models.profile(profile_name)
    return HardwareCache(
        schema_version=SCHEMA_VERSION,
        generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        project_root=PROJECT_ROOT,
        platform=plat,
        hardware=hw,
        cache=CachePaths.under(cache_base),
        environments=env_entries,
        stage_environments=stage_envs,
        workflow_environments=workflow_envs,
        defaults=Defaults(
            profile=profile_name,
            device=prof.device,
            compute_type=prof.compute_type,
            batch_size=batch_size_for(prof, hw),
            asr_backend=prof.asr_backend,
            cpu_threads=max(1, min(hw.cpu_cores, 8)),
        ),
        system_tools=system_tools or {},
    )


def load(path: Path) -> HardwareCache:
    """Read and validate hardware_cache.json; every failure names the fix."""
    if not path.is_file():
        raise ConfigError(f"{path} does not exist: this machine has not been bootstrapped",
                          fix=_regenerate(path))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})",
                          fix=f"fix it by hand or regenerate it: {_regenerate(path)}") from e
    if isinstance(data, dict) and data.get("schema_version") != SCHEMA_VERSION:
        raise ConfigError(f"{path} has schema_version {data.get('schema_version')!r}, "
                          f"this version reads {SCHEMA_VERSION}", fix=_regenerate(path))
    try:
        cache = validate(HardwareCache, data, path)
    except ConfigError as e:
        raise ConfigError(e.message, fix=f"correct it, or regenerate it: {_regenerate(path)}") \
            from e
    if cache.project_root.resolve() != PROJECT_ROOT.resolve() and \
            cache.environments.get("common", None) is not None and \
            not cache.environments["common"].path.exists():
        raise ConfigError(f"{path} was written for {cache.project_root}, not {PROJECT_ROOT}",
                          fix=_regenerate(path))
    return cache
