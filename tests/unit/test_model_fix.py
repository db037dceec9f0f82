"""Every command a model-missing error prints works: each error is raised by the real code
(resolve / model_refs of each stage, the registry) on an empty cache, and each program its fix
names is run with --help (plus its subcommand) in the venv the fix names. A bare program name
(``huggingface-cli``, ``hf``) fails: the user could not know which venv holds it."""

from __future__ import annotations

import re
import subprocess
from types import SimpleNamespace

import pytest

from shared.env_registry import load_registry
from shared.errors import ModelMissingError
from shared.hardware import HardwareInfo
from shared.hardware_cache import build
from shared.model_registry import load_models
from shared.stage import ResolveContext
from shared.workflows import load_workflows
from tests.helpers import ROOT

HW = HardwareInfo(os="linux", os_release="6", arch="x86_64", python="3.11", cpu_cores=4,
                  ram_mb=8000)
# a program: one of the project's scripts, or anything else up to the next space; then the
# subcommand words that follow it (lower-case words, no option, no repo id)
COMMAND = re.compile(r"(?:^|(?<=[\s(:]))(\./[\w.-]+\.sh|(?:huggingface-cli|hf|\S+/bin/[\w.-]+))"
                     r"((?:\s+[a-z][a-z-]*(?=\s|$))*)")


def commands_in(fix: str) -> list[tuple[str, ...]]:
    return [(program, *words.split()) for program, words in COMMAND.findall(fix)]


def model_missing_fixes(tmp_path) -> dict[str, str]:
    """case -> the fix text of the ModelMissingError the real code raises for it."""
    from stages import source_separation as sep
    from stages.alignment import AlignmentParams
    from stages.alignment import resolve as align_resolve
    from stages.asr import AsrParams
    from stages.asr import resolve as asr_resolve
    from stages.translation import TranslationParams
    from stages.translation import resolve as translation_resolve

    cache = build(HW, load_registry(), load_models(), load_workflows(), cache_base=tmp_path)
    cache.cache.hf_hub_cache.mkdir(parents=True)
    models = load_models()

    def ctx(source="en", lang=None):
        return ResolveContext(hardware=cache, models=models, profile="cpu", lang=lang,
                              job=SimpleNamespace(source_lang=source, overrides={}))

    attempts = {
        "asr, a Whisper size": lambda: asr_resolve(AsrParams(model="tiny"), ctx()),
        "asr, a registry model": lambda: asr_resolve(AsrParams(model="faster-whisper-small"),
                                                     ctx()),
        "asr, the profile's model": lambda: asr_resolve(AsrParams(), ctx()),
        "alignment, a hub repo": lambda: align_resolve(AlignmentParams(model="org/absent"),
                                                       ctx()),
        "alignment, a registry model": lambda: align_resolve(
            AlignmentParams(model="wav2vec2-hindi"), ctx("hi")),
        "translation, a registry model": lambda: translation_resolve(
            TranslationParams(model="nllb-200-distilled-1.3B"), ctx("en", "fr")),
        "translation, a hub repo": lambda: translation_resolve(
            TranslationParams(model="org/nllb-custom"), ctx("en", "fr")),
        "translation, the profile's model": lambda: translation_resolve(
            TranslationParams(), ctx("en", "hi")),
        "source separation": lambda: sep.model_refs(
            sep.resolve(sep.SeparationParams(model="htdemucs_ft"), ctx()), ctx()),
    }
    fixes = {}
    for case, attempt in attempts.items():
        with pytest.raises(ModelMissingError) as caught:
            attempt()
        assert caught.value.fix, case
        fixes[case] = caught.value.fix
    return fixes


def test_the_fix_names_cache_models_first_for_a_registry_model(tmp_path):
    fixes = model_missing_fixes(tmp_path)
    assert fixes["asr, a registry model"].startswith(
        "./cache-models.sh --model faster-whisper-small")
    assert fixes["translation, a registry model"].startswith(
        "./cache-models.sh --model nllb-200-distilled-1.3B")
    assert fixes["alignment, a registry model"].startswith(
        "./cache-models.sh --model wav2vec2-hindi")
    assert fixes["source separation"].startswith("./cache-models.sh --model htdemucs_ft")
    assert fixes["translation, the profile's model"].startswith(
        "./cache-models.sh --model indictrans2-en-indic-dist-200M")
    hub = str(tmp_path / "huggingface" / "hub")
    assert f"hf download org/absent --cache-dir {hub}" in fixes["alignment, a hub repo"]


def test_every_printed_fix_command_runs(tmp_path):
    fixes = model_missing_fixes(tmp_path)
    programs = {}
    for case, fix in fixes.items():
        found = commands_in(fix)
        assert found, (case, fix)
        for command in found:
            programs.setdefault(command, case)
    for command, case in programs.items():
        program, *words = command
        assert program.startswith("./") or "/" in program, \
            f"{case}: '{program}' names no venv, so the user cannot know which one holds it"
        proc = subprocess.run([str(ROOT / program), *words, "--help"], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, (case, command, proc.stdout[-500:], proc.stderr[-500:])
        assert "Usage" in proc.stdout, (case, command, proc.stdout[-500:])
    assert ("./cache-models.sh",) in programs
    assert any(c[0].endswith("/bin/hf") and c[1:] == ("download",) for c in programs)


def test_commands_in_reads_the_hint_forms():
    assert commands_in("./cache-models.sh --model x   (or the stage's models: "
                       "./cache-models.sh --stage asr --profile cpu)") == \
        [("./cache-models.sh",), ("./cache-models.sh",)]
    assert commands_in("with network: .venvs/common/bin/hf download org/x --cache-dir /c") == \
        [(".venvs/common/bin/hf", "download")]
    assert commands_in("with network: HF_HOME=/h huggingface-cli download Systran/x") == \
        [("huggingface-cli", "download")]
