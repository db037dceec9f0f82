"""`python -m stages.mux --job DIR [--job DIR ...]`: run the stage in the common venv."""

from shared import stage_main
from stages.mux import SPEC
from stages.mux.run import process

stage_main.run(SPEC, process)
