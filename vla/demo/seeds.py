"""Check that the benchmark's episodes are unseen: no evaluation seed of a task was a recording seed.

Both tools derive episode seeds from their base seed (vla-record uses `record.seed`, `record.seed + 1`, ...;
vla-bench hashes `eval.seed` with the task and episode index). Rather than re-deriving them here, the check
reads the seeds each tool wrote down (the dataset's `record/seed` episode column, results.json's
`episode_seeds`), so it holds whatever the derivation is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from vla.data.meta import DatasetMeta
from vla.demo.plan import Stage

SEED_COLUMN = "record/seed"  # vla-record's per-episode column in meta/episodes


def recorded_seeds(dataset_root: str | Path) -> list[int]:
    """The env seeds of the episodes in a dataset written by `vla-record`; raises if one lacks its seed."""
    rows = DatasetMeta.load(dataset_root).episodes
    missing = [r["episode_index"] for r in rows if r.get(SEED_COLUMN) is None]
    if missing:
        raise ValueError(f"{dataset_root}: episodes {missing[:8]} have no {SEED_COLUMN!r} column; "
                         "was the dataset written by vla-record?")
    return [int(r[SEED_COLUMN]) for r in rows]


def unseen_check(records: Sequence[Stage], results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Compare recording and evaluation seeds per task; returns counts and a one-line summary.

    Raises ValueError when any evaluation seed was recorded: the table would then not measure
    generalization to unseen episodes, and the demo says so rather than report it.
    """
    seen = {s.task: set(recorded_seeds(s.out)) for s in records}
    overlap: dict[str, set[int]] = {}
    counts: dict[str, dict[str, int]] = {}
    for res in results:
        for task, seeds in res["episode_seeds"].items():
            both = seen.get(task, set()) & set(seeds)
            if both:
                overlap.setdefault(task, set()).update(both)
            counts[task] = {"recorded": len(seen.get(task, ())), "evaluated": len(set(seeds))}
    if overlap:
        raise ValueError(f"evaluation seeds were also recorded (task -> seeds): "
                         f"{ {t: sorted(s) for t, s in overlap.items()} }; choose another eval.seed")
    summary = ("No evaluation seed was a recording seed (checked per task against the datasets' episode "
               "seeds): " + ", ".join(f"{t}: {c['evaluated']} evaluation seeds, {c['recorded']} recorded"
                                      for t, c in counts.items()) + ".")
    return {"disjoint": True, "counts": counts, "summary": summary}
