"""Run inside a stage venv by the EnvironmentManager: report what the process sees."""

import json
import os
import sys

VARIABLES = ("TORCH_HOME", "HF_HOME", "HF_HUB_CACHE", "TRANSFORMERS_CACHE", "MLX_CACHE_DIR",
             "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "PYTHONPATH", "PYTHONUNBUFFERED",
             "TOKENIZERS_PARALLELISM", "PYANNOTE_METRICS_ENABLED", "VIRTUAL_ENV")

report = {"prefix": sys.prefix, "env": {k: os.environ.get(k) for k in VARIABLES}}
try:
    import huggingface_hub.constants as hub

    report["hf_hub_cache"] = hub.HF_HUB_CACHE
    report["hf_hub_offline"] = bool(hub.HF_HUB_OFFLINE)
except ImportError:
    report["hf_hub_cache"] = None
try:
    import torch.hub

    report["torch_hub_dir"] = torch.hub.get_dir()
except ImportError:
    report["torch_hub_dir"] = None
try:
    import shared.stage  # noqa: F401 - the stage contract must import in every venv

    report["shared_imports"] = True
except ImportError as e:
    report["shared_imports"] = str(e)
sys.stdout.write(json.dumps(report) + "\n")
