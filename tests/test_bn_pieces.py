"""Batch norm in pieces of fixed work (issue 17, "Stop means stop"): a batch-normed network's
batches are cut into equal pieces whose size follows from the network's cost, never from the
machine's speed, so that Stop answers within a second on a heavy network while the shipped
presets (whole batches) train exactly as before."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from app_pages import open_app
from test_budget import _stop_after

from nn.core import CNN_PRESETS, arch_cost, build_network, flops_per_sample
from nn.core import training
from nn.core.config import TrainConfig
from nn.core.training import PIECE_FLOPS, GRAD_CHUNK, Trainer, piece_rows_for, even_piece
from nn.cli import main
from nn.runs.experiment import bn_piece_note, config_from_preset

# The example of a heavy batch-normed CNN: 176 MFLOP a training row, so one 2048-row
# piece (the old fixed size) is about 360 GFLOP, 10-25 s on 2 busy cores.
HEAVY = "conv 3x3x64 pad 1, bn, conv 3x3x64 pad 1, bn, pool 2, dense 10"
SMALL = "conv 3x3x4, bn, pool 2, dense 16, bn, dropout 0.25"


def _data(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((rows, 784), dtype=np.float32), rng.integers(0, 10, rows)


def _trainer(arch: str, rows: int, batch: int, **config) -> Trainer:
    X, y = _data(rows)
    cfg = TrainConfig(optimizer="adam", batch_size=batch, epochs=1, report_every=3600, **config)
    return Trainer(build_network(arch, (1, 28, 28), 10), X, y, None, None, cfg)


def _piece_sizes(trainer: Trainer) -> list[int]:
    """Rows of every training pass ``trainer`` makes from now on (a spy on the model)."""
    sizes: list[int] = []
    step = trainer.model.train_step_grads

    def spy(X, y, grads, **kw):
        sizes.append(len(X))
        return step(X, y, grads, **kw)

    trainer.model.train_step_grads = spy
    return sizes


# --- the piece size -------------------------------------------------------------------------------
def test_a_heavy_bn_network_gets_pieces_of_at_most_the_fixed_work():
    trainer = _trainer(HEAVY, 64, 32)
    flops = flops_per_sample(trainer.model)["train"]
    rows = trainer.bn_rows
    assert rows == piece_rows_for(flops) == _trainer(HEAVY, 64, 32).bn_rows     # from the cost alone
    assert 1 <= rows < GRAD_CHUNK
    assert rows * flops <= PIECE_FLOPS < (rows + 1) * flops
    assert piece_rows_for(10 * PIECE_FLOPS) == 1                   # one row, however heavy
    assert piece_rows_for(1) == GRAD_CHUNK                            # at most GRAD_CHUNK rows


def test_networks_without_batch_norm_keep_their_timed_pieces():
    assert _trainer("conv 3x3x4, pool 2, dense 16", 64, 32).bn_rows is None


@pytest.mark.parametrize("name", ["mnist-fast", "mnist-best"])
def test_the_presets_train_on_whole_batches(name):
    """Their batches are never cut, so they train exactly as they did with 2048-row pieces."""
    preset = CNN_PRESETS[name]
    _, flops = arch_cost(preset["arch"], (1, 28, 28), 10)
    trainer = _trainer(preset["arch"], 64, 32)
    assert trainer.bn_rows == piece_rows_for(flops["train"])         # the page's and the trainer's
    assert even_piece(preset["batch_size"], trainer.bn_rows) == preset["batch_size"]


@pytest.mark.parametrize("n, most, size", [(100, 24, 20), (256, 173, 128), (2048, 2048, 2048),
                                           (7, 1, 1), (5000, 2048, 1667), (50, 2048, 50)])
def test_a_batch_is_cut_into_as_few_equal_pieces_as_its_limit_allows(n, most, size):
    assert even_piece(n, most) == size


def test_the_pieces_do_not_depend_on_how_fast_the_machine_is(monkeypatch):
    """The pacer (the machine's speed) says 3 rows or 5,000: the same pieces, the same weights."""
    monkeypatch.setattr(training, "PIECE_FLOPS", 24 * flops_per_sample(build_network(SMALL, (1, 28, 28), 10))["train"])
    results = []
    for pace in (3, 5000):
        trainer = _trainer(SMALL, 200, 100)
        trainer.pacer.rows = lambda factor=1.0, pace=pace: pace
        sizes = _piece_sizes(trainer)
        list(trainer.run(1))
        results.append((sizes, trainer.model.params + trainer.model.buffers))
    (sizes_a, weights_a), (sizes_b, weights_b) = results
    assert sizes_a == sizes_b == [20] * 10                         # 2 batches of 100 in 5 pieces
    assert all(np.array_equal(a, b) for a, b in zip(weights_a, weights_b))


def test_a_step_stopped_between_its_pieces_is_redone_exactly(monkeypatch):
    """Batch norm's running statistics and the dropout seeds of the pieces already done are put
    back: a run stopped mid-step and continued ends as one run through."""
    monkeypatch.setattr(training, "PIECE_FLOPS", 24 * flops_per_sample(build_network(SMALL, (1, 28, 28), 10))["train"])
    whole = _trainer(SMALL, 300, 100)
    list(whole.run(1))
    parts = _trainer(SMALL, 300, 100)
    sizes = _piece_sizes(parts)
    step = parts.model.train_step_grads

    def stop_in_step_2(X, y, grads, **kw):
        result = step(X, y, grads, **kw)
        if len(sizes) == 7:                      # the second piece of the second step
            parts.stop()
        return result

    parts.model.train_step_grads = stop_in_step_2
    list(parts.run(1))
    assert parts.steps_done == 1 and parts.epochs_done == 0
    list(parts.run(1))
    assert parts.steps_done == whole.steps_done == 3
    assert all(np.array_equal(a, b) for a, b in zip(whole.model.params + whole.model.buffers,
                                                    parts.model.params + parts.model.buffers))


# --- what the page and the command line say --------------------------------------------------------
@pytest.mark.parametrize("name, overrides", [("mnist-fast", {}), ("mnist-best", {}), ("mnist-cnn", {"batch_size": "full"})])
def test_nothing_is_said_while_batches_stay_whole_or_without_batch_norm(name, overrides):
    assert bn_piece_note(config_from_preset(name, **overrides)) is None


def test_the_note_gives_the_pieces_the_trainer_makes():
    cfg = config_from_preset("mnist-best", batch_size=512)          # 171-row pieces
    trainer = _trainer(cfg.arch, 600, 512)
    sizes = _piece_sizes(trainer)
    trainer._batch_grads(trainer.X[:512], trainer.y[:512])
    note = bn_piece_note(cfg)
    assert note.startswith(f"Batch norm statistics over pieces of {sizes[0]} rows: each batch of 512 "
                           f"is cut into {len(sizes)} pieces")
    assert sum(sizes) == 512 and len(set(sizes[:-1])) == 1


def test_the_command_line_says_so_before_training(capsys):
    arch = "conv 3x3x32 pad 1, bn, conv 3x3x32 pad 1, bn, pool 2"     # 3.6 MFLOP a row on 8x8 digits
    assert main(["train", "--dataset", "digits", "--arch", arch, "--batch-size", "full", "--epochs", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Batch norm statistics over pieces of ") and lines[1].startswith("epoch 1/1")


# --- Stop within a second -------------------------------------------------------------------------
class _TabClosed:
    """A trainer whose stop comes from the page's ``also_stop`` (a closed tab) instead."""

    def __init__(self, trainer: Trainer) -> None:
        self.run, self._gone = trainer.run, threading.Event()
        trainer.also_stop = self._gone.is_set

    def stop(self) -> None:
        self._gone.set()


@pytest.mark.parametrize("how", ["stop", "tab closed"])
def test_a_heavy_bn_network_stops_within_a_second_mid_step(how):
    """A 512-row batch of HEAVY is about 90 GFLOP: 3-10 s as one piece (the old code), pieces of
    about 4 GFLOP now. Stop (or a closed tab) half a second into the first step returns within
    a second, and the step is not taken."""
    trainer = _trainer(HEAVY, 512, 512)
    before = [a.copy() for a in trainer.model.params + trainer.model.buffers]
    took = _stop_after(trainer if how == "stop" else _TabClosed(trainer),
                       lambda: trainer.start_loss is not None, 0.5)
    assert took < 1.0, f"returned {took:.2f} s after the stop"
    assert trainer.steps_done == 0
    assert all(np.array_equal(a, b) for a, b in zip(before, trainer.model.params + trainer.model.buffers))


def test_the_train_page_says_so_under_its_buttons():
    arch = "conv 3x3x32 pad 1, bn, conv 3x3x32 pad 1, bn, pool 2"
    at = open_app(preset="moons", dataset="digits", arch=arch, batch_size="full")
    assert not at.exception
    notes = [c.value for c in at.caption if "Batch norm statistics" in c.value]
    note = bn_piece_note(config_from_preset("moons", dataset="digits", arch=arch, batch_size="full"))
    assert note is not None and notes == [f":material/view_agenda: {note}"], notes
    at = open_app(preset="moons", dataset="digits", arch=arch, batch_size="64")
    assert not [c.value for c in at.caption if "Batch norm statistics" in c.value]
