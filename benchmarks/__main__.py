"""Run every performance script of the project and write one summary table (Markdown + JSON).

    python -m benchmarks                 # all scripts, each in its own process, one thread
    python -m benchmarks sim_speed vla_speed   # a subset
    python -m benchmarks --summarize           # no runs: the summary of the results already on disk
    make bench

Each script `benchmarks/<name>.py` measures, prints its own table and writes `benchmarks/results/<name>.json`.
A script's JSON may carry a `summary` list of rows {"metric", "value", "unit", "target", "ok"}; otherwise the
top-level numbers are listed. The summary adds machine facts (CPU, cores, memory, package versions) and goes
to `benchmarks/results/SUMMARY.md` and `SUMMARY.json`.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from vla.io import atomic_write_json, atomic_write_text

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
# The scripts, in the order they run (fast first). Each is `python -m benchmarks.<name>`.
ALL_BENCHMARKS = ("sim_speed", "bench_speed", "action_tokens", "data_loader", "vla_speed", "train_speed", "planner_speed", "ros_latency")
PACKAGES = ("numpy", "torch", "transformers", "mujoco", "metaworld", "gymnasium", "pyarrow", "av")


def machine_facts() -> dict:
    """CPU model, cores, memory and package versions: the context every number needs."""
    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_gib, 1), "python": platform.python_version(),
            "platform": platform.platform(), "packages": versions, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def summary_rows(name: str, result: dict) -> list[dict]:
    """The headline rows of one script's result JSON."""
    if isinstance(result.get("summary"), list):
        return [{"benchmark": name, **row} for row in result["summary"]]
    return [{"benchmark": name, "metric": key, "value": value, "unit": "", "target": "", "ok": ""}
            for key, value in result.items() if isinstance(value, (int, float)) and not isinstance(value, bool)]


def run_one(name: str, extra_args: list[str]) -> tuple[int, float]:
    """Run one script in its own process (so one script's threads or memory don't skew the next)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", *extra_args], env=env, cwd=HERE.parent)
    return proc.returncode, time.perf_counter() - start


def to_markdown(rows: list[dict], facts: dict, status: dict) -> str:
    lines = ["# Benchmark summary", "",
             f"Machine: {facts['cpu']}, {facts['cores']} cores, {facts['memory_gib']} GiB; Python {facts['python']}; "
             f"{facts['date']}.", "",
             "| benchmark | metric | value | unit | target | ok |", "|---|---|---|---|---|---|"]
    for r in rows:
        value = f"{r['value']:.4g}" if isinstance(r["value"], float) else r["value"]
        lines.append(f"| {r['benchmark']} | {r['metric']} | {value} | {r.get('unit', '')} | "
                     f"{r.get('target', '')} | {r.get('ok', '')} |")
    lines += ["", "| script | exit | seconds |", "|---|---|---|"]
    lines += [f"| {name} | {s['exit_code']} | {s['seconds']:.0f} |" for name, s in status.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    args = list(argv if argv is not None else sys.argv[1:])
    summarize_only = "--summarize" in args
    names = [a for a in args if a != "--summarize"] or list(ALL_BENCHMARKS)
    unknown = [n for n in names if n not in ALL_BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; valid: {list(ALL_BENCHMARKS)}")
    facts = machine_facts()
    rows: list[dict] = []
    status: dict[str, dict] = {}
    for name in names:
        path = RESULTS / f"{name}.json"
        if summarize_only:
            status[name] = {"exit_code": 0 if path.exists() else 1, "seconds": 0.0}
        else:
            code, seconds = run_one(name, [])
            status[name] = {"exit_code": code, "seconds": seconds}
        if status[name]["exit_code"] == 0 and path.exists():
            rows += summary_rows(name, json.loads(path.read_text()))
    summary = {"machine": facts, "rows": rows, "scripts": status}
    atomic_write_json(RESULTS / "SUMMARY.json", summary)
    md = to_markdown(rows, facts, status)
    atomic_write_text(RESULTS / "SUMMARY.md", md)
    print(md)
    failed = [n for n, s in status.items() if s["exit_code"] != 0]
    if failed:
        print(f"failed scripts: {failed}", file=sys.stderr)
    return summary


if __name__ == "__main__":
    sys.exit(1 if [s for s in main()["scripts"].values() if s["exit_code"]] else 0)
