"""Checkpoints inside source_separation and translation (shared.checkpoint): each stage, run as the
runner runs it (`python -m shared.stage_main stages.<name>` in its venv, a request carrying the
run's fingerprint) on the tiny random models the tests build, is killed with SIGKILL right after
half of its chunks / blocks are checkpointed (tests/halt_after.py); the re-run does only the
rest (counted), says where it resumed, and its outputs equal those of a run that was never
interrupted, byte for byte. A run under another fingerprint starts over."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.environment_manager import EnvironmentManager, stage_argv
from shared.paths import venv_python
from shared.stage import ModelRef, StageRequest
from shared.transcript import SCHEMA_VERSION
from stages.source_separation import SeparationParams
from stages.translation import TranslationParams
from tests import tiny_demucs, tiny_nllb
from tests.fixtures_translation import tiny_nllb_hub  # noqa: F401 (a fixture)
from tests.halt_after import kill_after
from tests.helpers import ROOT, ffmpeg, make_model_cache, write_stage_request

pytestmark = pytest.mark.integration

SEPARATION_OUTPUTS = ("vocals.wav", "accompaniment.wav", "vocals_16k.wav")


class StageJob:
    """One job folder holding one stage instance, run the way the runner runs it."""

    def __init__(self, folder: Path, hardware, stage: str, env: str, params: dict,
                 inputs: dict[str, Path], *, lang: str | None = None,
                 models: list[ModelRef] | None = None, fingerprint: str = "run-1") -> None:
        self.dir = folder
        self.stage_dir = folder / "stages" / f"05_{stage}"
        self.key = f"{stage}:{lang}" if lang else stage
        self.stage, self.env = stage, env
        self.manager = EnvironmentManager(hardware)
        self.log = folder / "logs" / f"{stage}.log"
        self.request = StageRequest(
            job_id=folder.name, job_dir=folder, stage=stage, key=self.key, lang=lang,
            stage_dir=self.stage_dir, deliverables_dir=folder / "subtitles", title="Film",
            media=next(iter(inputs.values())), params=params, inputs=inputs,
            models=models or [], fingerprint=fingerprint)
        write_stage_request(self.request)

    def argv(self) -> list[str]:
        return stage_argv(self.stage, [self.dir], self.key)

    def run(self) -> dict:
        result = self.manager.run_in_environment(self.env, self.argv(), log_paths=[self.log],
                                                 timeout=600)
        assert result.ok, "\n".join(result.tail)
        return json.loads((self.stage_dir / "result.json").read_text("utf-8"))

    def kill_after(self, pieces: int) -> dict:
        """Killed (-9) once its checkpoint records ``pieces``; returns that checkpoint."""
        python = venv_python(self.manager.venv_dir(self.env))
        kill_after(pieces, python, f"stages.{self.stage}", self.argv()[3:],
                   self.manager.build_env(self.env), ROOT, self.log)
        return json.loads((self.stage_dir / "checkpoint.json").read_text("utf-8"))

    def refingerprint(self, fingerprint: str) -> None:
        self.request = self.request.model_copy(update={"fingerprint": fingerprint})
        write_stage_request(self.request)


# -- source_separation -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def demucs_cache(tmp_path_factory):
    hardware, _ = make_model_cache(tmp_path_factory.mktemp("resume-demucs"), embedded=False)
    tiny_demucs.install(hardware)
    return hardware


@pytest.fixture(scope="module")
def film_44k(speech, tmp_path_factory) -> Path:
    """12 s of 44.1 kHz stereo: JFK over a tone."""
    out = tmp_path_factory.mktemp("resume-media") / "audio_44k.wav"
    ffmpeg("-i", str(speech / "jfk.flac"), "-f", "lavfi", "-i", "sine=frequency=220:duration=12",
           "-filter_complex", "[0:a]aresample=44100,pan=stereo|c0=c0|c1=0.5*c0[s];"
           "[1:a]aresample=44100,pan=stereo|c0=0.3*c0|c1=0.6*c0[m];"
           "[s][m]amix=inputs=2:duration=longest[a]",
           "-map", "[a]", "-ar", "44100", "-ac", "2", str(out))
    return out


def separation_job(folder: Path, hardware, audio: Path, **params) -> StageJob:
    # the tiny model's step is 3 s: 12 s in 4 windows of 3 s + 1 s overlap
    resolved = SeparationParams(device="cpu", cpu_threads=1, chunk_seconds=3, overlap_seconds=1,
                                **params)
    return StageJob(folder, hardware, "source_separation", "demucs",
                    resolved.model_dump(mode="json"), {"audio": audio},
                    models=[ModelRef(name="htdemucs", repo_id=tiny_demucs.REPO_ID)])


def test_source_separation_killed_after_half_resumes_with_the_same_stems(
        demucs_cache, film_44k, tmp_path):
    whole = separation_job(tmp_path / "whole", demucs_cache, film_44k)
    reference = whole.run()["info"]
    assert (reference["chunks"], reference["chunks_separated"]) == (4, 4)

    job = separation_job(tmp_path / "killed", demucs_cache, film_44k)
    saved = job.kill_after(2)
    assert saved["done"] == 2 and saved["frames"] == 2 * 3 * 44100  # two windows less overlap
    assert not (job.stage_dir / "vocals.wav").exists()
    assert (job.stage_dir / ".vocals.wav.partial").is_file()

    info = job.run()["info"]
    assert (info["resumed_after_chunk"], info["chunks_separated"]) == (2, 2)
    assert "resuming after chunk 2 of 4 (6.0 s of stems already written)" in \
        job.log.read_text("utf-8")
    for name in SEPARATION_OUTPUTS:
        assert (job.stage_dir / name).read_bytes() == (whole.stage_dir / name).read_bytes(), name
    leftovers = {p.name for p in job.stage_dir.iterdir()} - {
        *SEPARATION_OUTPUTS, "separation.json", "result.json", "request.json"}
    assert leftovers == set()  # no checkpoint, partial stem or crossfade tail left behind

    # killed again, then re-run under another fingerprint (params, models, inputs or code
    # changed): nothing of the killed run is kept
    job.kill_after(1)
    job.refingerprint("run-2")
    info = job.run()["info"]
    assert (info["resumed_after_chunk"], info["chunks_separated"]) == (0, 4)
    assert "starting from the first chunk" in job.log.read_text("utf-8")
    for name in SEPARATION_OUTPUTS:
        assert (job.stage_dir / name).read_bytes() == (whole.stage_dir / name).read_bytes(), name


# -- translation (NMT) ---------------------------------------------------------------------------
HINDI = ["नमस्ते दोस्तों", "आज हम दो बातें करेंगे", "आप कैसे हैं?", "मैं ठीक हूँ।",
         "यह एक परीक्षण वाक्य है", "क्या तुम कल आओगे", "हाँ ज़रूर", "दोस्तों", "कल मिलेंगे",
         "राज कहाँ है?", "वह घर गया", "चलो चलते हैं"]


@pytest.fixture(scope="module")
def nllb_cache(tiny_nllb_hub, tmp_path_factory):  # noqa: F811
    hardware, _ = make_model_cache(tmp_path_factory.mktemp("resume-nllb"), embedded=False)
    tiny_nllb.copy_repo(tiny_nllb_hub, hardware.cache.hf_hub_cache)
    return hardware


def translation_job(folder: Path, hardware) -> StageJob:
    folder.mkdir(parents=True)
    segments = folder / "aligned.json"
    # 12 lines, each its own unit: 4 blocks of 3
    segments.write_text(json.dumps({"schema_version": SCHEMA_VERSION, "language": "hi",
                                    "segments": [
        {"start": 2.0 * i, "end": 2.0 * i + 1.5, "text": text}
        for i, text in enumerate(HINDI)]}, ensure_ascii=False), "utf-8")
    params = TranslationParams(nmt="nllb", model="facebook/nllb-200-distilled-600M",
                               device="cpu", batch_size=2, num_beams=1, source_lang="hi",
                               block_size=3, merge_fragments=False, allow_untranslated=True)
    return StageJob(folder, hardware, "translation", "nllb", params.model_dump(mode="json"),
                    {"segments": segments}, lang="en")


def test_translation_killed_after_half_resumes_with_the_same_lines(nllb_cache, tmp_path):
    whole = translation_job(tmp_path / "whole", nllb_cache)
    reference = whole.run()["info"]
    assert (reference["blocks"], reference["blocks_translated"]) == (4, 4)

    job = translation_job(tmp_path / "killed", nllb_cache)
    saved = job.kill_after(2)
    assert (saved["done"], saved["blocks"], saved["records"]) == (2, 4, 6)
    assert not (job.stage_dir / "segments.json").exists()

    info = job.run()["info"]
    assert (info["resumed_after_block"], info["blocks_translated"]) == (2, 2)
    assert "resuming after block 2 of 4 (6 of 12 units already translated)" in \
        job.log.read_text("utf-8")
    ours = (job.stage_dir / "segments.json").read_bytes()
    assert ours == (whole.stage_dir / "segments.json").read_bytes()
    assert info["generate_calls"] == reference["generate_calls"]  # of the whole run
    assert sorted(p.name for p in job.stage_dir.iterdir()) == [
        "request.json", "result.json", "segments.json"]



# -- asr ---------------------------------------------------------------------------------------
def asr_job(folder: Path, hardware, audio: Path) -> StageJob:
    """-s en, chunks of at most 8 s of speech (faster-whisper's own VAD), the embedded base."""
    from stages.asr import AsrParams

    params = AsrParams(model="Systran/faster-whisper-base", backend="faster-whisper",
                       device="cpu", compute_type="int8", cpu_threads=2, language="en",
                       max_chunk_s=8, word_timestamps=False, beam_size=1, best_of=1,
                       temperatures=[0.0])  # fast: the test is about the language check
    return StageJob(folder, hardware, "asr", "whisperx", params.model_dump(mode="json"),
                    {"audio": audio})


def test_asr_killed_after_a_chunk_keeps_the_set_language_verdict(test_cache, speech, tmp_path):
    """-s en over JFK then a Spanish scene: every chunk is checked from its decoding's own
    encoder output (no detection encoder pass). Killed (-9) after the first chunk, the re-run
    decodes the rest and keeps the first chunk's windows from the checkpoint: the same windows,
    verdict, degraded reason and text as a run that was never interrupted."""
    from tests.helpers import concat_audio, espeak, make_silence

    spanish = espeak("Hoy vamos a ver una película muy bonita en el cine del barrio. Después "
                     "comeremos juntos en la casa de mi abuela, que cocina muy bien.",
                     tmp_path / "es.wav", voice="es")
    audio = concat_audio([speech / "jfk.flac", make_silence(tmp_path / "gap.wav", 1.0),
                          spanish], tmp_path / "audio_16k.wav")
    whole = asr_job(tmp_path / "whole", test_cache, audio)
    reference = whole.run()
    assert any("sounds like 'es'" in reason and "not 'en'" in reason
               for reason in reference["degraded"]), reference["degraded"]

    job = asr_job(tmp_path / "killed", test_cache, audio)
    saved = job.kill_after(1)
    assert saved["done"] == 1 and len(saved["chunks"]) >= 3
    first = saved["decided"]["language_detection"]["windows"]
    assert first and {w["chunk"] for w in first} == {0}

    result = job.run()
    assert (result["info"]["resumed_after_chunk"], result["degraded"]) == \
        (1, reference["degraded"])

    def asr(stage: StageJob) -> tuple:
        data = json.loads((stage.stage_dir / "segments.json").read_text("utf-8"))
        return data["language_detection"], data["segments"]

    detection, segments = asr(job)
    assert (detection, segments) == asr(whole)
    assert detection["calls"] == 0
    kept = [{k: v for k, v in w.items() if k != "contradicts"}  # marked by the verdict
            for w in detection["windows"][:len(first)]]
    assert kept == first
    assert {w["chunk"] for w in detection["windows"]} == set(range(len(saved["chunks"])))
