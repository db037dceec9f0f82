"""`python -m stages.translation --job DIR [--job DIR ...]`: run the stage in the venv of the
engine its route picked (indictrans2 or nllb; common when there is no NMT model)."""

from shared import stage_main
from stages.translation import SPEC
from stages.translation.run import process, setup

stage_main.run(SPEC, process, setup)
