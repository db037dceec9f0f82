"""Orchestration core, importable in every stage environment.

Modules that the stage venvs import (stage contract, job and request models, atomic
writes, logging) depend only on pydantic and the standard library. Modules used only by
the CLI (bootstrap, model cache, runner) may use the common venv's packages.
"""
