"""What every background job shares (training runs, sweeps, searches): stop, wait, a per-process
registry to find, list and stop them, and the process's cap on how many train at once."""
from __future__ import annotations

import contextlib
import os
import threading
from typing import Callable, ClassVar, Generic, Iterator, Protocol, TypeVar


class TrainingSlots:
    """At most `n` trainings at once in this process; the others wait, stoppable, in turn."""

    def __init__(self, n: int) -> None:
        self.n, self._busy = n, 0
        self._free = threading.Condition()

    @property
    def free(self) -> int:
        with self._free:
            return self.n - self._busy

    @contextlib.contextmanager
    def hold(self, stop_event: threading.Event | None = None, poll_s: float = 0.2) -> Iterator[bool]:
        """Hold a slot for the block; yields False (holding none) if `stop_event` is set while waiting."""
        with self._free:
            while self._busy >= self.n:
                if stop_event is not None and stop_event.is_set():
                    break
                self._free.wait(poll_s)
            got = self._busy < self.n and not (stop_event is not None and stop_event.is_set())
            if got:
                self._busy += 1
        try:
            yield got
        finally:
            if got:
                with self._free:
                    self._busy -= 1
                    self._free.notify()


TRAINING_SLOTS = TrainingSlots(int(os.environ.get("NNVIZ_MAX_CONCURRENT_RUNS", "2")))  # beyond this, runs queue


def failure_message(exc: BaseException) -> str:
    """One line for the page from an exception that ended a job."""
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


class BackgroundJob:
    """Mixin for a job that works in `self.thread` and stops when `self.stop_event` is set.

    The lifecycle every job shares: `launch()` registers it and starts its thread; its status goes
    queued -> running -> finished | stopped | failed through `set_status()` (a job with a folder also
    writes it there); an exception escaping the job's work fails it with `failure_message`."""

    ACTIVE_STATES: ClassVar[tuple[str, ...]] = ("queued", "running")
    id: str
    status: str
    message: str
    stop_event: threading.Event
    thread: threading.Thread | None

    @property
    def active(self) -> bool:
        return self.status in self.ACTIVE_STATES

    def set_status(self, status: str, message: str = "") -> None:
        """The job's state and a sentence for the user; subclasses also persist it."""
        self.status, self.message = status, message

    def launch(self, kind: str, work: Callable[[], None], registry: "Registry") -> None:
        """Register the job and run `work` in a daemon thread named nnviz-<kind>-<id>."""
        def guarded() -> None:
            try:
                work()
            except Exception as exc:  # the page shows the reason; the thread must not die silently
                self.set_status("failed", failure_message(exc))

        registry.add(self.id, self)
        self.thread = threading.Thread(target=guarded, name=f"nnviz-{kind}-{self.id}", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Ask the job to stop; its loop sees it within one batch."""
        self.stop_event.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the thread ends; True if it did."""
        if self.thread is not None:
            self.thread.join(timeout)
            return not self.thread.is_alive()
        return True


class _Job(Protocol):
    @property
    def active(self) -> bool: ...
    def stop(self) -> None: ...
    def wait(self, timeout: float | None = None) -> bool: ...


J = TypeVar("J", bound=_Job)


class Registry(Generic[J]):
    """The jobs of one kind started in this process, by id; safe to use from any thread."""

    def __init__(self) -> None:
        self._jobs: dict[str, J] = {}
        self._lock = threading.Lock()

    def add(self, job_id: str, job: J) -> None:
        with self._lock:
            self._jobs[job_id] = job

    def get(self, job_id: str) -> J | None:
        with self._lock:
            return self._jobs.get(job_id)

    def forget(self, job_id: str) -> None:
        """Drop a job from the registry (its folder stays): what a server restart does."""
        with self._lock:
            self._jobs.pop(job_id, None)

    def active(self) -> list[J]:
        with self._lock:
            return [j for j in self._jobs.values() if j.active]

    def stop_all(self, timeout: float = 5.0) -> None:
        """Stop every job and wait for their threads (tests, shutdown)."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.stop()
        for job in jobs:
            job.wait(timeout)
