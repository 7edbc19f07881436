"""The benchmark runner behind `vla-bench`: any registered policy on any task suite, resumable,
deterministic, in parallel worker processes. `sim.bench.runner.run(BenchConfig(...))` is the API."""
