"""Ready-made sweeps: the registry contract, headless runs, persistence point by point, stopping."""
from __future__ import annotations

import threading

import pytest

from nnviz.config import replace
from nnviz.figures.experiments import sweep_figure
from nnviz.jobs import search, sweeps
from nnviz.model.params import quick_base
from tests.waiting import GENEROUS_S, wait_until

CONTRACT_KEYS = {"optimizers", "activation_depth", "train_fraction", "learning_rate", "batch_size"}


def tiny(dataset: str = "digits"):
    base = quick_base(dataset, epochs=1)
    return replace(base, train=replace(base.train, max_steps=2))


def test_registry_has_the_contract_keys_with_titles_and_one_line_descriptions():
    assert search.SWEEPS is sweeps.SWEEPS and CONTRACT_KEYS <= set(sweeps.SWEEPS)
    for key, sweep in sweeps.SWEEPS.items():
        assert sweep.key == key and sweep.title and sweep.description and "\n" not in sweep.description
        assert len(sweep.points) >= 3


@pytest.mark.parametrize("dataset", ["digits", "regression"])
def test_every_point_of_every_sweep_is_a_valid_config(dataset):
    for key in sweeps.SWEEPS:
        points = sweeps.point_configs(key, dataset)
        assert len({label for label, _, _ in points}) == len(points)  # labels tell points apart
        assert len({cfg for _, _, cfg in points}) == len(points)  # and every point trains something else


def test_the_sweeps_vary_what_their_titles_say():
    opt = sweeps.point_configs("optimizers", "digits")
    assert [c.train.optimizer for _, _, c in opt] == ["sgd", "sgd", "adam", "rmsprop", "adadelta", "adagrad"]
    assert [c.train.momentum for _, _, c in opt][:2] == [0.0, 0.9]
    grid = sweeps.point_configs("activation_depth", "digits")
    assert {(c.model.activation, len(c.model.hidden)) for _, _, c in grid} == \
        {(a, d) for a in ("relu", "tanh", "sigmoid") for d in (1, 2, 3)}
    fractions = [c.data.train_fraction for _, _, c in sweeps.point_configs("train_fraction", "digits")]
    assert fractions == [0.2, 0.4, 0.6, 0.8, 1.0]
    lrs = [c.train.lr for _, _, c in sweeps.point_configs("learning_rate", "digits")]
    assert lrs == sorted(lrs) and lrs[0] == 1e-4 and lrs[-1] == 1.0


def test_the_training_set_curve_gives_every_share_the_same_number_of_updates():
    points = sweeps.point_configs("train_fraction", "digits", epochs=4)
    assert [c.train.epochs for _, _, c in points] == [20, 10, 7, 5, 4]  # 4 / share, rounded
    assert all(c.model == points[-1][2].model for _, _, c in points), "only the data and the epochs change"


@pytest.mark.parametrize("train,test,verdict", [(0.55, 0.52, "underfitting"), (0.60, 0.45, "underfitting"),
                                                (0.99, 0.90, "overfitting"), (0.97, 0.95, "good fit"),
                                                (None, 0.9, "")])
def test_fit_verdict_names_a_model_that_has_not_learnt_its_training_set_underfitting(train, test, verdict):
    assert sweeps.fit_verdict(train, test) == verdict


def test_headless_run_streams_results_and_persists_each_point(tmp_path):
    seen = []
    results = sweeps.run_sweep("train_fraction", tiny(), on_result=seen.append, folder=tmp_path)
    assert [r["label"] for r in results] == ["20%", "40%", "60%", "80%", "100%"] and seen == results
    n_train = [r["n_train"] for r in results]
    assert n_train == sorted(n_train) and n_train[0] < n_train[-1] / 4  # the training set really shrinks
    on_disk = [line for line in (tmp_path / "results.jsonl").read_text().splitlines() if line]
    assert len(on_disk) == 5
    assert all(r["status"] == "finished" and "val_acc" in r["final"] and r["history"][0]["epoch"] == 0
               for r in results)
    assert len(sweep_figure("train_fraction", results).data) == 3  # train / val / test against the fraction


