"""`python -m stages.translation_llm --job DIR [--job DIR ...] --key translation_llm:<lang>`:
run the stage in the llm venv."""

from shared import stage_main
from stages.translation_llm import SPEC
from stages.translation_llm.run import process

stage_main.run(SPEC, process)
