"""Data loading speed: FrameDataset samples/s per worker at 128x128 (target >= 500/s; LeRobot ~330/s at 256^2).

    python -m benchmarks.data_loader                 # default: 20 episodes x 100 frames, 1 and 2 cameras
    python -m benchmarks.data_loader --episodes 5 --samples 500

Builds synthetic datasets (moving-pattern frames, H.264 g=2 as the writer stores them) in a temp dir, then
measures (a) `__getitem__` in shuffled order in this process (= one worker's throughput), with a 10-step
action chunk and the current frame of every camera decoded, and (b) a DataLoader with 2 workers, batch 32.
Prints a table and writes benchmarks/results/data_loader.json.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from vla.io import atomic_write_json

RESULTS = Path(__file__).resolve().parent / "results" / "data_loader.json"
TARGET = 500.0


def build(root: Path, cameras: int, episodes: int, length: int, size: int) -> float:
    """Write a synthetic dataset; returns the write speed in frames/s."""
    from vla.data import DatasetWriter

    feats = {f"observation.images.cam{c}": {"dtype": "video", "shape": [size, size, 3]} for c in range(cameras)}
    feats |= {"observation.state": {"dtype": "float32", "shape": [8]}, "action": {"dtype": "float32", "shape": [7]}}
    ys, xs = np.mgrid[0:size, 0:size]
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    with DatasetWriter.create(root, 10, feats) as w:
        for ep in range(episodes):
            for t in range(length):
                img = np.stack([(xs + 3 * t + ep) % 256, (ys + 2 * t) % 256, (xs + ys + t) % 256], -1).astype(np.uint8)
                frame = {k: img for k in feats if k.startswith("observation.images")}
                frame["observation.state"] = rng.normal(size=8).astype(np.float32)
                frame["action"] = rng.normal(size=7).astype(np.float32)
                w.add_frame(frame)
            w.save_episode("benchmark task")
    return episodes * length / (time.perf_counter() - t0)


def per_worker(root: Path, samples: int) -> float:
    from vla.data.torch_dataset import FrameDataset

    ds = FrameDataset(root, delta_timestamps={"action": [i / 10 for i in range(10)]})
    order = np.random.default_rng(0).permutation(len(ds))[:samples]
    ds[int(order[0])]  # open the decoders
    t0 = time.perf_counter()
    for i in order:
        ds[int(i)]
    return len(order) / (time.perf_counter() - t0)


def loader(root: Path, samples: int, workers: int) -> float:
    import torch

    from vla.data.torch_dataset import FrameDataset

    ds = FrameDataset(root, delta_timestamps={"action": [i / 10 for i in range(10)]})
    dl = torch.utils.data.DataLoader(ds, batch_size=32, shuffle=True, num_workers=workers,
                                     generator=torch.Generator().manual_seed(0))
    it = iter(dl)
    next(it)  # worker start-up is not throughput
    n, t0 = 0, time.perf_counter()
    for batch in it:
        n += len(batch["index"])
        if n >= samples:
            break
    return n / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--length", type=int, default=100)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--samples", type=int, default=1500)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for cams in (1, 2):
            root = Path(tmp) / f"ds{cams}"
            write_fps = build(root, cams, args.episodes, args.length, args.size)
            one = per_worker(root, args.samples)
            many = loader(root, args.samples, args.workers)
            rows.append({"cameras": cams, "size": args.size, "write_frames_per_s": round(write_fps, 1),
                         "samples_per_s_one_worker": round(one, 1),
                         f"samples_per_s_dataloader_{args.workers}_workers": round(many, 1)})
    print(f"{'cams':>4} {'size':>5} {'write f/s':>10} {'1 worker s/s':>13} {f'DL {args.workers}w s/s':>11}")
    for r in rows:
        print(f"{r['cameras']:>4} {r['size']:>5} {r['write_frames_per_s']:>10} {r['samples_per_s_one_worker']:>13} "
              f"{r[f'samples_per_s_dataloader_{args.workers}_workers']:>11}")
    result = {"rows": rows, "config": vars(args), "summary": [
        {"metric": f"samples/s per worker, {r['cameras']} camera(s) {args.size}x{args.size}, 10-step action chunk",
         "value": r["samples_per_s_one_worker"], "unit": "samples/s", "target": TARGET,
         "ok": r["samples_per_s_one_worker"] >= TARGET} for r in rows]}
    atomic_write_json(RESULTS, result)
    return result


if __name__ == "__main__":
    main()