def test_a_dataset_name_is_enough_to_run_a_sweep_from_python():
    out = list(sweeps.iter_sweep("batch_size", "digits", epochs=1))
    assert [r["params"]["batch_size"] for r in out] == [8, 32, 128, 512]


def test_a_stopped_background_sweep_keeps_its_finished_points(nnviz_dirs):
    job = sweeps.start_sweep("activation_depth", tiny())
    wait_until(lambda: len(job.view()["results"]) >= 2 or not job.active, what="two finished points")
    job.stop()
    assert job.wait(GENEROUS_S)
    view = job.view()
    assert view["status"] == "stopped" and 2 <= len(view["results"]) < 9
    saved = sweeps.read_sweep(job.dir)
    assert [r["label"] for r in saved["results"]] == [r["label"] for r in view["results"]]
    assert sweeps.list_sweeps(key="activation_depth")[0]["id"] == job.id


def test_a_sweep_whose_process_died_reads_as_interrupted(nnviz_dirs):
    job = sweeps.start_sweep("batch_size", tiny())
    assert job.wait(GENEROUS_S)
    status = job.dir / "status.json"
    status.write_text(status.read_text().replace('"finished"', '"running"'))
    sweeps._jobs.forget(job.id)  # as after a restart: the folder is all that is left
    assert sweeps.read_sweep(job.dir)["status"] == "interrupted"
    assert len(sweeps.read_sweep(job.dir)["results"]) == 4


def test_a_stop_before_the_first_point_yields_nothing():
    stop = threading.Event()
    stop.set()
    assert sweeps.run_sweep("optimizers", tiny(), stop_event=stop) == []


def test_unknown_sweep_key_is_refused():
    with pytest.raises(KeyError, match="unknown sweep"):
        sweeps.point_configs("nope")


def test_cli_sweep_refuses_a_bad_space_with_a_message(tmp_path, capsys):
    from nnviz import cli

    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert cli.main(["sweep", "--storage", url, "--study", "x", "--space", "{bad"]) == cli.EXIT_USAGE
    assert "--space is not valid JSON" in capsys.readouterr().err
    assert cli.main(["sweep", "--storage", url, "--study", "x", "--sampler", "grid",
                     "--space", '{"lr": {"low": 0.1, "high": 1}}']) == cli.EXIT_USAGE
    assert "grid search takes a list" in capsys.readouterr().err


def test_cli_sweep_runs_a_grid_in_process_and_prints_a_summary(tmp_path, capsys):
    import json

    from nnviz import cli

    url = f"sqlite:///{tmp_path / 'c.db'}"
    code = cli.main(["sweep", "--storage", url, "--study", "g", "--sampler", "grid", "--space", '{"lr": [0.001, 0.01]}',
                     "--epochs", "1", "--max-steps", "2", "--kfold", "2", "--json"])
    assert code == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert [row["state"] for row in lines[:-1]] == ["complete", "complete"]
    assert lines[-1]["states"]["complete"] == 2 and lines[-1]["checkpoint"].endswith("search-g-best.pt")


def test_a_background_sweep_shows_the_point_in_flight_epoch_by_epoch(nnviz_dirs):
    job = sweeps.start_sweep("optimizers", sweeps.base_config("digits", epochs=30))
    seen: list[tuple[str, int]] = []

    def three_views() -> bool:
        view = job.view()
        if view["current_rows"] and (view["current"], len(view["current_rows"])) not in seen:
            seen.append((view["current"], len(view["current_rows"])))
        return len(seen) >= 3

    wait_until(three_views, interval=0.01, what="three different live views of the point in flight")
    job.stop()
    assert job.wait(GENEROUS_S) and job.view()["status"] == "stopped"
    assert len(seen) >= 3 and seen[0][0] == "SGD"  # the live view grows while the first point trains
    assert [n for _, n in seen] == sorted(n for _, n in seen)
