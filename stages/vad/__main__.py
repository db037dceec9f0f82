"""`python -m stages.vad --job DIR [--job DIR ...]`: run the stage in the venv its backend needs
(silero: whisperx, pyannote: pyannote)."""

from shared import stage_main
from stages.vad import SPEC
from stages.vad.run import process, setup

stage_main.run(SPEC, process, setup)
