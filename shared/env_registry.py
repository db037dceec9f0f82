"""The environment registry (config/environments.toml) as validated data."""

from __future__ import annotations

import platform
import sys
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from shared.config_files import load_toml, validate
from shared.errors import InputError
from shared.paths import CONFIG_DIR, PROJECT_ROOT, VENVS_DIR
from shared.venvs import lock_sha256

REGISTRY_FILE = CONFIG_DIR / "environments.toml"
KNOWN_PLATFORMS = {"linux", "win32", "darwin", "darwin-arm64"}


class EnvironmentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ""
    project: str
    platforms: list[str]
    stages: list[str]
    import_check: list[str] = Field(default_factory=list)
    passthrough: list[str] = Field(default_factory=list)
    variables: dict[str, str] = Field(default_factory=dict)  # set in every stage process
    size_gb: float = 1.0
    description: str = ""

    @property
    def project_dir(self) -> Path:
        return (PROJECT_ROOT / self.project).resolve()

    @property
    def lock_file(self) -> Path:
        return self.project_dir / "uv.lock"

    @property
    def venv_dir(self) -> Path:
        return VENVS_DIR / self.name

    def lock_hash(self) -> str:
        """sha256 of the environment's uv.lock: part of every stage fingerprint."""
        return lock_sha256(self.lock_file)

    def applies_here(self, plat: str | None = None) -> tuple[bool, str]:
        """Whether this environment can be built on this machine, and why not."""
        plat = plat or current_platform()
        os_name = plat.split("-")[0]
        if plat in self.platforms or os_name in self.platforms:
            return True, ""
        return False, f"only for {', '.join(self.platforms)} (this machine: {plat})"


class EnvironmentRegistry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    environments: dict[str, EnvironmentSpec]

    def get(self, name: str) -> EnvironmentSpec:
        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(self.environments)
            raise InputError(
                f"unknown environment '{name}'", fix=f"use one of: {known}"
            ) from None

    def select(self, names: list[str] | None) -> list[EnvironmentSpec]:
        """The named environments in registry order (all when ``names`` is empty)."""
        if not names:
            return list(self.environments.values())
        wanted = [self.get(n) for n in names]  # raises on unknown names
        return [e for e in self.environments.values() if e in wanted]

    def environments_for_stage(self, stage: str) -> list[str]:
        return [e.name for e in self.environments.values() if stage in e.stages]


def current_platform() -> str:
    """'linux', 'win32', 'darwin' or 'darwin-arm64' (Apple Silicon)."""
    if sys.platform == "darwin" and platform.machine() == "arm64":
        return "darwin-arm64"
    if sys.platform.startswith("linux"):
        return "linux"
    return sys.platform


@cache
def load_registry(path: Path = REGISTRY_FILE) -> EnvironmentRegistry:
    data = load_toml(path)
    for name, env in data.get("environments", {}).items():
        if isinstance(env, dict):
            env["name"] = name
    registry = validate(EnvironmentRegistry, data, path)
    for env in registry.environments.values():
        unknown = set(env.platforms) - KNOWN_PLATFORMS
        if unknown:
            from shared.errors import ConfigError

            raise ConfigError(
                f"{path}: environments.{env.name}.platforms has unknown {sorted(unknown)}",
                fix=f"use only {sorted(KNOWN_PLATFORMS)}",
            )
    return registry
