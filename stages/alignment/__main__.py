"""`python -m stages.alignment --job DIR [--job DIR ...]`: run the stage in the whisperx venv."""

from shared import stage_main
from stages.alignment import SPEC
from stages.alignment.run import process, setup

stage_main.run(SPEC, process, setup)
