"""A search worker in a background thread of the app: started from the page, stopped with a button.

The study storage holds every finished trial, so the page reads results from the study,
not from the job; the job only says how far this app's own worker got.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

import optuna

from nnviz.jobs import search
from nnviz.jobs.background import BackgroundJob, Registry
from nnviz.jobs.search import SearchSpec


@dataclass
class SearchJob(BackgroundJob):
    """A search worker in a background thread of the app; the study storage holds its results."""

    id: str
    url: str
    study: str
    n_trials: int
    status: str = "running"
    message: str = ""
    done: int = 0
    checkpoint: str = ""
    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


_jobs: Registry[SearchJob] = Registry()


def start_search(url: str, name: str, n_trials: int, spec: SearchSpec | None = None) -> SearchJob:
    """Create or join study `name` and run `n_trials` trials in a daemon thread."""
    search.open_study(url, name, spec)  # create it (and surface storage / spec errors) in the caller's thread
    job = SearchJob(f"{name}-{os.urandom(3).hex()}", url, name, n_trials)

    def work() -> None:
        def on_trial(trial: optuna.trial.FrozenTrial) -> None:
            job.done += 1

        out = search.run_worker(url, name, n_trials, stop_event=job.stop_event, on_trial=on_trial)
        job.checkpoint = out["checkpoint"]
        if out["stopped"]:
            job.set_status("stopped", "Stopped; finished trials are kept in the study.")
        else:
            job.set_status("finished")

    job.launch("search", work, _jobs)
    return job


def get_search(job_id: str) -> SearchJob | None:
    return _jobs.get(job_id)


def active_searches() -> list[SearchJob]:
    """Searches running now in this process (for the sidebar's indicator)."""
    return _jobs.active()


def stop_all(timeout: float = 5.0) -> None:
    _jobs.stop_all(timeout)
