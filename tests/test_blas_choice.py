"""The trainer's choice between one BLAS thread and the default (nn.core.blas_choice), fed
made-up step times: it keeps whichever is faster, checks again less often while the choice
holds, cuts short a check that is far slower, and holds one thread only inside a stretch."""
import nn.core.blas_choice as bc
from nn.core.blas_choice import FIRST_INTERVAL, PROBE_STEPS, BlasChoice


def feed(choice: BlasChoice, steps: int, one: float, many: float) -> list[bool]:
    """Run ``steps`` steps taking ``one`` or ``many`` seconds by the setting in force; the
    settings in force, step by step."""
    seen = []
    for _ in range(steps):
        seen.append(choice.one)
        choice.timed(one if choice.one else many)
    return seen


def test_it_moves_to_one_thread_when_that_is_faster_and_back_when_it_is_not(monkeypatch):
    holds = []
    monkeypatch.setattr(bc, "one_blas_thread", lambda: _Hold(holds))
    choice = BlasChoice(active=True)
    with choice:
        seen = feed(choice, PROBE_STEPS + PROBE_STEPS, one=1.0, many=3.0)
        assert seen[:PROBE_STEPS] == [False] * PROBE_STEPS         # the default first
        assert seen[PROBE_STEPS:] == [True] * PROBE_STEPS          # then the check of one thread
        assert choice.one and not choice.probing                   # kept
        assert holds == ["on"]
        feed(choice, FIRST_INTERVAL + 2 * PROBE_STEPS + 4096, one=3.0, many=1.0)   # the load went away
        assert not choice.one
        assert holds[-1] == "off"              # back to the default (checks of one thread since)
    assert len(holds) >= 2 and holds == ["on", "off"] * (len(holds) // 2)


def test_a_confirmed_choice_is_checked_half_as_often():
    choice = BlasChoice(active=True)
    seen = feed(choice, 3000, one=2.0, many=1.0)
    checks = [i for i in range(1, len(seen)) if seen[i] and not seen[i - 1]]
    gaps = [b - a for a, b in zip(checks, checks[1:])]
    assert len(checks) >= 4 and all(b > a for a, b in zip(gaps, gaps[1:]))
    assert seen.count(True) <= PROBE_STEPS * len(checks)      # each check at most PROBE_STEPS steps


def test_a_far_slower_check_ends_early():
    choice = BlasChoice(active=True)
    seen = feed(choice, PROBE_STEPS + 3, one=100.0, many=1.0)      # one step of 100 > 16 of 1
    assert seen[PROBE_STEPS:] == [True, False, False]


def test_an_inactive_choice_never_switches():
    choice = BlasChoice(active=False)
    assert feed(choice, 500, one=0.1, many=5.0) == [False] * 500


class _Hold:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def __enter__(self) -> None:
        self.log.append("on")

    def __exit__(self, *exc: object) -> None:
        self.log.append("off")
