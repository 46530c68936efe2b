"""The shared background-job mechanics: stop, wait and the per-process registry."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from nnviz.jobs.background import BackgroundJob, Registry


@dataclass
class Sleeper(BackgroundJob):
    status: str = "running"
    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> "Sleeper":
        def work() -> None:
            self.stop_event.wait(10)
            self.status = "stopped"

        self.thread = threading.Thread(target=work, daemon=True)
        self.thread.start()
        return self


def test_registry_lists_active_jobs_and_stops_them_all():
    jobs: Registry[Sleeper] = Registry()
    a, b = Sleeper().start(), Sleeper().start()
    jobs.add("a", a)
    jobs.add("b", b)
    assert jobs.get("a") is a and jobs.get("missing") is None
    assert set(map(id, jobs.active())) == {id(a), id(b)}
    jobs.stop_all(timeout=5)
    assert not a.thread.is_alive() and not b.thread.is_alive()
    assert a.status == b.status == "stopped" and jobs.active() == []
    jobs.forget("a")
    assert jobs.get("a") is None and jobs.get("b") is b


def test_wait_without_a_thread_is_done_and_queued_counts_as_active():
    job = Sleeper(status="queued")
    assert job.active and job.wait(0)
    job.status = "finished"
    assert not job.active
