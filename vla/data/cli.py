"""vla-dataset: inspect, validate, visualize, merge, split and import LeRobot v3.0 datasets.

    vla-dataset info outputs/data/pick                       # features, fps, episodes, tasks, stats
    vla-dataset info outputs/data/pick --json
    vla-dataset validate outputs/data/pick                   # exit 1 when invalid, one line per issue
    vla-dataset validate outputs/data/pick --fix             # finish/drop interrupted commits, cut partial tails
    vla-dataset visualize outputs/data/pick --out outputs/viz --episodes 0 3 --frames 8
    vla-dataset merge outputs/data/pick outputs/data/place --out outputs/data/both
    vla-dataset split outputs/data/pick --fraction 0.9 --seed 0 --out outputs/data/pick_split   # -> train/, val/
    vla-dataset split outputs/data/pick --episodes 0 1 2 --out outputs/data/pick_first3
    vla-dataset import-bag rec1 rec2 --mapping conf/dataset/import_bag.yaml --out outputs/data/robot

The mapping for import-bag (topics -> features, fps, task, staleness tolerance) and the synchronization
rules are documented in vla/data/rosbag_import.py; conf/dataset/import_bag.yaml is a starting point.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np


def _info(args: argparse.Namespace) -> int:
    from vla.data.meta import DatasetMeta

    meta = DatasetMeta.load(args.root)
    summary: dict[str, Any] = {
        "root": str(meta.root), "codebase_version": meta.info["codebase_version"], "fps": meta.fps,
        "robot_type": meta.info.get("robot_type"), "episodes": len(meta.episodes), "frames": meta.num_frames,
        "tasks": meta.tasks, "features": {k: {"dtype": ft["dtype"], "shape": ft["shape"]} for k, ft in meta.features.items()},
        "episode_lengths": [int(e["length"]) for e in meta.episodes],
    }
    for key, ft in meta.features.items():
        if "info" in ft:
            summary["features"][key]["codec"] = ft["info"].get("video.codec")
    summary["stats"] = {k: {n: np.round(np.asarray(v).ravel(), 4).tolist() for n, v in s.items()
                            if n in ("min", "max", "mean", "std")} for k, s in meta.stats.items()
                        if k in ("observation.state", "action")}
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    lengths = summary["episode_lengths"]
    print(f"{meta.root}  (LeRobot {summary['codebase_version']}, {meta.fps} fps, robot {summary['robot_type']})")
    print(f"episodes {len(lengths)}, frames {meta.num_frames}"
          + (f", length min/mean/max {min(lengths)}/{np.mean(lengths):.1f}/{max(lengths)}" if lengths else ""))
    print("features:")
    for key, ft in summary["features"].items():
        print(f"  {key:32s} {ft['dtype']:8s} {ft['shape']}" + (f" ({ft['codec']})" if "codec" in ft else ""))
    print(f"tasks ({len(meta.tasks)}):")
    for i, t in enumerate(meta.tasks[:20]):
        print(f"  {i}: {t}")
    for key, s in summary["stats"].items():
        print(f"{key}: " + ", ".join(f"{n} {v}" for n, v in s.items()))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from vla.data.validate import format_report, validate

    report = validate(args.root, fix=args.fix)
    print(format_report(report))
    return 0 if report.ok else 1


def _visualize(args: argparse.Namespace) -> int:
    from vla.data.visualize import visualize

    for path in visualize(args.root, args.out, args.episodes, args.frames):
        print(path)
    return 0


def _merge(args: argparse.Namespace) -> int:
    from vla.data.tools import merge

    print(json.dumps(merge(args.sources, args.out)))
    return 0


def _split(args: argparse.Namespace) -> int:
    from vla.data.meta import DatasetMeta
    from vla.data.tools import split, split_by_fraction

    if (args.fraction is None) == (args.episodes is None):
        raise SystemExit("split: give exactly one of --fraction or --episodes")
    if args.episodes is not None:
        parts = {Path(args.out): args.episodes}
    else:
        first, second = split_by_fraction(len(DatasetMeta.load(args.root).episodes), args.fraction, args.seed)
        parts = {Path(args.out) / "train": first, Path(args.out) / "val": second}
    print(json.dumps(split(args.root, parts)))
    return 0


def _import_bag(args: argparse.Namespace) -> int:
    from vla.data.rosbag_import import import_bags, load_mapping

    mapping = load_mapping(args.mapping)
    if args.task:
        mapping.task = args.task
    print(json.dumps(import_bags(args.bags, mapping, args.out)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vla-dataset", description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("info", help="summary of a dataset")
    s.add_argument("root")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=_info)
    s = sub.add_parser("validate", help="check files against the metadata; exit 1 when invalid")
    s.add_argument("root")
    s.add_argument("--fix", action="store_true", help="repair interrupted commits and partial tails")
    s.set_defaults(func=_validate)
    s = sub.add_parser("visualize", help="contact sheets and state/action plots as PNG")
    s.add_argument("root")
    s.add_argument("--out", required=True)
    s.add_argument("--episodes", type=int, nargs="+")
    s.add_argument("--frames", type=int, default=8, help="frames per camera row")
    s.set_defaults(func=_visualize)
    s = sub.add_parser("merge", help="concatenate datasets with the same features")
    s.add_argument("sources", nargs="+")
    s.add_argument("--out", required=True)
    s.set_defaults(func=_merge)
    s = sub.add_parser("split", help="split by episode")
    s.add_argument("root")
    s.add_argument("--out", required=True)
    s.add_argument("--fraction", type=float, help="share of episodes in <out>/train, the rest in <out>/val")
    s.add_argument("--seed", type=int, help="shuffle episodes with this seed before a fraction split")
    s.add_argument("--episodes", type=int, nargs="+", help="copy these episodes to <out>")
    s.set_defaults(func=_split)
    s = sub.add_parser("import-bag", help="rosbag2 recordings -> episodes")
    s.add_argument("bags", nargs="+")
    s.add_argument("--mapping", required=True, help="YAML topic -> feature mapping")
    s.add_argument("--out", required=True)
    s.add_argument("--task", help="override the mapping's task text")
    s.set_defaults(func=_import_bag)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; bad input (a missing dataset, a wrong feature or topic) prints one error line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, FileExistsError, KeyError, ValueError, IndexError) as err:
        parser.exit(2, f"vla-dataset {args.command}: error: {err}\n")


if __name__ == "__main__":
    sys.exit(main())
