"""Slow motion: a cap on epochs per second, for runs and sweeps a class should be able to watch.

`Tempo` is a `fit()` callback that pauses between epochs, after the epoch's record has gone
to every other callback (the live view shows it during the pause). It never touches the
computation, so a slowed run has the same numbers as a fast one. The pause waits on the
run's stop event: Stop ends it at once. The rate may change while the run trains (a
teacher slows down the part worth watching); 0 is full speed.
"""
from __future__ import annotations

import threading
import time

from nnviz.training.train import Callback, TrainState

CHOICES = (0.0, 20.0, 10.0, 5.0, 2.0, 1.0, 0.5)  # epochs per second offered by the pages; 0 is full speed
_SLICE_S = 0.1  # a pause re-reads the rate this often, so a change applies within the pause


def label(epochs_per_s: float) -> str:
    """'full speed' or '2 epochs/s' (for widgets)."""
    if epochs_per_s <= 0:
        return "full speed"
    return f"{epochs_per_s:g} epoch{'' if epochs_per_s == 1 else 's'}/s"


class Tempo(Callback):
    """At most `epochs_per_s` epochs a second (0: no cap), by pausing after each epoch.

    Register it after the callbacks that publish an epoch, so the pause shows the epoch just done.
    """

    def __init__(self, epochs_per_s: float = 0.0, stop_event: threading.Event | None = None) -> None:
        self.epochs_per_s = float(epochs_per_s)
        self.stop_event = stop_event if stop_event is not None else threading.Event()
        self._last: float | None = None  # monotonic time the previous epoch was released
        self.paused_s = 0.0  # total time spent pausing (benchmarks, tests)

    def on_train_begin(self, state: TrainState) -> None:
        self._last = None

    def on_epoch_end(self, state: TrainState, record: dict[str, float]) -> None:
        if self._last is not None:
            started = time.monotonic()
            while not self.stop_event.is_set():
                rate = self.epochs_per_s
                left = (self._last + 1.0 / rate - time.monotonic()) if rate > 0 else 0.0
                if left <= 0:
                    break
                self.stop_event.wait(min(left, _SLICE_S))
            self.paused_s += time.monotonic() - started
        self._last = time.monotonic()
