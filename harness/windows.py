"""How a training epoch is cut into timed windows (docs/benchmarks.md §7): the one home of the
rule and its constants.

Both rules make a plan per epoch with one interface (`rule.plan(...)`): iterate it for the next
window of sample indices (or EVALUATE), call `took(seconds)` after timing each window; `steady[i]`
then says whether window i is in the steady state and `describe()` what the rule decided.

`Fixed(count)` cuts every epoch into `count` equal runs of whole batches, the same cuts for every
framework; the first window of the first epoch is the warm-up (the `full` profile: every sample
of every epoch is trained).

`Adaptive` (the `quick` profile, one epoch) measures until the figure is good enough, the way
asv and pytest-benchmark calibrate their rounds, while what is trained before the accuracy is
measured stays fixed:
1. Warm-up probe: one-step windows until two consecutive steps agree within `agree` (an eager
   framework after two or three steps, a compiling one after its compile), at most
   `max_probe_steps`.
2. Steady windows of `w` steps, `w` the fewest whose time reaches `min_window_s` at the probe's
   last step time (so that one window's clock and sync overhead is noise), and small enough for
   `last + 1` windows in the steps left. A framework that compiles per window length (a `lax.scan`
   over the window) compiles again in the first window of `w` steps, so that window is warm-up too
   unless it agrees with the next one (w = 1: the probe already ran that length).
3. The accuracy is measured (`predict`, untimed) after exactly `eval_steps` steps, whatever the
   clock did, so that it is the same in every process and comparable between rows; the window
   that would cross that step is cut short there and is in no figure.
4. From then on, stop after a window once the last `last` steady windows lie within `spread` of
   their median (min-max), or once the steady windows add up to `max_steady_s` (at least `last`
   of them), or when no whole window of `w` steps is left in the epoch. The samples after the stop
   are not trained (`steps_run` says how many steps were).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Fixed:
    """Every epoch cut into `count` equal runs of whole batches (the last takes any left over)."""

    count: int = 1

    def describe(self) -> dict[str, Any]:
        return {"rule": "fixed", "count": self.count}

    def plan(self, order: np.ndarray, batch_size: int, first_epoch: bool) -> FixedPlan:
        return FixedPlan(self, order, batch_size, first_epoch)


@dataclass(frozen=True)
class Adaptive:
    """Windows until the steady figure is known to `spread` (module docstring)."""

    min_window_s: float = 1.0  # a steady window lasts at least this long (at the probe's pace)
    agree: float = 0.25  # two windows of one length agree: the slower within 25% of the faster
    last: int = 3  # the steady windows judged together; never fewer steady windows than this
    spread: float = 0.05  # stop when their (max - min) / median is at most this
    eval_steps: int = 20  # the accuracy is measured after exactly this many steps (or the epoch)
    max_steady_s: float = 20.0  # stop at this much steady time even if the spread is wider
    max_probe_steps: int = 10  # the warm-up probe's cap (the old fixed first window's length)

    def describe(self) -> dict[str, Any]:
        return {"rule": "adaptive", **asdict(self)}

    def plan(self, order: np.ndarray, batch_size: int, first_epoch: bool) -> AdaptivePlan:
        if not first_epoch:
            raise ValueError("adaptive windows time a single epoch")
        return AdaptivePlan(self, order, batch_size)


WindowRule = Fixed | Adaptive


def windows_of(order: np.ndarray, batch_size: int, windows: int) -> list[np.ndarray]:
    """An epoch's permutation cut into `windows` contiguous runs of whole batches, in order (the
    last takes any batches left over), so a window is timed on its own while every framework
    still sees exactly the epoch's samples in the epoch's order."""
    steps = len(order) // batch_size
    windows = max(1, min(windows, steps))
    per = steps // windows
    cuts = [w * per * batch_size for w in range(windows)] + [steps * batch_size]
    return [order[a:b] for a, b in zip(cuts, cuts[1:])]


def agree(a: float, b: float, tolerance: float) -> bool:
    """Two window times agree when the slower is within `tolerance` of the faster."""
    return max(a, b) <= (1 + tolerance) * max(min(a, b), 1e-12)


def spread_of(seconds: list[float]) -> float:
    """(max - min) / median of window times (or of rates: the same ratio up to second order)."""
    middle = statistics.median(seconds)
    return (max(seconds) - min(seconds)) / max(middle, 1e-12)


@dataclass
class FixedPlan:
    """One epoch of a fixed rule: its windows are known up front; only the first window of the
    first epoch is warm-up."""

    rule: Fixed
    order: np.ndarray
    batch_size: int
    first_epoch: bool
    laps: list[float] = field(default_factory=list)
    steady: list[bool] = field(default_factory=list)

    def __iter__(self) -> Iterator[np.ndarray]:
        for index, window in enumerate(windows_of(self.order, self.batch_size, self.rule.count)):
            self.steady.append(not (self.first_epoch and index == 0))
            yield window

    def took(self, seconds: float) -> None:
        self.laps.append(seconds)

    def describe(self) -> dict[str, Any]:
        return self.rule.describe()


class Evaluate:
    """What an adaptive plan yields when the accuracy is to be measured (`predict`, untimed)."""


EVALUATE = Evaluate()


@dataclass
class AdaptivePlan:
    """The windows of one adaptive epoch, chosen as it runs: iterate for the next window (or
    EVALUATE), call `took(seconds)` after timing each window. `steady[i]`: whether window i is
    part of the steady state."""

    rule: Adaptive
    order: np.ndarray
    batch_size: int
    laps: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)  # steps in each window
    steady: list[bool] = field(default_factory=list)
    window_steps: int | None = None  # w, once chosen
    evaluated_after: int | None = None  # steps trained when the accuracy was measured
    converged: bool = False
    stopped_by: str = ""

    @property
    def steps(self) -> int:
        return len(self.order) // self.batch_size

    @property
    def steps_run(self) -> int:
        return sum(self.sizes)

    @property
    def steady_laps(self) -> list[float]:
        return [lap for lap, counted in zip(self.laps, self.steady) if counted]

    @property
    def warmup_windows(self) -> int:
        """The windows before the first steady one."""
        return self.steady.index(True) if True in self.steady else len(self.steady)

    def took(self, seconds: float) -> None:
        self.laps.append(seconds)

    def _window(self, size: int, steady: bool) -> np.ndarray:
        start = self.steps_run * self.batch_size
        self.sizes.append(size)
        self.steady.append(steady)
        return self.order[start:start + size * self.batch_size]

    def __iter__(self) -> Iterator[np.ndarray | Evaluate]:
        rule = self.rule
        evaluate_at = min(rule.eval_steps, self.steps)
        # 1. the warm-up probe, one step a window, never past the accuracy's step count
        while True:
            yield self._window(1, False)
            probe = self.laps
            if len(probe) >= 2 and agree(probe[-1], probe[-2], rule.agree):
                break
            if len(probe) >= rule.max_probe_steps or evaluate_at - self.steps_run <= 1:
                break
        left = self.steps - self.steps_run
        w = max(1, math.ceil(rule.min_window_s / max(self.laps[-1], 1e-9)))
        w = min(w, max(1, left // (rule.last + 1)))
        self.window_steps = w
        # 2. windows of w steps; the first is warm-up unless w == 1 (the probe ran that length)
        #    or it agrees with the next
        first_w: int | None = None
        while self.steps_run < self.steps:
            if self.evaluated_after is None and self.steps_run >= evaluate_at:
                self.evaluated_after = self.steps_run
                yield EVALUATE
                if self._enough():
                    return
            size = w
            if self.evaluated_after is None and self.steps_run + w > evaluate_at:
                size = evaluate_at - self.steps_run  # a shorter window: not steady
            elif self.steps - self.steps_run < w:
                break  # no whole window left
            yield self._window(size, size == w and (w == 1 or first_w is not None))
            if size == w and first_w is None and w > 1:
                first_w = len(self.laps) - 1
            elif size == w and first_w is not None and first_w == len(self.laps) - 2 \
                    and agree(self.laps[first_w], self.laps[-1], rule.agree):
                self.steady[first_w] = True
            if self.evaluated_after is not None and self._enough():
                return
        if self.evaluated_after is None:
            self.evaluated_after = self.steps_run
            yield EVALUATE
        if first_w is not None and not any(self.steady):
            self.steady[first_w] = True  # a single window of w steps: it is the steady state
        self.converged = self._agreeing()
        self.stopped_by = "epoch's end"

    def _agreeing(self) -> bool:
        """Whether the last `last` steady windows lie within `spread` of their median."""
        steady = self.steady_laps
        return (len(steady) >= self.rule.last
                and spread_of(steady[-self.rule.last:]) <= self.rule.spread)

    def _enough(self) -> bool:
        """Whether the steady state is measured well enough to stop (sets why)."""
        if self._agreeing():
            self.converged, self.stopped_by = True, "spread"
            return True
        steady = self.steady_laps
        if len(steady) >= self.rule.last and sum(steady) >= self.rule.max_steady_s:
            self.stopped_by = "time cap"
            return True
        return False

    def describe(self) -> dict[str, Any]:
        """What the rule decided, for the record."""
        return {**self.rule.describe(), "warmup_windows": self.warmup_windows,
                "window_steps": self.window_steps, "steps_run": self.steps_run,
                "evaluated_after": self.evaluated_after, "steady_windows": sum(self.steady),
                "converged": self.converged, "stopped_by": self.stopped_by}
