"""BLAS on one thread while small networks train or several runs train at once; its own setting
back afterwards, also when runs overlap or fail."""
from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController, threadpool_limits

from nn import MLP, Trainer, TrainConfig
from nn.core.blas_threads import allowed_threads, cores, one_blas_thread, step_is_small, training_steps

CONTROLLER = ThreadpoolController()


def blas_threads() -> int:
    libs = CONTROLLER.select(user_api="blas").lib_controllers
    if not libs:
        pytest.skip("NumPy's BLAS is not visible to threadpoolctl")
    return libs[0].num_threads


@pytest.fixture()
def two_threads():
    """Start from two BLAS threads, even on a one-core machine, so that a change shows."""
    with threadpool_limits(limits=2, user_api="blas"):
        yield


def test_small_means_openblas_would_use_one_thread_anyway():
    assert step_is_small([2, 32, 32, 2], 32)               # the moons preset
    assert not step_is_small([784, 256, 10], 128)            # the mnist preset
    assert not step_is_small([784, 5, 10], 2048)             # full-batch MNIST, in 2048-row chunks


def test_one_thread_inside_and_the_setting_back_after_overlapping_holders(two_threads):
    assert blas_threads() == 2
    a, b = one_blas_thread(), one_blas_thread()
    a.__enter__()
    b.__enter__()
    assert blas_threads() == 1
    a.__exit__(None, None, None)                     # the other run still trains: stay at one
    assert blas_threads() == 1
    b.__exit__(None, None, None)
    assert blas_threads() == 2
    with one_blas_thread(active=False):
        assert blas_threads() == 2


def test_setting_back_even_when_training_fails(two_threads):
    with pytest.raises(RuntimeError):
        with training_steps(small=True):
            raise RuntimeError("boom")
    assert blas_threads() == 2


def test_big_runs_keep_their_threads_alone_and_share_one_each_together(two_threads):
    with training_steps(small=False):
        assert blas_threads() == 2                   # alone: all of BLAS's threads
        with training_steps(small=False):            # a second session starts training
            assert blas_threads() == 1
        assert blas_threads() == 2
        with one_blas_thread():                      # a small network's redraw elsewhere
            assert blas_threads() == 1
    assert blas_threads() == 2


def _threads_seen_by_steps(sizes: list[int], batch: int, rows: int) -> set[int]:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(rows, sizes[0])).astype(np.float32), rng.integers(0, sizes[-1], rows)
    model = MLP(sizes, seed=0)
    seen: set[int] = set()
    step = model.train_step_grads

    def spying(*args, **kwargs):
        seen.add(blas_threads())
        return step(*args, **kwargs)

    model.train_step_grads = spying
    trainer = Trainer(model, X, y, X, y, config=TrainConfig(epochs=2, batch_size=batch))
    for _ in trainer.run():
        seen.add(-blas_threads())                   # between records: the caller's own setting
    return seen


def test_trainer_holds_small_networks_to_one_thread_only_while_training(two_threads):
    assert _threads_seen_by_steps([2, 16, 2], 32, 500) == {1, -2}
    assert _threads_seen_by_steps([300, 512, 10], 256, 512) == {2, -2}
    assert blas_threads() == 2


def test_the_allowance_is_the_blas_setting_a_job_was_given_not_our_own_holds(two_threads):
    """A hosted worker is given its threads as a BLAS limit (nn.hosting.isolated); this
    module's one-thread holds while a small network trains do not lower it, a second run does."""
    assert allowed_threads() == min(2, cores())
    with training_steps(small=True):                 # our own hold: BLAS at one, allowance kept
        assert blas_threads() == 1 and allowed_threads() == min(2, cores())
        with training_steps(small=True):             # two runs at once: one thread each
            assert allowed_threads() == 1
    with threadpool_limits(limits=1, user_api="blas"):   # a worker given one thread
        assert allowed_threads() == 1
        with training_steps(small=True):
            assert allowed_threads() == 1
