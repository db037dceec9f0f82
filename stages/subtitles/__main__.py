"""`python -m stages.subtitles --job DIR [--job DIR ...]`: run the stage in the common venv."""

from shared import stage_main
from stages.subtitles import SPEC
from stages.subtitles.run import process

stage_main.run(SPEC, process)
