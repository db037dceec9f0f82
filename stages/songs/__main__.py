"""`python -m stages.songs --job DIR [--job DIR ...]`: run the stage in the whisperx venv."""

from shared import stage_main
from stages.songs import SPEC
from stages.songs.run import process, setup

stage_main.run(SPEC, process, setup)
