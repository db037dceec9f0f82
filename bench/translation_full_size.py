"""The nllb engine at NLLB-200-distilled-600M's real size: lines per second by batch size on a
GPU (or the CPU), and the peak GPU memory of its confidence scoring against generate's own
output_scores. The weights are random (the real ones cannot be downloaded here) with the real
architecture: d_model 1024, 12 + 12 layers, 16 heads, FFN 4096, a 256,206-token vocabulary.
A random model never stops early, so every line runs to the engine's length limit
(2 x the longest input + 10 tokens): a worst case for the decoding, not a quality figure.

    python bench/translation_full_size.py [--device cuda] [--lines 256] [--json FILE]

Runs in any Python with torch, transformers 5 and sentencepiece (the nllb venv, or a GPU box's
own Python with pydantic added); it needs no model cache.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FULL = {"d_model": 1024, "encoder_layers": 12, "decoder_layers": 12,
        "encoder_attention_heads": 16, "decoder_attention_heads": 16, "encoder_ffn_dim": 4096,
        "decoder_ffn_dim": 4096, "max_position_embeddings": 1024, "vocab_size": 256206,
        "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2, "decoder_start_token_id": 2,
        "scale_embedding": True}


def build_engine(folder: Path, device: str, num_beams: int):
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    from stages.translation.nllb import NllbEngine
    from tests.tiny_nllb import build_tokenizer

    tokenizer = build_tokenizer(folder, seed=0)  # ids it lacks decode to nothing
    torch.manual_seed(0)
    net = M2M100ForConditionalGeneration(M2M100Config(**FULL))
    net = (net.half() if device.startswith("cuda") else net).to(device).eval()
    params = sum(p.numel() for p in net.parameters())
    engine = NllbEngine(model="random NLLB-600M-shaped", device=device, batch_size=1,
                        num_beams=num_beams, max_new_tokens_ratio=2.0, tokenizer=tokenizer,
                        net=net)
    return engine, params


def peak_gb(device: str) -> float | None:
    import torch

    if not device.startswith("cuda"):
        return None
    return round(torch.cuda.max_memory_allocated() / 2**30, 2)


def reset_peak(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def main() -> int:
    import torch

    from stages.translation.engine import LanguagePair
    from tests.tiny_nllb import corpus

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--lines", type=int, default=256)
    parser.add_argument("--batch-sizes", default="1,8,32")
    parser.add_argument("--num-beams", type=int, default=4)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    device = args.device
    lines = [line for line in corpus(1, args.lines) if any("\u0900" <= c <= "\u097f"
                                                             for c in line)][:args.lines]
    pair = LanguagePair("hi", "en", "hin_Deva", "eng_Latn")
    figures: dict = {"device": device, "num_beams": args.num_beams, "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        engine, params = build_engine(Path(tmp), device, args.num_beams)
        figures["parameters"] = params
        figures["build_s"] = round(time.perf_counter() - started, 1)
        engine.translate(lines[:4], pair)  # warm-up (CUDA kernels, allocator)
        for batch in (int(b) for b in args.batch_sizes.split(",")):
            engine.batch_size = batch
            count = min(len(lines), max(16, batch * 4)) if batch < 8 else len(lines)
            reset_peak(device)
            calls = engine.generate_calls
            started = time.perf_counter()
            out = engine.translate(lines[:count], pair)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            elapsed = time.perf_counter() - started
            assert len(out) == count and all(t.confidence is not None for t in out)
            row = {"batch": batch, "lines": count, "seconds": round(elapsed, 2),
                   "lines_per_s": round(count / elapsed, 1),
                   "generate_calls": engine.generate_calls - calls,
                   "peak_gpu_gb": peak_gb(device)}
            figures["rows"].append(row)
            print(f"batch {batch:3d}: {row['lines_per_s']:8.1f} lines/s ({count} lines in "
                  f"{row['seconds']} s, {row['generate_calls']} generate calls, peak GPU "
                  f"{row['peak_gpu_gb']} GB)", flush=True)
        if device.startswith("cuda"):
            figures["scores"] = compare_scoring(engine, lines[:32], pair)
            print(f"confidence scoring at batch 32 x {args.num_beams} beams: teacher-forced "
                  f"pass peak {figures['scores']['teacher_forced_peak_gb']} GB, generate's "
                  f"output_scores peak {figures['scores']['output_scores_peak_gb']} GB",
                  flush=True)
    figures["machine"] = {"torch": torch.__version__, "python": platform.python_version(),
                          "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available()
                          else None, "cpu_threads": torch.get_num_threads()}
    print(json.dumps(figures["machine"]))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def compare_scoring(engine, lines: list[str], pair) -> dict:
    """Peak GPU memory of one batch of 32 translated the engine's way (generate, then one
    bounded teacher-forced pass) and with generate keeping output_scores."""
    import torch

    engine.batch_size = 32
    reset_peak(engine.device)
    engine.translate(lines, pair)
    ours = peak_gb(engine.device)
    batch = engine.tokenizer(lines, return_tensors="pt", padding=True).to(engine.device)
    target = engine.language_id(pair.target_flores)
    reset_peak(engine.device)
    with torch.inference_mode():
        engine.net.generate(**batch, forced_bos_token_id=target, num_beams=engine.num_beams,
                            max_new_tokens=2 * int(batch["input_ids"].shape[1]) + 10,
                            do_sample=False, output_scores=True, return_dict_in_generate=True)
    return {"teacher_forced_peak_gb": ours, "output_scores_peak_gb": peak_gb(engine.device)}


if __name__ == "__main__":
    sys.exit(main())
