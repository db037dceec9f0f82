"""Which model and device a stage uses: written once for every stage's ``resolve``.

A user's setting (``--set asr.model=...``: a registry name, a hub repo id or a local folder)
or, without one, the first cached candidate of the profile's slot -> what the stage loads
(repo id or folder), which must be in the cache (a run never downloads), or, with
``--executor ray``, offered by the cluster's nodes (ctx.offered: the node loads it from its
own cache); otherwise the standard missing-model error with the command that fixes it
(shared/model_fix.py).
"""

from __future__ import annotations

from pathlib import Path

from shared import hf_cache
from shared.errors import InputError, ModelMissingError
from shared.model_fix import cache_model_fix
from shared.stage import ModelRef, ResolveContext

LOCAL = "local"  # the revision of a model loaded from a folder


def choose_model(setting: str | None, ctx: ResolveContext, *, what: str,
                 slot: str | None = None, aliases: tuple[str, ...] = (),
                 unknown_fix: str | None = None, missing_fix: str = "") -> str:
    """The repo id or folder to load: ``setting``, else the profile's ``slot``.

    ``aliases`` are other registry names or repo ids the setting may stand for (tried in
    order after it: "small" -> "faster-whisper-small" -> "Systran/faster-whisper-small");
    ``what`` names the model in messages ("ASR model"); ``missing_fix`` is added to the fix
    of a model that is not cached."""
    hub = ctx.hardware.cache.hf_hub_cache
    if setting is None:
        assert slot is not None, "a model setting or a profile slot"
        spec = ctx.models.resolve(ctx.profile, slot, hub, ctx.offered)  # raises with the fix
        assert spec.repo_id, spec.name
        return spec.repo_id
    folder = Path(setting).expanduser()
    if folder.is_dir():
        return str(folder.resolve())
    names = (setting, *aliases)
    spec = next((s for s in map(ctx.models.by_repo_or_name, names) if s is not None), None)
    repo_id = spec.repo_id if spec and spec.repo_id else next(
        (n for n in names if "/" in n), setting)
    if "/" not in repo_id:
        raise InputError(f"unknown {what} '{setting}'", fix=unknown_fix or (
            "use a registry name (./cache-models.sh --list), a hub repo id (org/name) or a "
            "local folder"))
    if not hf_cache.is_cached(hub, repo_id) and not (spec and spec.name in ctx.offered):
        raise ModelMissingError(f"{what} {repo_id} is not in the cache ({hub})",
                                fix=cache_model_fix(repo_id, hub, spec.name if spec else None)
                                + missing_fix)
    return repo_id


def model_ref(model: str, ctx: ResolveContext) -> ModelRef:
    """What the fingerprint records of a model ``choose_model`` picked: its registry name
    and the cached revision (a folder: its path, revision "local"); a model not cached
    here that a cluster's nodes offer: the revision they advertise."""
    if Path(model).is_dir():
        return ModelRef(name=model, repo_id=None, revision=LOCAL)
    spec = ctx.models.by_repo_or_name(model)
    revision = hf_cache.read_ref(ctx.hardware.cache.hf_hub_cache, model)
    if revision is None and spec is not None:  # not cached here: the nodes' revision
        revision = ctx.offered.get(spec.name)
    return ModelRef(name=spec.name if spec else model, repo_id=model, revision=revision)


def device_for(setting: str | None, ctx: ResolveContext,
               supported: tuple[str, ...] = ("cpu", "cuda")) -> str:
    """The user's device, else the machine's when the stage supports it, else the CPU."""
    if setting:
        return setting
    machine = ctx.hardware.defaults.device
    return machine if machine in supported else "cpu"
