"""The sweep engine: many networks that differ in one setting, trained in lockstep on local
worker processes or a Dask cluster, within a budget of work and memory.

- engine.py: the sweep's configuration, its plan of tasks, running them, the results;
- lockstep.py: many small networks as one batched array computation;
- budget.py: a sweep's work and peak memory, estimated before it starts;
- pool.py: worker processes that a Stop or a closed tab ends at once;
- dask_probe.py: reaching a Dask scheduler with deadlines (and refusing what is not one);
- plots.py: the accuracy-against-value figure; cli.py: ``python -m nn sweep``.
"""
from nn.sweep.engine import (DTYPES, MAX_TRIALS, MAX_VALUES, PARAMS, SweepConfig, SweepError,
                             SweepResult, SweepRun, Task, blocks, check_values, check_workers,
                             default_workers, estimate, iter_sweep, parse_values, plan, run_sweep,
                             run_task, start_sweep, summarize, summary_csv)

__all__ = ["DTYPES", "MAX_TRIALS", "MAX_VALUES", "PARAMS", "SweepConfig", "SweepError", "SweepResult",
           "SweepRun", "Task", "blocks", "check_values", "check_workers", "default_workers", "estimate",
           "iter_sweep", "parse_values", "plan", "run_sweep", "run_task", "start_sweep", "summarize",
           "summary_csv"]
