"""Slow motion: a cap on epochs per second that never changes the numbers and never delays a Stop.

How long a slowed optimizer race lasts is measured by benchmarks/tempo.py, not asserted here.
"""
from __future__ import annotations

from nnviz.config import DataConfig, ModelConfig, RunConfig, TrainConfig, replace
from nnviz.data import load
from nnviz.jobs import runs, sweeps
from nnviz.model.params import quick_base
from nnviz.training import tempo
from nnviz.training.train import fit, init_model
from tests.waiting import GENEROUS_S, wait_until

TIMING = ("seconds", "elapsed", "samples_per_s")
CRAWL = 0.001  # epochs per second: one epoch every 1000 s, far beyond any test's timeout


def reg_config(epochs: int = 4) -> RunConfig:
    return RunConfig(data=DataConfig(dataset="regression"), model=ModelConfig(hidden=(16,), activation="tanh"),
                     train=TrainConfig(device="cpu", batch_size=16, epochs=epochs, seed=3), name="tempo")


def numbers(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


def test_a_slowed_run_has_the_same_history_as_a_full_speed_one():
    cfg = reg_config()
    data = load(cfg.data)
    fast = fit(init_model(cfg.model, data, cfg.train.seed), data, cfg.train)
    slow_motion = tempo.Tempo(epochs_per_s=40.0)
    slow = fit(init_model(cfg.model, data, cfg.train.seed), data, cfg.train, [slow_motion])
    assert slow.status == fast.status == "finished"
    assert numbers(slow.epochs) == numbers(fast.epochs) and slow.batch_losses == fast.batch_losses
    assert len(slow.epochs) == cfg.train.epochs + 1


def test_stop_ends_a_slowed_run_during_its_pause(tmp_path):
    run = runs.start(reg_config(epochs=50), tmp_path, epochs_per_s=CRAWL)
    wait_until(lambda: len(run.view().history) >= 2, what="epoch 1 of the slowed run")
    run.stop()  # epoch 2 would come only after 1000 s: the pause must give way to the stop
    assert run.wait(GENEROUS_S), "Stop did not end the slowed run"
    view = run.view()
    assert view.status == "stopped" and [int(r["epoch"]) for r in view.history] == [0, 1]


def test_the_rate_can_change_while_the_run_pauses(tmp_path):
    run = runs.start(reg_config(epochs=6), tmp_path, epochs_per_s=CRAWL)
    wait_until(lambda: len(run.view().history) >= 2, what="epoch 1 of the slowed run")
    assert run.active and len(run.view().history) == 2  # held at epoch 1 by the pause
    run.tempo.epochs_per_s = 0.0  # full speed from now on
    assert run.wait(GENEROUS_S), "the run did not speed up"
    assert run.status == "finished" and len(run.view().history) == 7


def test_a_slowed_sweep_stops_during_its_pause_and_shows_the_point_in_flight(nnviz_dirs):
    base = quick_base("digits", epochs=30)
    base = replace(base, train=replace(base.train, max_steps=2))
    job = sweeps.start_sweep("optimizers", base, epochs_per_s=CRAWL)
    wait_until(lambda: len(job.view()["current_rows"]) >= 2, what="epoch 1 of the first point")
    view = job.view()
    assert view["current"] == "SGD" and view["results"] == []
    job.stop()
    assert job.wait(GENEROUS_S), "Stop did not end the slowed sweep"
    assert job.view()["status"] == "stopped"


def test_labels():
    assert tempo.label(0) == "full speed" and tempo.label(1) == "1 epoch/s" and tempo.label(2) == "2 epochs/s"
    assert tempo.CHOICES[0] == 0 and all(c > 0 for c in tempo.CHOICES[1:])
