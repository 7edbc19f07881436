"""Action tokenizers: sequence length, round-trip error and encode/decode time, bins vs FAST.

    python -m benchmarks.action_tokens                  # H=10, A=7, 2000 fit chunks
    python -m benchmarks.action_tokens --horizon 50     # a longer chunk (FAST compresses more)

Two synthetic sets of normalized chunks in [-1, 1]: "smooth" (sums of low-frequency sinusoids, like
teleoperated end-effector deltas) and "noise" (uniform white noise, FAST's worst case). FAST is fitted on
separate smooth chunks. Prints a table and writes `benchmarks/results/action_tokens.json`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from vla.actions import BinActionTokenizer, FastActionTokenizer
from vla.io import atomic_write_json

RESULT = Path(__file__).resolve().parent / "results" / "action_tokens.json"


def smooth_chunks(n: int, horizon: int, dim: int, seed: int) -> np.ndarray:
    """(n, horizon, dim) sums of two random low-frequency sinusoids per dimension, scaled into [-1, 1]."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, horizon)[None, :, None, None]  # (1, H, 1, 1)
    freq = rng.uniform(0.05, 1.5, (n, 1, dim, 2))
    phase = rng.uniform(0, 2 * np.pi, (n, 1, dim, 2))
    amp = rng.uniform(0.0, 0.5, (n, 1, dim, 2))
    return (amp * np.sin(2 * np.pi * freq * t + phase)).sum(-1)  # (n, H, A)


def measure(tok, chunks: np.ndarray) -> dict:
    """Mean/max tokens per chunk, max/mean abs round-trip error and microseconds per encode / decode."""
    start = time.perf_counter()
    ids = [tok.encode(c) for c in chunks]
    enc_us = (time.perf_counter() - start) / len(chunks) * 1e6
    start = time.perf_counter()
    back = np.stack([tok.decode(i) for i in ids])
    dec_us = (time.perf_counter() - start) / len(chunks) * 1e6
    err = np.abs(back - np.clip(chunks, -1, 1))
    lengths = np.array([i.size for i in ids])
    return {"mean_tokens": float(lengths.mean()), "max_tokens": int(lengths.max()), "max_abs_err": float(err.max()),
            "mean_abs_err": float(err.mean()), "encode_us": enc_us, "decode_us": dec_us}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizon", type=int, default=10)
    parser.add_argument("--action-dim", type=int, default=7)
    parser.add_argument("--fit-chunks", type=int, default=2000)
    parser.add_argument("--eval-chunks", type=int, default=500)
    parser.add_argument("--bpe-vocab", type=int, default=256, help="FAST BPE size (the paper used 1024)")
    args = parser.parse_args(argv)
    h, a = args.horizon, args.action_dim
    start = time.perf_counter()
    fast = FastActionTokenizer(a, h, token_offset=0, bpe_vocab_size=args.bpe_vocab)
    fast = fast.fit(smooth_chunks(args.fit_chunks, h, a, 0))
    fit_s = time.perf_counter() - start
    tokenizers = {"bins": BinActionTokenizer(a, h, token_offset=0), "fast": fast}
    sets = {"smooth": smooth_chunks(args.eval_chunks, h, a, 1),
            "noise": np.random.default_rng(2).uniform(-1, 1, (args.eval_chunks, h, a))}
    rows = [{"tokenizer": name, "data": data, **measure(tok, chunks)}
            for name, tok in tokenizers.items() for data, chunks in sets.items()]
    print(f"H={h} A={a}: FAST fit on {args.fit_chunks} chunks in {fit_s:.2f} s, BPE size {fast.valid_ids().size}")
    print("| tokenizer | data | mean tokens | max tokens | max abs err | mean abs err | encode us | decode us |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['tokenizer']} | {r['data']} | {r['mean_tokens']:.1f} | {r['max_tokens']} | "
              f"{r['max_abs_err']:.4f} | "
              f"{r['mean_abs_err']:.4f} | {r['encode_us']:.0f} | {r['decode_us']:.0f} |")
    smooth = {r["tokenizer"]: r for r in rows if r["data"] == "smooth"}
    summary = [
        {"metric": "FAST tokens per smooth chunk / bins",
         "value": smooth["fast"]["mean_tokens"] / smooth["bins"]["mean_tokens"],
         "unit": "ratio", "target": "< 1", "ok": smooth["fast"]["mean_tokens"] < smooth["bins"]["mean_tokens"]},
        {"metric": "bins max abs error (normalized)", "value": smooth["bins"]["max_abs_err"], "unit": "",
         "target": f"<= {1 / 256:.5f}", "ok": smooth["bins"]["max_abs_err"] <= 1 / 256 + 1e-6},
        {"metric": "FAST decode time", "value": smooth["fast"]["decode_us"], "unit": "us/chunk",
         "target": "", "ok": ""},
    ]
    result = {"horizon": h, "action_dim": a, "fit_chunks": args.fit_chunks, "bpe_vocab": args.bpe_vocab,
              "fast_fit_s": fit_s,
              "fast_bpe_size": int(fast.valid_ids().size), "rows": rows, "summary": summary}
    atomic_write_json(RESULT, result)
    return result


if __name__ == "__main__":
    main()
