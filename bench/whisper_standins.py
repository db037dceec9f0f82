"""Benchmark: what the Whisper models the profiles name cost on this CPU, measured with
full-size random-weight stand-ins (the real weights cannot be downloaded here).

For each model a child process in the whisperx venv builds a randomly initialised
transformers WhisperForConditionalGeneration with the model's published dimensions, saves
it and converts it with CTranslate2's own converter (small and large-v3-turbo straight to
int8; large-v3 built last, in float16 on disk, and skipped with a message when less than
10 GB of memory is free). A second child loads the converted model with faster-whisper, int8
on the CPU, and decodes real speech (the shared recordings, concatenated) in 30 s windows
with the asr stage's default settings, except:

  - every window decodes exactly the tokens the real embedded base model decodes per window
    on the same speech (--tokens overrides): end-of-text and timestamp tokens are suppressed,
    so random weights neither stop at once nor run to the 448-token limit;
  - no temperature fallback, no window skipped as silence or hallucination: a random model
    would trip every such rule; a real one decodes each window once.

The real model decodes more windows than there are 30 s of audio (it seeks to its last
timestamp or word), and where a random model's words end is chance, so a stand-in's RTF is
its decode time per window times the real model's windows per second of audio (model load
apart). Each model's peak RSS is that of its decode child (wait4). The embedded base model
is also decoded as a stand-in beside its real weights: how close a stand-in's RTF is to the
real model's.

From the RTFs: what the asr stage of a 2-hour film costs per profile (config/models.toml:
the profile's preferred asr model). A film's asr decodes only its speech: the figure for
2 hours of speech is the upper bound.

GPU part (large-v3 float16 on the batched backend, htdemucs): skipped cleanly when
CTranslate2 sees no CUDA device.

Run:  .venvs/common/bin/python bench/whisper_standins.py [--models small,large-v3-turbo,large-v3]
      [--chunks 2] [--tokens N] [--json FILE] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    WHISPERX_PYTHON,
    build_speech,
    busy_note,
    check,
    direct_settings,
    last_json_line,
    log,
    machine_info,
    media_duration,
    print_machine,
    print_table,
    run_measured,
    setup_cache,
    work_folder,
    write_figures,
)

# Published dimensions (openai/whisper model cards and config.json of the HF releases).
DIMENSIONS = {
    "base": {"d_model": 512, "encoder_layers": 6, "decoder_layers": 6, "heads": 8,
             "ffn": 2048, "vocab_size": 51865, "num_mel_bins": 80},
    "small": {"d_model": 768, "encoder_layers": 12, "decoder_layers": 12, "heads": 12,
              "ffn": 3072, "vocab_size": 51865, "num_mel_bins": 80},
    "large-v3-turbo": {"d_model": 1280, "encoder_layers": 32, "decoder_layers": 4, "heads": 20,
                       "ffn": 5120, "vocab_size": 51866, "num_mel_bins": 128},
    "large-v3": {"d_model": 1280, "encoder_layers": 32, "decoder_layers": 32, "heads": 20,
                 "ffn": 5120, "vocab_size": 51866, "num_mel_bins": 128},
}
# registry model -> stand-in (config/models.toml names)
REGISTRY_STANDIN = {"faster-whisper-base": "base", "faster-whisper-small": "small",
                    "faster-whisper-large-v3": "large-v3"}
LARGE_MIN_FREE_GB = 10.0
EOT = 50257  # <|endoftext|> in every multilingual Whisper vocabulary
TIMESTAMP_BEGIN = 50364  # <|0.00|> with the base tokenizer every stand-in uses
FILM_S = 2 * 3600.0

# Runs in the whisperx venv: random weights -> save -> CTranslate2 conversion.
BUILD_CHILD = r"""
import json, shutil, sys, time
from pathlib import Path
import torch
from ctranslate2.converters import TransformersConverter
from ctranslate2.converters.transformers import _WHISPER_ALIGNMENT_HEADS
from transformers import WhisperConfig, WhisperForConditionalGeneration, WhisperTokenizerFast

