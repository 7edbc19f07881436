"""Inference latency of the tiny VLA on one CPU thread: ms per action step and peak RSS, per decoder.

    python -m benchmarks.vla_speed                  # all modes, 30 timed steps each
    python -m benchmarks.vla_speed --steps 50 --modes parallel autoregressive

One action step is one `VLAPolicy.predict_action_chunk(obs)`: input transforms (validate, normalize,
tokenize the prompt), collate, decode, detokenize and unnormalize, for one observation with the tiny
config's two 128 px cameras (conf/model/tiny.yaml; weights are random, which does not change the cost).
Modes, each in its own process so its peak RSS is its own:

    parallel              one forward pass for all action tokens (OpenVLA-OFT)        target <= 20 ms
    autoregressive        greedy with our KV cache, constrained head                 target <= 50 ms
    generate_nocache      HF `generate(use_cache=False)` on the same prefix (baseline)
    generate_cache        HF `generate(use_cache=True)`
    parallel_int8, autoregressive_int8   dynamic int8 Linear layers

Why the KV cache gains less than one might expect here: at batch 1 each decoding step of a 4 x 256 LM is
bound by reading its ~12 MB of fp32 weights, not by FLOPs, so re-running the ~50-token prefix without a
cache (one GEMM instead of a GEMV per weight) costs almost the same per step. Parallel decoding reads the
weights once per chunk instead of once per token; the int8 modes read a quarter of the bytes (in
`autoregressive_int8` the cached steps multiply by the int8 weights directly, `vla.model.stepper`).

Prints a table with median / p90 wall ms, the median thread CPU ms (what one step costs one core: on a
shared machine wall time also counts time spent waiting for a core, so the load average is recorded
too) and ratios, and writes benchmarks/results/vla_speed.json. Targets are checked on wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vla.io import atomic_write_json

RESULTS = Path(__file__).resolve().parent / "results"
MODES = ("parallel", "autoregressive", "generate_nocache", "generate_cache", "parallel_int8", "autoregressive_int8")
TARGETS_MS = {"parallel": 20.0, "autoregressive": 50.0}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed action steps per mode")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--model", default="tiny", help="conf/model/<name>.yaml")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--one", choices=MODES, help=argparse.SUPPRESS)  # child process mode
    return parser.parse_args(argv)


def _policy(mode: str, model_name: str, workdir: Path):
    """A VLAPolicy for `mode` loaded from a freshly saved checkpoint (random weights, real code path)."""
    import torch

    from policies.vla import VLAPolicy
    from vla.checkpoint import save_pretrained
    from vla.model import VLA, load_model_config, load_text_tokenizer_for
    from vla.model.decoding import decode_generate
    from vla.normalize import Normalizer, NormStats

    decoding = "parallel" if mode.startswith("parallel") else "autoregressive"
    cfg = load_model_config(model_name, decoding=decoding)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    norm = Normalizer({"observation.state": NormStats.from_array(rng.normal(size=(100, cfg.state_dim))),
                       "action": NormStats.from_array(rng.normal(size=(100, cfg.action_dim)))})
    save_pretrained(VLA.from_config(cfg), workdir / "ckpt", norm, load_text_tokenizer_for(cfg))
    policy = VLAPolicy.from_pretrained(workdir / "ckpt", quantize="int8" if mode.endswith("int8") else None)
    if mode.startswith("generate"):  # the baseline: same model and prefix, HF's generation loop
        model, use_cache = policy.model, mode == "generate_cache"
        model.predict_action_ids = torch.inference_mode()(lambda batch: decode_generate(model, batch, use_cache))
    return cfg, policy


def measure(mode: str, args: argparse.Namespace) -> dict:
    """Time `args.steps` action steps of `mode` in this process; returns ms stats and peak RSS."""
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        cfg, policy = _policy(mode, args.model, Path(tmp))
    rng = np.random.default_rng(1)
    obs = {"images": {cam: rng.integers(0, 256, (cfg.image_size, cfg.image_size, 3), dtype=np.uint8)
                      for cam in cfg.cameras},
           "state": rng.normal(size=cfg.state_dim).astype(np.float32), "instruction": "pick up the red block"}
    policy.reset(obs["instruction"])
    times, cpu = [], []
    for i in range(args.warmup + args.steps):
        start, start_cpu = time.perf_counter(), time.thread_time()
        chunk = policy.predict_action_chunk(obs)
        if i >= args.warmup:
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.thread_time() - start_cpu) * 1000)
    return {"mode": mode, "median_ms": float(np.median(times)), "p90_ms": float(np.percentile(times, 90)),
            "min_ms": float(np.min(times)), "cpu_median_ms": float(np.median(cpu)),
            "steps": args.steps, "chunk_shape": list(chunk.shape),
            "action_tokens": int(policy.model.num_action_tokens),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _child(mode: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.vla_speed", "--one", mode, "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--model", args.model]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def _summary(rows: dict[str, dict]) -> tuple[list[dict], dict[str, float]]:
    summary = []
    for mode, row in rows.items():
        target = TARGETS_MS.get(mode)
        summary.append({"metric": f"{mode} ms/step (median)", "value": round(row["median_ms"], 2), "unit": "ms",
                        "target": target, "ok": None if target is None else row["median_ms"] <= target})
    ratios = {}
    pairs = {"generate_nocache / autoregressive": ("generate_nocache", "autoregressive"),
             "generate_cache / autoregressive": ("generate_cache", "autoregressive"),
             "autoregressive / parallel": ("autoregressive", "parallel"),
             "parallel_int8 / parallel": ("parallel_int8", "parallel"),
             "autoregressive_int8 / autoregressive": ("autoregressive_int8", "autoregressive")}
    for name, (a, b) in pairs.items():
        if a in rows and b in rows:
            ratios[name] = round(rows[a]["median_ms"] / rows[b]["median_ms"], 2)
    return summary, ratios


def main(argv: list[str] | None = None) -> dict:
    """Run every requested mode in its own process; print the table; write and return the results."""
    args = _parse(argv)
    if args.one:
        result = measure(args.one, args)
        print(json.dumps(result))
        return result
    load_before = os.getloadavg()
    rows = {mode: _child(mode, args) for mode in args.modes}
    load_after = os.getloadavg()
    summary, ratios = _summary(rows)
    print(f"{'mode':<22}{'median ms':>10}{'p90 ms':>9}{'CPU ms':>8}{'tokens':>8}{'peak RSS MiB':>14}{'target':>8}")
    for mode, row in rows.items():
        target = TARGETS_MS.get(mode)
        print(f"{mode:<22}{row['median_ms']:>10.1f}{row['p90_ms']:>9.1f}{row['cpu_median_ms']:>8.1f}{row['action_tokens']:>8}"
              f"{row['peak_rss_mib']:>14.0f}{'' if target is None else f'<= {target:.0f}':>8}")
    for name, value in ratios.items():
        print(f"ratio {name}: {value}x")
    print(f"load average (1 min) before / after: {load_before[0]:.2f} / {load_after[0]:.2f} on {os.cpu_count()} cores")
    result = {"model": args.model, "threads": 1, "device": "cpu", "rows": rows, "ratios": ratios, "summary": summary,
              "load_average_before": load_before[0], "load_average_after": load_after[0]}
    atomic_write_json(RESULTS / "vla_speed.json", result)
    return result


if __name__ == "__main__":
    main()
