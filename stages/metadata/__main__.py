"""`python -m stages.metadata --job DIR [--job DIR ...]`: run the stage in the common venv."""

from shared import stage_main
from stages.metadata import SPEC
from stages.metadata.run import process

stage_main.run(SPEC, process)
