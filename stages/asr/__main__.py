"""`python -m stages.asr --job DIR [--job DIR ...]`: run the stage in the whisperx venv."""

from shared import stage_main
from stages.asr import SPEC
from stages.asr.decode import process, setup

stage_main.run(SPEC, process, setup)
