"""Training throughput of the tiny VLA on one CPU thread: samples/s with bf16 autocast and in fp32, peak RSS.

    python -m benchmarks.train_speed                 # both precisions, batch 8, 20 timed steps each
    python -m benchmarks.train_speed --steps 40 --batch-size 16

Each precision runs in its own process (so peak RSS is that precision's alone) through the real loop
(`vla.train.loop.Trainer.train_step`: Accelerate, AdamW, clipping, warmup/cosine) on samples with the
tiny config's shapes (conf/model/tiny.yaml, `vla.model.fake.fake_samples`: random images and actions) whose
prompts are real ones: the tabletop tasks' instructions through `vla.prompt.build_prompt` and the model's
text tokenizer, so each row has the prompt length training on recorded data has (19-25 tokens here); the
first `--warmup` steps are not timed. Besides wall-clock samples/s it reports samples per second of the main thread's CPU time (with
one torch thread the work runs on that thread), which is what the wall rate would be on an idle core, and
the 1-minute load average, since a shared machine slows the wall rate. Prints a table and writes
benchmarks/results/train_speed.json.
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

from vla.io import atomic_write_json

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_BF16 = 40.0  # samples/s, tiny config, 1 thread


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps per precision")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--model", default="tiny", help="conf/model/<name>.yaml")
    parser.add_argument("--one", choices=("bf16", "fp32"), help=argparse.SUPPRESS)  # child process mode
    return parser.parse_args(argv)


def _instructions() -> list[str]:
    """Every phrasing of the tabletop tasks, with colors filled in (what recorded datasets hold)."""
    from sim.tabletop.tasks import long, single

    fill = {"obj": "red block", "block": "green block", "bowl": "blue bowl", "direction": "to the left",
            "top": "yellow block", "bottom": "purple block"}
    tasks = (single.TouchTask, single.PickTask, single.PlaceTask, single.PushTask, single.StackTask,
             long.PutAllInBowlTask, long.StackAllTask, long.SortByColorTask)
    return [template.format(**fill) for task in tasks for template in task.templates]


def _with_real_prompts(samples: list[dict], model_cfg) -> list[dict]:
    """`samples` with their random prompt ids replaced by tokenized tabletop prompts, cycling through them."""
    import numpy as np

    from vla.model import load_text_tokenizer_for
    from vla.prompt import build_prompt

    tokenizer = load_text_tokenizer_for(model_cfg)
    prompts = [np.asarray(tokenizer(build_prompt(text))["input_ids"], dtype=np.int64) for text in _instructions()]
    return [{**sample, "prompt_ids": prompts[i % len(prompts)]} for i, sample in enumerate(samples)]


def measure(precision: str, args: argparse.Namespace) -> dict:
    """Train `args.steps` timed steps in this process; returns samples/s, step time and peak RSS."""
    import torch
    from omegaconf import OmegaConf

    from vla.config import to_dataclass
    from vla.model import VLA, VLAConfig
    from vla.model.fake import fake_samples
    from vla.train.config import TrainConfig
    from vla.train.loop import Components, Trainer, make_accelerator

    torch.set_num_threads(1)
    conf = Path(__file__).resolve().parents[1] / "conf" / "model" / f"{args.model}.yaml"
    model_cfg = to_dataclass(OmegaConf.load(conf), VLAConfig)
    torch.manual_seed(0)
    model = VLA.from_config(model_cfg)
    samples = _with_real_prompts(fake_samples(model_cfg, 4 * args.batch_size, 0, model.action_tokenizer), model_cfg)
    with tempfile.TemporaryDirectory() as out:
        cfg = to_dataclass({"output_dir": out, "batch_size": args.batch_size, "bf16": precision == "bf16",
                            "steps": args.warmup + args.steps, "progress": False, "cpu": True}, TrainConfig)
        parts = Components(model=model, collate=model.collator(), train_set=samples, eval_set=None,
                           save_model=lambda m, d: None)
        trainer = Trainer(cfg, parts, make_accelerator(cfg))
        batches = trainer.batches()
        for _ in range(args.warmup):
            trainer.train_step(batches)
        start, cpu_start = time.perf_counter(), time.thread_time()
        losses = [trainer.train_step(batches)[0] for _ in range(args.steps)]
        seconds, cpu_seconds = time.perf_counter() - start, time.thread_time() - cpu_start
    return {
        "precision": precision,
        "samples_per_s": args.steps * args.batch_size / seconds,
        "samples_per_cpu_s": args.steps * args.batch_size / cpu_seconds,
        "step_ms": 1000 * seconds / args.steps,
        "load_avg_1min": os.getloadavg()[0],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "final_loss": losses[-1],
        "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
    }


def _child(precision: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.train_speed", "--one", precision, "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--batch-size", str(args.batch_size), "--model", args.model]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{precision} run failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    """Measure both precisions (each in a child process), print a table, write the JSON; returns it."""
    args = _parse(argv)
    if args.one:
        row = measure(args.one, args)
        print(json.dumps(row))
        return row
    rows = [_child(p, args) for p in ("bf16", "fp32")]
    print(f"{'precision':<10}{'samples/s':>11}{'per CPU-s':>11}{'step ms':>10}{'peak RSS MiB':>14}{'loss':>9}"
          f"{'load':>7}")
    for r in rows:
        print(f"{r['precision']:<10}{r['samples_per_s']:>11.1f}{r['samples_per_cpu_s']:>11.1f}{r['step_ms']:>10.1f}"
              f"{r['peak_rss_mib']:>14.0f}{r['final_loss']:>9.3f}{r['load_avg_1min']:>7.1f}")
    bf16 = rows[0]["samples_per_s"]
    result = {
        "model": args.model, "batch_size": args.batch_size, "timed_steps": args.steps, "threads": 1,
        "runs": rows,
        "summary": [
            {"metric": "train samples/s (bf16 autocast)", "value": round(bf16, 1), "unit": "samples/s",
             "target": f">= {TARGET_BF16:g}", "ok": bf16 >= TARGET_BF16},
            {"metric": "train samples/s (fp32)", "value": round(rows[1]["samples_per_s"], 1), "unit": "samples/s",
             "target": "", "ok": ""},
            {"metric": "train samples per thread-CPU-s (bf16; wall rate without other load)",
             "value": round(rows[0]["samples_per_cpu_s"], 1), "unit": "samples/s", "target": "", "ok": ""},
            *({"metric": f"peak RSS ({r['precision']})", "value": round(r["peak_rss_mib"]), "unit": "MiB",
               "target": "", "ok": ""} for r in rows),
        ],
    }
    atomic_write_json(RESULTS / "train_speed.json", result)
    return result


if __name__ == "__main__":
    main()
