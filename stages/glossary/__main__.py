"""`python -m stages.glossary --job DIR`: merge the glossaries (common venv)."""

from shared import stage_main
from stages.glossary import SPEC
from stages.glossary.run import process

stage_main.run(SPEC, process)
