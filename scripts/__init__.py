"""Entry points: the typer CLI behind bootstrap.sh, cache-models.sh, prepare-job.sh and
run-pipeline.sh, and the stdlib-only helper that makes sure the common venv exists."""
