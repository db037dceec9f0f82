"""The model registry and hardware profiles (config/models.toml)."""

from __future__ import annotations

from collections.abc import Container
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared import hf_cache
from shared.config_files import load_toml, validate
from shared.errors import ConfigError, InputError, ModelMissingError
from shared.hardware import HardwareInfo
from shared.paths import CONFIG_DIR

MODELS_FILE = CONFIG_DIR / "models.toml"


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ""
    stage: str
    kind: Literal["hf", "bundled"]
    repo_id: str | None = None
    revision: str = "main"
    package: str | None = None
    env: str
    loader: Literal["faster_whisper", "mlx_whisper", "demucs", "transformers_seq2seq",
                    "wav2vec2_ctc", "pyannote", "files"]
    size_mb: int
    embedded: bool = False
    description: str = ""
    # ASR models: languages this model is known to transcribe poorly (measured or published
    # error rates); prepare warns and an empty transcript names a better model
    weak_languages: list[str] = Field(default_factory=list)

    def is_cached(self, hub_cache: Path) -> bool:
        if self.kind == "bundled":
            return True
        assert self.repo_id
        return hf_cache.is_cached(hub_cache, self.repo_id, self.revision)

    def cached_revision(self, hub_cache: Path) -> str | None:
        """The commit the cache resolves this model to (part of stage fingerprints)."""
        if self.kind == "bundled":
            return f"bundled:{self.package}"
        assert self.repo_id
        if len(self.revision) == 40:
            return self.revision
        return hf_cache.read_ref(hub_cache, self.repo_id, self.revision)


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ""
    description: str
    device: str
    compute_type: str
    batch_size: int
    asr_backend: str
    models: dict[str, list[str]]


class ModelRegistry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: dict[str, ModelSpec]
    profiles: dict[str, Profile] = Field(default_factory=dict)
    # language -> wav2vec2 CTC models for forced alignment, in order of preference
    aligners: dict[str, list[str]] = Field(default_factory=dict)

    def model(self, name: str) -> ModelSpec:
        try:
            return self.models[name]
        except KeyError:
            raise InputError(f"unknown model '{name}'",
                             fix=f"use one of: {', '.join(self.models)}") from None

    def profile(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            raise InputError(f"unknown profile '{name}'",
                             fix=f"use one of: {', '.join(self.profiles)}") from None

    def candidates(self, profile: str, slot: str) -> list[ModelSpec]:
        return [self.model(n) for n in self.profile(profile).models.get(slot, [])]

    def resolve(self, profile: str, slot: str, hub_cache: Path,
                offered: Container[str] = ()) -> ModelSpec:
        """The first candidate for ``slot`` in ``profile`` cached here (or ``offered`` by a
        cluster's nodes); raise naming the fix if none."""
        candidates = self.candidates(profile, slot)
        if not candidates:
            raise ConfigError(f"profile '{profile}' lists no model for '{slot}'",
                              fix=f"add models.{slot} to [profiles.{profile}] in {MODELS_FILE}")
        for spec in candidates:
            if spec.is_cached(hub_cache) or spec.name in offered:
                return spec
        names = ", ".join(s.name for s in candidates)
        raise ModelMissingError(
            f"no model for {slot} is cached in {hub_cache} (profile {profile} wants: {names})",
            fix=f"./cache-models.sh --model {candidates[0].name}   (or the stage's models: "
            f"./cache-models.sh --stage {slot.split('.')[0]} --profile {profile})"
            + ("   (or ./bootstrap.sh --skip-cache for the embedded model)"
               if any(s.embedded for s in candidates) else ""),
        )

    def aligner(self, language: str, hub_cache: Path,
                offered: Container[str] = ()) -> ModelSpec | None:
        """The first alignment model listed for ``language`` cached here (or ``offered``);
        None if none is (the alignment stage then uses Whisper's word timestamps)."""
        for name in self.aligners.get(language, []):
            spec = self.model(name)
            if spec.is_cached(hub_cache) or name in offered:
                return spec
        return None

    def better_asr(self, language: str, current: ModelSpec | None) -> ModelSpec | None:
        """The first ASR model after ``current`` (registry order: small to large) that is
        not weak in ``language``; None when none is listed."""
        names = [n for n, m in self.models.items() if m.stage == "asr" and m.env == "whisperx"]
        start = names.index(current.name) + 1 if current and current.name in names else 0
        for name in names[start:]:
            if language not in self.models[name].weak_languages:
                return self.models[name]
        return None

    def by_repo_or_name(self, ref: str) -> ModelSpec | None:
        for spec in self.models.values():
            if ref in (spec.name, spec.repo_id):
                return spec
        return None


def choose_profile(hw: HardwareInfo) -> str:
    if hw.has_cuda:
        return "cuda"
    if hw.apple_silicon:
        return "apple"
    return "cpu"


def batch_size_for(profile: Profile, hw: HardwareInfo) -> int:
    """Scale the profile's GPU batch size to the smallest device's VRAM."""
    if profile.device != "cuda" or not hw.cuda_devices:
        return profile.batch_size
    vram_gb = min(d.vram_mb for d in hw.cuda_devices) / 1024
    if vram_gb >= 20:
        return profile.batch_size
    if vram_gb >= 10:
        return max(1, profile.batch_size // 2)
    return max(1, profile.batch_size // 4)


@cache
def load_models(path: Path = MODELS_FILE) -> ModelRegistry:
    data = load_toml(path)
    for section in ("models", "profiles"):
        for name, entry in data.get(section, {}).items():
            if isinstance(entry, dict):
                entry["name"] = name
    registry = validate(ModelRegistry, data, path)
    for profile in registry.profiles.values():
        for slot, names in profile.models.items():
            for n in names:
                if n not in registry.models:
                    raise ConfigError(f"{path}: profiles.{profile.name}.models.{slot} names "
                                      f"unknown model '{n}'", fix=f"correct {path}")
    for language, names in registry.aligners.items():
        for n in names:
            if registry.models.get(n) is None or registry.models[n].stage != "alignment":
                raise ConfigError(f"{path}: aligners.{language} names '{n}', which is not an "
                                  "alignment model of [models]", fix=f"correct {path}")
    return registry


def better_model_fix(language: str, model: str | None) -> str:
    """The commands that get a model fit for ``language`` (from config/models.toml)."""
    registry = load_models()
    current = registry.by_repo_or_name(model) if model else None
    better = registry.better_asr(language, current) if language != "und" else None
    if better is None:
        return ("a larger Whisper model: ./cache-models.sh --model faster-whisper-large-v3, then "
                "re-run with --set asr.model=faster-whisper-large-v3")
    return (f"./cache-models.sh --model {better.name}, then re-run with "
            f"--set asr.model={better.name}")
