"""One package (or module) per stage, run as `python -m shared.stage_main stages.<name> --job
<dir>` in the venv its contract picks.

Each declares one ``SPEC`` (shared.stage.StageSpec) naming its ``process``; heavy imports stay
inside the functions that run in the stage's venv. See "Adding a stage" in
shared/ARCHITECTURE.md.
"""
