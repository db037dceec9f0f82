"""One module per stage, run as `python -m stages.<name> --job <dir>` in its venv.

Each module declares ``SPEC`` (shared.stage.StageSpec) and ``process``; heavy imports stay
inside the functions that run in the stage's venv.
"""
