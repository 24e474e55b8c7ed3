"""The sweep engine: many networks that differ in one setting, trained in lockstep on local
worker processes or a Dask cluster, within a budget of work and memory.

A sweep is a base ``RunConfig``, the parameter to vary (``hidden``, ``lr``, ``batch_size`` or
``depth``), its values and a number of trials; trial t of every value uses seed ``seed + t``.
By stage:

- values.py: what each parameter's values may be (from nn.core.settings), reading "3:40";
- config.py: ``SweepConfig``, the sweep checked in one place;
- plan.py: lockstep blocks, tasks, workers, the estimate against the server's limits;
- task.py: one task trained in lockstep (``run_task``), what every way to run calls;
- running.py: ``SweepRun`` (a started sweep) and ``SweepError``; run_here.py, run_local.py and
  run_dask.py: in this process, on local worker processes, on a Dask cluster;
- run.py: ``start_sweep``, ``iter_sweep``, ``run_sweep``;
- summary.py: ``SweepResult``, the mean and spread per value, CSV.

Beside them: lockstep.py (many small networks as one batched array computation), budget.py (a
sweep's work and peak memory, estimated before it starts), pool.py (worker processes that a Stop
or a closed tab ends at once), dask_probe.py (reaching a Dask scheduler with deadlines), plots.py
(the accuracy-against-value figure). The command line, ``python -m nn sweep``, is nn/cli/sweep.py.
"""
from nn.sweep.config import DTYPES, MAX_TRIALS, PARAMS, SweepConfig
from nn.sweep.plan import Task, blocks, check_workers, default_workers, estimate, plan
from nn.sweep.run import iter_sweep, run_sweep, start_sweep
from nn.sweep.running import SweepError, SweepRun
from nn.sweep.summary import SweepResult, summarize, summary_csv
from nn.sweep.task import run_task
from nn.sweep.values import MAX_VALUES, check_values, parse_values

__all__ = ["DTYPES", "MAX_TRIALS", "MAX_VALUES", "PARAMS", "SweepConfig", "SweepError", "SweepResult",
           "SweepRun", "Task", "blocks", "check_values", "check_workers", "default_workers", "estimate",
           "iter_sweep", "parse_values", "plan", "run_sweep", "run_task", "start_sweep", "summarize",
           "summary_csv"]
