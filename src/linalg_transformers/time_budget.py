"""Training for a wall-clock budget: a warmup-stable-decay rate whose decay is timed, and the stops that end it.

A lent accelerator comes for a fixed number of minutes, and its speed on a given model is not known before the run
starts, so a step count cannot be chosen in advance. `TimeBudgetSchedule` makes the learning-rate schedule a function
of elapsed time instead: a linear warmup over the first ``warmup_steps`` steps, then the full rate until
``1 - decay_fraction`` of the budget has passed, then a linear decay to ``min_lr_ratio`` of the rate as the budget
runs out, when `DeadlineCallback` stops training (and asks for a checkpoint). The run therefore ends decayed,
whatever its speed, which is the copy a release publishes (docs/training.md#time-budget).

A run that continues across sessions wants the other stop: `Deadline` and `DeadlineCallback` end this process's
training after a number of seconds, with a checkpoint, and leave the configured schedule alone (a warmup-stable-decay
rate stays in its stable phase), so that the next session resumes exactly there
(docs/training.md#continuing-across-sessions).

The clock starts when training begins (`on_train_begin`) and counts this process only: a resumed run gets a fresh
budget. The clock is injectable, so tests run on a fake one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR
from transformers import TrainerCallback

__all__ = ["Deadline", "DeadlineCallback", "TimeBudgetSchedule"]


@dataclass
class Deadline:
    """A wall-clock allowance for this process's training: ``seconds`` from the moment training begins.

    Args:
        seconds (`float`): The allowance, in seconds of wall-clock time from the start of training.
        clock (`Callable[[], float]`, *optional*): Seconds from an arbitrary origin; `time.monotonic` by default.
    """

    seconds: float
    clock: Callable[[], float] = field(default=time.monotonic, kw_only=True)
    started_at: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise ValueError(f"the time budget must be > 0 seconds; got {self.seconds!r}")

    def start(self) -> None:
        """Start the clock (training begins)."""
        self.started_at = self.clock()

    def elapsed(self) -> float:
        """Seconds since `start`, 0 before it."""
        return 0.0 if self.started_at is None else self.clock() - self.started_at

    def spent(self) -> bool:
        """Whether the allowance has run out."""
        return self.elapsed() >= self.seconds


@dataclass
class TimeBudgetSchedule(Deadline):
    """A warmup-stable-decay learning-rate factor whose stable and decay phases are measured in seconds.

    Args:
        seconds (`float`): The training budget, in seconds of wall-clock time from the start of training.
        warmup_steps (`int`, *optional*, defaults to 0): Steps of linear warmup (counted in steps, as usual).
        decay_fraction (`float`, *optional*, defaults to 0.1): Share of the budget, at its end, spent decaying.
        min_lr_ratio (`float`, *optional*, defaults to 0.01): The factor reached when the budget is spent.
        clock (`Callable[[], float]`, *optional*): Seconds from an arbitrary origin; `time.monotonic` by default.
    """

    warmup_steps: int = 0
    decay_fraction: float = 0.1
    min_lr_ratio: float = 0.01

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.decay_fraction <= 1.0:
            raise ValueError(f"decay_fraction must be in (0, 1]; got {self.decay_fraction!r}")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError(f"min_lr_ratio must be in [0, 1]; got {self.min_lr_ratio!r}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0; got {self.warmup_steps!r}")

    def factor(self, step: int) -> float:
        """The learning-rate factor at optimizer step ``step`` and the current time.

        Args:
            step (`int`): Optimizer steps taken so far (what `LambdaLR` passes).

        Returns:
            `float`: ``(step + 1) / warmup_steps`` during warmup, times 1 in the stable phase, falling linearly
            to ``min_lr_ratio`` over the last ``decay_fraction`` of the budget.
        """
        warm = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps else 1.0
        left = max(0.0, 1.0 - self.elapsed() / self.seconds)  # share of the budget still to run
        if left >= self.decay_fraction:
            return warm
        return warm * (self.min_lr_ratio + (1.0 - self.min_lr_ratio) * left / self.decay_fraction)

    def scheduler(self, optimizer: Optimizer) -> LambdaLR:
        """A `LambdaLR` over ``optimizer`` that follows `factor`."""
        return LambdaLR(optimizer, self.factor)


class DeadlineCallback(TrainerCallback):
    """Starts a `Deadline`'s clock when training begins, and stops training (with a save) when it is spent.

    The stop comes at the end of the first optimizer step past the deadline; the Trainer then evaluates (when the
    run evaluates at all, so that its curve has a point where it stopped) and saves a checkpoint (with the
    optimizer, scheduler and data-stream state), so that resuming continues from that step.

    Args:
        schedule (`Deadline`): The allowance (a `TimeBudgetSchedule` shares it with the learning-rate scheduler).
    """

    def __init__(self, schedule: Deadline) -> None:
        self.schedule = schedule
        self.stopped_at_step: int | None = None

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: D102
        self.schedule.start()

    def on_step_end(self, args, state, control, **kwargs):  # noqa: D102
        if self.schedule.spent() and self.stopped_at_step is None:
            self.stopped_at_step = state.global_step
            control.should_training_stop = True
            control.should_save = True
            evaluates = args is not None and args.eval_strategy != "no"
            control.should_evaluate = control.should_evaluate or evaluates
        return control
