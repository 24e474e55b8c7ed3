"""The large-batch path (seed-mnist's full batch): narrow layers' products in row blocks
(nn.core.row_blocks), pieces read from the pixels' 8-bit codes (nn.core.pixels), and Stop
between pieces; minibatches keep their path."""
import threading
import time

import numpy as np
import pytest

import nn.core.batch_halves as batch_halves
import nn.core.row_blocks as row_blocks
import nn.core.training as training
from nn import MLP, Trainer, TrainConfig
from nn.core.batch_halves import half_ranges
from nn.core.pixels import pixel_codes, pixels_to_float
from nn.core.row_blocks import block_rows, blocked_step_is_small


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 40 rows for a 30-5 layer (and 2048-row pieces cut to 64), as 784-5 gets 255."""
    monkeypatch.setattr(row_blocks, "SMALL_PRODUCT", 40 * 30 * 5)
    monkeypatch.setattr(training, "GRAD_CHUNK", 64)


def pixel_data(n: int = 450, dtype: str = "float64", seed: int = 0):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, (n, 30), dtype=np.uint8)
    codes[:, :3] = 0                                     # blank borders, as MNIST's
    return pixels_to_float(codes, dtype), rng.integers(0, 3, n)


def model(dtype: str = "float64") -> MLP:
    m = MLP([30, 5, 3], activation="sigmoid", init="small", seed=42, dtype=dtype)
    for p in m.params:                                   # away from the tiny start
        p += np.random.default_rng(1).normal(0, 0.3, p.shape).astype(p.dtype)
    return m


def plain_grads(m: MLP, X: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
    grads = [np.empty_like(p) for p in m.params]
    loss, _ = m.train_step_grads(X, y, grads, reuse_buffers=False)
    return loss, grads


def test_block_rows_only_for_narrow_layers_and_many_rows():
    assert block_rows(2048, 784, 5) == 255                  # 255 x 784 x 5 <= 1e6 < 256 x 784 x 5
    assert block_rows(200, 784, 5) is None                  # fewer rows than a block
    assert block_rows(60000, 784, 256) is None              # 3-row blocks: one product is as good
    assert blocked_step_is_small([784, 5, 10], 2048)
    assert not blocked_step_is_small([784, 256, 10], 2048)


def test_blocked_step_gives_the_plain_gradients_float64(small_blocks):
    X, y = pixel_data(451)                                   # 11 blocks of 40 rows and 11 more
    m = model()
    loss, plain = plain_grads(m, X, y)
    grads = [np.empty_like(p) for p in m.params]
    blocked_loss, _ = m.train_step_grads(X, y, grads, reuse_buffers=False, blocked=True)
    assert block_rows(len(X), 30, 5) == 40
    assert blocked_loss == pytest.approx(loss, rel=1e-14)
    for g, p in zip(grads, plain):
        np.testing.assert_allclose(g, p, rtol=1e-12, atol=1e-15)


def test_pixel_codes_give_back_the_floats_bit_for_bit():
    for dtype in ("float32", "float64"):
        X, _ = pixel_data(dtype=dtype)
        codes = pixel_codes(X)
        assert codes is not None and codes.dtype == np.uint8
        assert np.array_equal(pixels_to_float(codes, dtype), X)
        assert np.array_equal(pixels_to_float(codes, dtype), pixels_to_float(codes, dtype, np.empty_like(X)))
    assert np.array_equal(pixels_to_float(codes, "float64"), codes / 255.0)       # the tutorial's x / 255.0


@pytest.mark.parametrize("change", ["off the grid", "negative", "above one", "nan"])
def test_other_floats_have_no_codes(change):
    X, _ = pixel_data()
    X[5, 7] = {"off the grid": X[5, 7] + 1e-9, "negative": -1 / 255, "above one": 256 / 255,
               "nan": np.nan}[change]
    assert pixel_codes(X) is None


@pytest.mark.parametrize("pixels", [True, False], ids=["uint8 codes", "float inputs"])
def test_full_batch_pieces_give_the_plain_gradients(small_blocks, pixels):
    """The Trainer's full-batch gradient, in 64-row pieces of 40-row blocks, read from the codes
    (pixels) or from the floats (inputs that are not pixels / 255): the one-pass gradient."""
    X, y = pixel_data(451)
    if not pixels:
        X = X * 0.999 + 1e-4                                 # no longer code / 255
    m = model()
    trainer = Trainer(m, X, y, config=TrainConfig(optimizer="sgd", lr=0.5, batch_size="full", epochs=1))
    loss, plain = plain_grads(m, X, y)
    assert trainer._start_pass()                            # times the pieces, as ``run`` does
    result = trainer._batch_grads(trainer.X, trainer.y)
    assert trainer._piece_rows(len(X)) == 64
    assert (trainer._pixel_codes() is not None) == pixels
    assert result is not None and result[0] == pytest.approx(loss, rel=1e-13)
    for g, p in zip(trainer.grads, plain):
        np.testing.assert_allclose(g, p, rtol=1e-11, atol=1e-15)


def test_a_full_batch_run_trains_as_the_plain_one(small_blocks, monkeypatch):
    """Five full-batch steps through the pieces, codes and blocks against one-pass steps."""
    X, y = pixel_data(451)

    def train(pieces: bool) -> list[np.ndarray]:
        if not pieces:
            monkeypatch.setattr(training, "GRAD_CHUNK", 10**6)
        m = model()
        list(Trainer(m, X, y, config=TrainConfig(optimizer="sgd", lr=0.5, batch_size="full", epochs=5)).run())
        return m.params

    for blocked, whole in zip(train(True), train(False)):
        np.testing.assert_allclose(blocked, whole, rtol=1e-10, atol=1e-13)


def test_a_full_batch_run_stops_between_pieces(small_blocks, monkeypatch):
    """Stop pressed during the third piece: no further piece runs, the step is not taken."""
    X, y = pixel_data(451)
    m = model()
    trainer = Trainer(m, X, y, config=TrainConfig(optimizer="sgd", lr=0.5, batch_size="full", epochs=3))
    assert trainer._start_pass()
    before = [p.copy() for p in m.params]
    step, pieces = m.train_step_grads, []

    def counted(X, *args, **kw):
        pieces.append(len(X))
        if len(pieces) == 3:
            trainer.stop()
        return step(X, *args, **kw)

    monkeypatch.setattr(m, "train_step_grads", counted)
    assert list(trainer.run()) == []
    assert len(pieces) == 3 and trainer.steps_done == 0
    assert all(np.array_equal(p, b) for p, b in zip(m.params, before))
    monkeypatch.setattr(m, "train_step_grads", step)
    list(trainer.run())                                     # Continue: the step is redone, then the rest
    assert trainer.steps_done == 3


def test_stop_from_another_thread_within_a_second_on_a_big_full_batch():
    """A full batch of 60,000 pixel rows (MNIST's size) through 784-5-10: Stop ends it within 1 s."""
    rng = np.random.default_rng(0)
    X = pixels_to_float(rng.integers(0, 256, (60000, 784), dtype=np.uint8), "float32")
    y = rng.integers(0, 10, len(X))
    trainer = Trainer(MLP([784, 5, 10], activation="sigmoid", init="small", seed=42), X, y,
                      config=TrainConfig(optimizer="sgd", lr=0.5, batch_size="full", epochs=1000))
    threading.Timer(1.0, trainer.stop).start()
    started = time.perf_counter()
    list(trainer.run())
    assert trainer.epochs_done < 1000
    assert time.perf_counter() - started < 2.0 + 1.0       # the 1 s wait, then within a second


def test_minibatches_keep_the_one_product_path(monkeypatch):
    """Batch 128 of a 784-5-10 network: bit for bit the same whether blocks would be tiny or not."""
    rng = np.random.default_rng(2)
    X = pixels_to_float(rng.integers(0, 256, (512, 784), dtype=np.uint8), "float32")
    y = rng.integers(0, 10, len(X))

    def train() -> list[np.ndarray]:
        m = MLP([784, 5, 10], activation="sigmoid", init="small", seed=42)
        list(Trainer(m, X, y, config=TrainConfig(optimizer="sgd", lr=0.5, batch_size=128, epochs=2)).run())
        return m.params

    first = train()
    monkeypatch.setattr(row_blocks, "SMALL_PRODUCT", 16 * 784 * 5)     # 16-row blocks if ever used
    for a, b in zip(first, train()):
        assert np.array_equal(a, b)


def test_a_pickled_trainer_leaves_its_codes_behind_and_finds_them_again(small_blocks):
    """To a worker process and back (nn.runs.remote_training): the codes are made from the data
    where it is attached, never sent."""
    import pickle
    X, y = pixel_data(451, "float32")
    trainer = Trainer(model("float32"), X, y, config=TrainConfig(optimizer="sgd", lr=0.5, batch_size="full", epochs=1))
    list(trainer.run())
    assert trainer._codes is not None
    copy = pickle.loads(pickle.dumps(trainer))
    assert copy._codes is None and copy._halves is None
    copy.attach(X, y, None, None)
    list(copy.run(1))
    assert np.array_equal(copy._codes, trainer._codes)


def test_halves_cut_the_pieces_in_two_at_a_piece_boundary():
    assert half_ranges(60000, 2048) == [range(0, 30720, 2048), range(30720, 60000, 2048)]   # 15 + 15
    assert half_ranges(451, 64) == [range(0, 256, 64), range(256, 451, 64)]                 # 4 + 4
    assert half_ranges(100, 64) == [range(0, 64, 64), range(64, 100, 64)]
    assert half_ranges(64, 64) == [range(0, 64, 64)]


@pytest.fixture
def threads(monkeypatch):
    """Set the job's thread allowance; record the threads the passes ran on and the handovers."""
    seen = {"passes": set(), "handovers": 0}
    real_run = training.run_parallel

    def run_parallel(tasks):
        seen["handovers"] += 1
        return real_run(tasks)

    def allow(n: int) -> dict:
        monkeypatch.setattr(training, "allowed_threads", lambda: n)
        return seen

    monkeypatch.setattr(training, "run_parallel", run_parallel)
    monkeypatch.setattr(batch_halves, "MIN_THREADED_FLOPS", 0)        # the small test network too
    return allow


def threaded_trainer(dtype: str, seen: dict, epochs: int = 1) -> Trainer:
    X, y = pixel_data(451, dtype)
    m = model(dtype)
    step = m.train_step_grads

    def recorded(*args, **kw):
        seen["passes"].add(threading.get_ident())
        return step(*args, **kw)

    m.train_step_grads = recorded
    trainer = Trainer(m, X, y, config=TrainConfig(optimizer="sgd", lr=0.5, batch_size="full", epochs=epochs))
    assert trainer._start_pass()
    return trainer


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_two_threads_give_the_one_thread_gradient_bit_for_bit(small_blocks, threads, dtype):
    """The halves on two threads (the second on the pool's) or one after the other: the same sums."""
    results = {}
    for n in (1, 2):
        seen = threads(n)
        seen["passes"].clear()
        trainer = threaded_trainer(dtype, seen)
        results[n] = trainer._batch_grads(trainer.X, trainer.y), [g.copy() for g in trainer.grads]
        assert len(seen["passes"]) == n
    assert threads(2)["handovers"] == 1
    (loss1, correct1), grads1 = results[1]
    (loss2, correct2), grads2 = results[2]
    assert loss1 == loss2 and correct1 == correct2
    for a, b in zip(grads1, grads2):
        assert np.array_equal(a, b)
    X, y = pixel_data(451, dtype)                            # and the one-pass gradient
    loss, plain = plain_grads(model(dtype), X, y)
    assert loss2 == pytest.approx(loss, rel=1e-13 if dtype == "float64" else 1e-5)
    for g, p in zip(grads2, plain):
        np.testing.assert_allclose(g, p, rtol=1e-11 if dtype == "float64" else 1e-4,
                                   atol=1e-15 if dtype == "float64" else 1e-7)


def test_an_allowance_of_one_thread_keeps_the_step_on_this_thread(small_blocks, threads):
    seen = threads(1)
    trainer = threaded_trainer("float32", seen, epochs=2)
    list(trainer.run())
    assert seen["passes"] == {threading.get_ident()} and seen["handovers"] == 0
    assert trainer.epochs_done == 2


def test_two_threads_for_a_large_step_the_job_may_run_on_two_cores():
    assert batch_halves.half_threads([784, 5, 10], 60000, 2) == 2        # seed-mnist: 1.4 GFLOP
    assert batch_halves.half_threads([784, 5, 10], 60000, 1) == 1        # allowed one thread
    assert batch_halves.half_threads([2, 8, 2], 100000, 2) == 1          # 19 MFLOP: not worth it


def test_a_wide_network_leaves_its_threads_to_blas(threads):
    """784-256-10: BLAS runs its products on its own threads; the halves stay on this one."""
    seen = threads(2)
    X = np.random.default_rng(0).random((3000, 784), np.float32)
    y = np.zeros(len(X), int)
    wide = Trainer(MLP([784, 256, 10], seed=0), X, y, config=TrainConfig(batch_size="full", epochs=1))
    assert not wide._threaded_halves
    list(wide.run())
    assert seen["handovers"] == 0


def test_two_thread_run_trains_as_the_one_thread_one_and_stops_between_pieces(small_blocks, threads):
    """Three full-batch epochs on two threads, stopped during a piece of the first step and
    continued: the weights of three uninterrupted one-thread epochs, bit for bit."""
    one = threaded_trainer("float64", threads(1), epochs=3)
    list(one.run())
    seen = threads(2)
    two = threaded_trainer("float64", seen, epochs=3)
    before = [p.copy() for p in two.model.params]
    step, pieces = two.model.train_step_grads, []

    def stopping(*args, **kw):
        pieces.append(1)
        if len(pieces) == 3:
            two.stop()
        return step(*args, **kw)

    two.model.train_step_grads = stopping
    assert list(two.run()) == [] and two.steps_done == 0
    assert len(pieces) < 8                                     # not the step's 8 pieces
    assert all(np.array_equal(p, b) for p, b in zip(two.model.params, before))
    two.model.train_step_grads = step
    list(two.run())
    assert two.steps_done == 3 and len(seen["passes"]) == 2
    for a, b in zip(two.model.params, one.model.params):
        assert np.array_equal(a, b)
