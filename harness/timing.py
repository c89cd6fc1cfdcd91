"""The only clock the harness reads: every reading is preceded by the device's `sync()`
(docs/benchmarks.md §7)."""

from __future__ import annotations

import time
from typing import Callable


class Stopwatch:
    """Lap timer whose every reading first waits for the device.

    An asynchronous framework returns before its GPU work is done; reading a clock without
    synchronising would time the queueing, not the work. Going through `lap()` makes the
    sync impossible to forget.
    """

    def __init__(self, sync: Callable[[], None],
                 clock: Callable[[], float] | None = None) -> None:
        self._sync = sync
        self._clock = clock or time.perf_counter
        self._sync()
        self._last = self._clock()

    def lap(self) -> float:
        """Seconds since the previous reading, after synchronising the device."""
        self._sync()
        now = self._clock()
        elapsed, self._last = now - self._last, now
        return elapsed
