"""`vla-demo`: record -> train -> evaluate -> report, each stage a console script in its own process.

`vla` does not import `sim`, so the stages that step simulators (vla-record, vla-bench) run as subprocesses;
this package plans them (`plan`), runs and resumes them (`runner`), estimates their time (`estimate`) and
turns their outputs into a report (`report`, `figures`, `seeds`). Nothing heavy is imported here.
"""