cfg = json.loads(sys.argv[1])
d, out, hf = cfg["dims"], Path(cfg["out"]), Path(cfg["out"] + "-hf")
hf.mkdir(parents=True, exist_ok=True)
shutil.copy(cfg["tokenizer"], hf / "tokenizer.json")
(hf / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "WhisperTokenizer"}))
tokenizer = WhisperTokenizerFast.from_pretrained(hf)
t0 = time.perf_counter()
torch.manual_seed(0)
config = WhisperConfig(
    vocab_size=d["vocab_size"], num_mel_bins=d["num_mel_bins"], d_model=d["d_model"],
    encoder_layers=d["encoder_layers"], decoder_layers=d["decoder_layers"],
    encoder_attention_heads=d["heads"], decoder_attention_heads=d["heads"],
    encoder_ffn_dim=d["ffn"], decoder_ffn_dim=d["ffn"], max_source_positions=1500,
    max_target_positions=448)
dtype = torch.float16 if cfg["float16"] else torch.float32
torch.set_default_dtype(dtype)
model = WhisperForConditionalGeneration(config)
torch.set_default_dtype(torch.float32)
params = sum(p.numel() for p in model.parameters())
gen = model.generation_config
# the real model's alignment heads (word timestamps use them); language tokens by name
gen.alignment_heads = _WHISPER_ALIGNMENT_HEADS.get(cfg["heads_of"]) or [
    [d["decoder_layers"] - 1, h] for h in range(min(8, d["heads"]))]
gen.lang_to_id = {t: i for t, i in tokenizer.get_vocab().items()
                  if t.startswith("<|") and t.endswith("|>") and 2 <= len(t) - 4 <= 3
                  and t[2:-2].isalpha() and t[2:-2].islower()}
gen.suppress_tokens, gen.begin_suppress_tokens = [], [220, 50257]
model.save_pretrained(hf, safe_serialization=True)
del model
t1 = time.perf_counter()
TransformersConverter(str(hf), load_as_float16=cfg["float16"], low_cpu_mem_usage=True).convert(
    str(out), quantization=cfg["quantization"], force=True)
shutil.rmtree(hf)
shutil.copy(cfg["tokenizer"], out / "tokenizer.json")
(out / "preprocessor_config.json").write_text(json.dumps(
    {"feature_size": d["num_mel_bins"], "sampling_rate": 16000, "hop_length": 160,
     "chunk_length": 30, "n_fft": 400}))
size = sum(p.stat().st_size for p in out.iterdir())
print(json.dumps({"params": params, "init_save_s": t1 - t0, "convert_s": time.perf_counter() - t1,
                  "disk_bytes": size}))
"""

# Runs in the whisperx venv: faster-whisper decodes the audio; tokens and windows counted.
DECODE_CHILD = r"""
import json, sys, time
from faster_whisper import WhisperModel
import ctranslate2
cfg = json.loads(sys.argv[1])
t0 = time.perf_counter()
model = WhisperModel(cfg["model"], **cfg["model_kwargs"])
t1 = time.perf_counter()
ctranslate2.set_random_seed(cfg["seed"])
segments, info = model.transcribe(cfg["audio"], **cfg["transcribe_kwargs"])
windows, tokens, words, fallbacks = set(), [], 0, 0
for s in segments:
    windows.add(s.seek)
    tokens.append(len(s.tokens))  # every generated token, timestamps included
    words += len(s.words or [])
    fallbacks += s.temperature > 0
t2 = time.perf_counter()
print(json.dumps({"load_s": t1 - t0, "decode_s": t2 - t1, "windows": len(windows),
                  "segments": len(tokens), "tokens": sum(tokens), "words": words,
                  "fallbacks": fallbacks, "cuda_devices": ctranslate2.get_cuda_device_count()}))
