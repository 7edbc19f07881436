"""The time estimate printed before the demo starts: seconds per unit of work, per kind of stage.

The first run on a machine uses `DEFAULT_RATES`; every finished stage leaves its measured rate in its
marker, so later runs (another task list, more steps) estimate from this machine's own timings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from vla.demo.config import LEARNED
from vla.demo.plan import EVAL, Stage

# Seconds per unit (recorded episode, trained sample, benchmarked episode) after start-up, and the start-up
# (imports, worker processes) of one stage process: measured with conf/demo.yaml on the 2-core CPU machine
# this project is developed on (1 torch thread per process, 64 px images, load average ~2.5 from other
# jobs; the conv-tower model trains ~70 samples/s). They only seed the estimate.
DEFAULT_RATES = {"record": 0.17, "train": 0.014, "eval/vla": 0.45, "eval/baseline": 0.1}
STARTUP_S = {"record": 6.0, "train": 15.0, "eval": 8.0}


def rate_key(kind: str, policy: str | None) -> str:
    """The rate a stage is estimated with: the VLA's benchmark is slower than the baselines' (inference)."""
    if kind == EVAL:
        return "eval/vla" if policy == LEARNED else "eval/baseline"
    return kind


def measured_rates(markers: Iterable[Path]) -> dict[str, float]:
    """Seconds per unit from finished stages' markers (the most recently finished one of each key)."""
    found: dict[str, tuple[str, float]] = {}
    for path in markers:
        marker = json.loads(path.read_text())
        units, wall = int(marker.get("units", 0)), float(marker.get("wall_s", 0.0))
        if units < 1:
            continue
        key = rate_key(marker["kind"], marker.get("policy"))
        rate = max(0.0, wall - STARTUP_S[marker["kind"]]) / units
        stamp = marker.get("finished_utc", "")
        if key not in found or stamp >= found[key][0]:
            found[key] = (stamp, rate)
    return {key: rate for key, (_, rate) in found.items()}


def estimate(stages: Iterable[Stage], out_dir: str | Path) -> dict[str, float]:
    """Estimated seconds of each stage in `stages` (pass the unfinished ones), by stage name."""
    rates = dict(DEFAULT_RATES)
    rates.update(measured_rates(sorted((Path(out_dir) / "stages").glob("*.json"))))
    return {s.name: STARTUP_S[s.kind] + rates[rate_key(s.kind, s.policy)] * s.units for s in stages}
