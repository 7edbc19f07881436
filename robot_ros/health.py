"""Node health bookkeeping: input rates, latency percentiles, drop counters, and the diagnostics message.

Thread-safe (callbacks and the inference thread both write); the message part imports diagnostic_msgs
only inside `to_diagnostic`, so the counters are usable in tests without ROS.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque

import numpy as np

OK, WARN, ERROR, STALE = 0, 1, 2, 3  # diagnostic_msgs/DiagnosticStatus levels


class Health:
    """Counters, rates and latency windows for one node, summarised into a DiagnosticStatus."""

    def __init__(self, name: str, window: int = 1000):
        self.name = name
        self._lock = threading.Lock()
        self._arrivals: dict[str, deque[float]] = {}
        self._latency: dict[str, deque[float]] = {}
        self._window = window
        self.drops: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.level = OK
        self.state = "starting"

    def arrived(self, topic: str, now: float | None = None) -> None:
        """Record one message on `topic` (for its rate over the last 2 s)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._arrivals.setdefault(topic, deque(maxlen=self._window))
            q.append(now)

    def drop(self, kind: str) -> int:
        """Count a dropped input of `kind`; returns the new count (for throttled warnings)."""
        with self._lock:
            self.drops[kind] += 1
            return self.drops[kind]

    def count(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.counts[kind] += n

    def latency(self, key: str, seconds: float) -> None:
        """Record one latency sample (seconds) under `key`."""
        with self._lock:
            self._latency.setdefault(key, deque(maxlen=self._window)).append(seconds)

    def set_state(self, level: int, state: str) -> None:
        with self._lock:
            self.level, self.state = level, state

    def rate(self, topic: str, now: float | None = None, span: float = 2.0) -> float:
        """Messages per second on `topic` over the last `span` seconds."""
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._arrivals.get(topic, ())
            return sum(1 for t in q if now - t <= span) / span

    def percentiles(self, key: str) -> tuple[float, float, int]:
        """(p50, p99) in milliseconds over the window for `key`, and the sample count; NaN when empty."""
        with self._lock:
            samples = np.asarray(self._latency.get(key, ()), dtype=np.float64)
        if samples.size == 0:
            return float("nan"), float("nan"), 0
        p50, p99 = np.percentile(samples * 1e3, [50, 99])
        return float(p50), float(p99), int(samples.size)

    def summary(self) -> dict[str, str]:
        """Every figure as strings, the key/value pairs of the diagnostics message."""
        now = time.monotonic()
        with self._lock:
            topics = list(self._arrivals)
            keys = list(self._latency)
            drops, counts = dict(self.drops), dict(self.counts)
        out = {"state": self.state}
        out.update({f"rate_hz/{t}": f"{self.rate(t, now):.2f}" for t in topics})
        for k in keys:
            p50, p99, n = self.percentiles(k)
            out[f"{k}_ms/p50"], out[f"{k}_ms/p99"], out[f"{k}/samples"] = f"{p50:.3f}", f"{p99:.3f}", str(n)
        out.update({f"drops/{k}": str(v) for k, v in drops.items()})
        out["drops/total"] = str(sum(drops.values()))
        out.update({f"count/{k}": str(v) for k, v in counts.items()})
        return out

    def to_diagnostic(self, stamp, hardware_id: str = ""):
        """A diagnostic_msgs/DiagnosticArray with this node's one status."""
        from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

        values = self.summary()
        status = DiagnosticStatus(level=bytes([self.level]), name=self.name, message=self.state,
                                  hardware_id=hardware_id,
                                  values=[KeyValue(key=k, value=v) for k, v in values.items()])
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = stamp
        return msg
