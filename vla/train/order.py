"""The order in which training frames are visited: seeded, shardable across processes, and resumable.

The whole order is a pure function of (seed, epoch, position), so a resumed run that restores the
`OrderState` it saved visits exactly the frames the uninterrupted run would have visited next. Each
epoch is a fresh permutation drawn from a generator seeded with (seed, epoch); a global batch takes the
next `batch_size * world_size` frames of it, and process `rank` takes its contiguous slice. The tail of an
epoch that cannot fill a global batch is skipped (every batch has the same size; the skipped frames
differ from epoch to epoch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np


@dataclass(frozen=True)
class OrderState:
    """Where the stream stands: the next global batch starts at `position` of epoch `epoch`'s permutation."""

    epoch: int = 0
    position: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    @classmethod
    def from_dict(cls, data: dict) -> "OrderState":
        return cls(epoch=int(data["epoch"]), position=int(data["position"]))


class DataOrder:
    """Global batches of frame indices over `num_samples` frames, `batch_size` per process per batch."""

    def __init__(self, num_samples: int, batch_size: int, seed: int, world_size: int = 1) -> None:
        if batch_size <= 0 or world_size <= 0:
            raise ValueError(f"batch_size and world_size must be > 0, got {batch_size}, {world_size}")
        self.global_batch = batch_size * world_size
        if num_samples < self.global_batch:
            raise ValueError(
                f"the training split has {num_samples} frames, fewer than one global batch of "
                f"{self.global_batch} (batch_size {batch_size} x {world_size} processes); lower batch_size "
                "or record more data"
            )
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.seed = seed
        self.world_size = world_size
        self._perm_cache: tuple[int, np.ndarray] | None = None

    def permutation(self, epoch: int) -> np.ndarray:
        """The frame order of `epoch` (int64[num_samples]); the same for every process and every run."""
        if self._perm_cache is None or self._perm_cache[0] != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            self._perm_cache = (epoch, rng.permutation(self.num_samples))
        return self._perm_cache[1]

    def _start(self, state: OrderState) -> OrderState:
        if state.position + self.global_batch > self.num_samples:
            return OrderState(state.epoch + 1, 0)
        return state

    def batch(self, state: OrderState, rank: int = 0) -> tuple[list[int], OrderState]:
        """Process `rank`'s frame indices of the global batch at `state`, and the state after that batch."""
        if not 0 <= rank < self.world_size:
            raise ValueError(f"rank must be in [0, {self.world_size}), got {rank}")
        state = self._start(state)
        lo = state.position + rank * self.batch_size
        indices = self.permutation(state.epoch)[lo : lo + self.batch_size]
        return [int(i) for i in indices], OrderState(state.epoch, state.position + self.global_batch)

    def advance(self, state: OrderState, batches: int = 1) -> OrderState:
        """The state after `batches` more global batches (no indices drawn)."""
        for _ in range(batches):
            state = self._start(state)
            state = OrderState(state.epoch, state.position + self.global_batch)
        return state


class BatchIndexStream:
    """An endless batch sampler for `torch.utils.data.DataLoader(batch_sampler=...)` from a start state.

    The DataLoader may prefetch ahead of the loop; the loop therefore keeps its own `OrderState` and moves
    it with `DataOrder.advance` once per batch it actually consumes, and that is what a checkpoint saves.
    """

    def __init__(self, order: DataOrder, start: OrderState, rank: int = 0) -> None:
        self.order = order
        self.start = start
        self.rank = rank

    def __iter__(self) -> Iterator[list[int]]:
        state = self.start
        while True:
            indices, state = self.order.batch(state, self.rank)
            yield indices
