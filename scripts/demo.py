"""bootstrap --demo: the quickstart's proof that everything works. Transcribes a media file
the user names, or a short English sample made on the spot with espeak-ng, with the embedded
model, through the real prepare + run path, and returns the subtitle files it wrote."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

from shared import system_tools
from shared.errors import PipelineError
from shared.hardware_cache import HardwareCache

logger = logging.getLogger("demo")

SAMPLE_TEXT = ("Welcome to the offline subtitle pipeline. This sample was spoken by a speech "
               "synthesizer, and Whisper turned it into subtitles on this machine.")


def make_sample(folder: Path) -> Path:
    espeak = system_tools.find("espeak-ng")
    if espeak is None:
        raise PipelineError("espeak-ng is needed to make the demo sample",
                            fix=f"{system_tools.install_command(['espeak-ng'])}, or name a file: "
                            "./bootstrap.sh --demo --demo-media FILE")
    folder.mkdir(parents=True, exist_ok=True)
    sample = folder / "demo-sample.wav"
    subprocess.run([espeak, "-v", "en-us", "-s", "150", "-w", str(sample), SAMPLE_TEXT],
                   check=True, capture_output=True)
    return sample


def run_demo(cache: HardwareCache, media: Path | None, jobs_root: Path) -> list[Path]:
    from scripts.prepare import PrepareOptions, prepare
    from shared.display import PlainDisplay
    from shared.runner import Runner, RunOptions

    source = media or make_sample(cache.cache.base_dir / "demo")
    lang = "auto" if media else "en"
    (job_id, job_dir), = prepare(PrepareOptions(media=[source], source_lang=lang,
                                                out=jobs_root))
    logger.info("demo job %s: transcribing %s", job_id, source)
    report = Runner(cache, display=PlainDisplay()).run([job_dir], RunOptions())
    failure = report.jobs[0].error
    if failure is not None:
        raise failure
    for reason in report.jobs[0].degraded:
        logger.warning("demo job %s degraded: %s", job_id, reason)
    return sorted((job_dir / "subtitles").glob("*.srt"))
