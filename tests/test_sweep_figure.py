"""The sweep's time per run and its figure (issue 19): networks trained together in lockstep share
the time in proportion to their size, and the time panel reads right on a log axis."""
import pytest

from nn.core.config import RunConfig
from nn.sweep import SweepConfig, Task, run_task, summarize
from nn.sweep.plots import sweep_figure


def sweep(param: str, values: list) -> tuple[SweepConfig, list[dict]]:
    sw = SweepConfig(RunConfig(dataset="moons", n_samples=400, epochs=2, batch_size=32), param,
                     values, trials=1).validate()
    return sw, run_task(sw, Task(tuple(range(len(values))), (0,)))


def test_learning_rates_trained_together_share_the_time_equally():
    _, results = sweep("lr", [0.001, 0.01, 0.1])
    assert len({r["seconds"] for r in results}) == 1


def test_bigger_networks_trained_together_are_given_more_of_the_time():
    _, results = sweep("hidden", [4, 16, 64])
    secs = [r["seconds"] for r in sorted(results, key=lambda r: r["value"])]
    assert secs[0] < secs[1] < secs[2]
    # 2-4-2 has 22 parameters, 2-64-2 has 322: the time is split in that proportion
    assert secs[2] / secs[0] == pytest.approx(322 / 22)


def test_the_time_panel_is_points_not_bars_so_a_log_axis_reads_right():
    sw, results = sweep("lr", [1e-4, 1e-2, 1.0])
    fig = sweep_figure(summarize(sw, results), "lr")
    time_trace = next(t for t in fig.data if t.name == "training s per run")
    assert time_trace.type == "scatter" and list(time_trace.x) == [1e-4, 1e-2, 1.0]
    assert fig.layout.xaxis2.type == "log"


def test_one_value_swept_draws_no_negative_accuracy_or_seconds():
    """A sweep of one value is one point per panel: plotly's own range put it mid-axis, from -50%."""
    sw, results = sweep("lr", [1e-2])
    fig = sweep_figure(summarize(sw, results), "lr")
    assert tuple(fig.layout.yaxis.range) == (0, 1.02)        # test accuracy: 0-100%, as on Train
    assert fig.layout.yaxis2.rangemode == "nonnegative"      # s per run