"""


def free_gb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 2**20
    return 0.0


def child_env(cache) -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache.cache.hf_hub_cache),
            "PYTHONNOUSERSITE": "1", "TOKENIZERS_PARALLELISM": "false"}


def decode(settings: dict, model: str, folder: Path, name: str, env: dict, *,
           cap: int | None, vocab_size: int = 0) -> dict:
    """Decode with the asr defaults; with ``cap``: no fallback, no timestamps, capped."""
    cfg = json.loads(json.dumps(settings))
    cfg["model"] = model
    kwargs = cfg["transcribe_kwargs"]
    kwargs["vad_filter"] = False  # the speech is continuous: 30 s windows, as asr's chunks
    if cap is not None:
        # end-of-text and the timestamp tokens suppressed: every window decodes exactly
        # ``cap`` tokens and is decoded once (a random timestamp would make it seek)
        # ``cap`` tokens and is decoded once (a random timestamp would make it seek); no
        # window is skipped as silence or hallucination (their cost would go uncounted)
        # CTranslate2 decodes at most half of the length faster-whisper passes (prompt + max
        # new tokens; OpenNMT/CTranslate2#1856): ask for twice the cap, less the 4-token prompt
        kwargs.update(temperature=0.0, without_timestamps=True, max_new_tokens=2 * cap - 4,
                      condition_on_previous_text=False, language="hi",
                      suppress_tokens=[EOT, *range(TIMESTAMP_BEGIN, vocab_size)],
                      no_speech_threshold=None, log_prob_threshold=None,
                      compression_ratio_threshold=None, hallucination_silence_threshold=None)
    log_file = folder / f"{name}.decode.log"
    measured = run_measured([str(WHISPERX_PYTHON), "-c", DECODE_CHILD, json.dumps(cfg)],
                            log_file, env)
    check(measured, f"decoding with {name}", log_file)
    return {**last_json_line(log_file), "peak_rss_mb": measured.maxrss_mb,
            "wall_s": measured.wall_s}


def build(name: str, folder: Path, tokenizer: Path, env: dict) -> dict:
    large = name == "large-v3"
    cfg = {"dims": DIMENSIONS[name], "out": str(folder / name), "tokenizer": str(tokenizer),
           "float16": name != "base" and name != "small",
           "quantization": "float16" if large else "int8",
           "heads_of": f"openai/whisper-{name}"}
    log_file = folder / f"{name}.build.log"
    measured = run_measured([str(WHISPERX_PYTHON), "-c", BUILD_CHILD, json.dumps(cfg)],
                            log_file, env)
    check(measured, f"building the {name} stand-in", log_file)
    return {**last_json_line(log_file), "build_peak_rss_mb": measured.maxrss_mb}


def film_lines(rtf: dict[str, float]) -> list[str]:
    """'a 2-hour film costs ...' per profile, from its preferred asr model's RTF here."""
    from shared.model_registry import load_models

    lines = []
    for profile in load_models().profiles.values():
        preferred = profile.models.get("asr", [None])[0]
        standin = REGISTRY_STANDIN.get(preferred or "")
        if standin is None or standin not in rtf:
            lines.append(f"profile {profile.name}: {preferred} not measured here")
            continue
        minutes = rtf[standin] * FILM_S / 60
        where = "" if profile.device == "cpu" else f" (on this CPU; the profile runs on " \
                                                     f"{profile.device})"
        ratio = rtf[standin] / rtf["base"] if rtf.get("base") else None
        lines.append(f"profile {profile.name}: {preferred} int8, RTF {rtf[standin]:.2f}"
                     + (f" (x{ratio:.1f} the base stand-in)" if ratio else "")
                     + f": asr of a 2-hour film costs <= {minutes:.0f} min{where}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="small,large-v3-turbo,large-v3",
                        help="comma-separated, from: " + ", ".join(DIMENSIONS))
    parser.add_argument("--chunks", type=int, default=2, help="30 s windows of speech")
    parser.add_argument("--tokens", type=int, help="decode cap per window (default: measured)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args()
    names = [n for n in DIMENSIONS if n in args.models.split(",") or n == "base"]
    machine = {**machine_info(), "loadavg_before": os.getloadavg()}
    rows, fig = [], {"models": {}}
    with work_folder("whisper-standins-", args.keep) as folder:
        cache = setup_cache(folder / "cache")
        env = child_env(cache)
        audio = build_speech(folder, args.chunks * 0.5)
        duration = media_duration(audio)
        settings = direct_settings(cache, audio, "en")
        log(f"{duration:.1f} s of speech; real base model first (the token cap)")
        real = decode(settings, settings["model"], folder, "base-real", env, cap=None)
        # the real model's tokens per decoded window; it decodes more windows than there are
        # 30 s of audio (it seeks to its last timestamp / word), and where a random model's
        # words end is chance: each stand-in's RTF is its cost per window times the real
        # model's windows per second of audio
        cap = min(222, args.tokens or max(3, round(real["tokens"] / real["windows"])))
        windows_per_s = real["windows"] / duration
        fig.update(audio_s=duration, token_cap=cap, base_real=real, settings=settings)
        rows.append(["base (real weights)", f"{real['decode_s'] / duration:.3f}",
                     f"{real['decode_s']:.1f}", str(real["windows"]), f"{real['load_s']:.1f}",
                     f"{real['peak_rss_mb']:.0f}", str(real["tokens"]), "-"])
        tokenizer = next((cache.cache.hf_hub_cache).glob(
            "models--Systran--faster-whisper-base/snapshots/*/tokenizer.json"))
        rtf = {}
        for name in names:
            if name == "large-v3" and free_gb() < LARGE_MIN_FREE_GB:
                msg = (f"large-v3 skipped: {free_gb():.1f} GB of memory free, it needs "
                       f"{LARGE_MIN_FREE_GB:.0f} GB to build")
                log(msg)
                fig["models"][name] = {"skipped": msg}
                continue
            log(f"building the {name} stand-in")
            built = build(name, folder, tokenizer, env)
            log(f"decoding with the {name} stand-in (cap {cap} tokens per window)")
            result = decode(settings, str(folder / name), folder, name, env, cap=cap,
                            vocab_size=DIMENSIONS[name]["vocab_size"])
            shutil.rmtree(folder / name, ignore_errors=True)  # disk, before the next one
            rtf[name] = result["decode_s"] / result["windows"] * windows_per_s
            log(f"{name}: {result['tokens']} tokens in {result['windows']} window(s), decode "
                f"{result['decode_s']:.1f} s (RTF per real window rate {rtf[name]:.3f}), peak RSS "
                f"{result['peak_rss_mb']:.0f} MB")
            fig["models"][name] = {**built, **result, "rtf": rtf[name]}
            rows.append([f"{name} (random, {built['params'] / 1e6:.0f}M)", f"{rtf[name]:.3f}",
                         f"{result['decode_s']:.1f}", str(result["windows"]),
                         f"{result['load_s']:.1f}",
                         f"{result['peak_rss_mb']:.0f}", str(result["tokens"]),
                         f"{built['disk_bytes'] / 2**20:.0f} MB"])
        gpu = fig["models"].get("base", {}).get("cuda_devices", 0)
    machine["loadavg_after"] = os.getloadavg()
    fig["machine"] = machine
    print_machine(machine)
    print(f"audio    {duration:.1f} s of real speech in {args.chunks} window(s) of 30 s; "
          f"cap {cap} tokens per window = real base's {real['tokens']} tokens in "
          f"{real['windows']} windows (it seeks on its timestamps); stand-in RTF = decode s / "
          "windows x the real model's windows per second; int8, "
          f"{settings['model_kwargs']['cpu_threads']} threads, beam "
          f"{settings['transcribe_kwargs']['beam_size']}, word timestamps")
    print()
    print_table(["model", "RTF", "decode s", "windows", "load s", "peak RSS MB", "tokens",
                 "on disk"], rows)
    print()
    fig["film"] = film_lines(rtf)
    for line in fig["film"]:
        print(line)
    print("GPU part: " + ("not written yet for this machine's GPU" if gpu else
                          "skipped: CTranslate2 sees no CUDA device on this machine"))
    note = busy_note(machine)
    if note:
        print(f"caution: {note}; figures measured on a loaded machine")
    write_figures(fig, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
