"""The review report: <job>/report.html (one self-contained page per job) and
<out>/index.html (the library), built from the job folders by scripts/run.py after each run
and by `run-pipeline.sh --report`."""
