"""Lessons: the registry, the pages reproduce each lab step exactly, the offline fallback, and a tiny fit."""
from __future__ import annotations

import dataclasses
import json
import re

import pytest

from nnviz.config import RunConfig
from nnviz.data import load
from nnviz.teaching import lessons
from nnviz.training.train import fit, init_model
from nnviz.ui import classification_config as cc
from nnviz.ui import regression_settings as rs
from tests.unit.fixtures_data import write_mnist_like

LAB_STEPS = [(lesson.id, i, step) for lesson in lessons.LESSONS.values() for i, step in enumerate(lesson.steps)
             if step.config is not None]


def _unnamed(cfg: RunConfig) -> RunConfig:
    return dataclasses.replace(cfg, name="")


def test_registry_has_the_course_experiments_with_two_lines_each():
    assert set(lessons.LESSONS) == {"linear_regression", "sigmoid_mlp", "l2_dropout", "kfold_grid", "fashion_cnn",
                                    "mnist_cnn", "activation_depth", "train_fraction", "optimizer_race",
                                    "xor_hidden_layer", "spiral_depth_features", "class_canvas"}
    for lesson_id, lesson in lessons.LESSONS.items():
        assert re.fullmatch(r"[a-z0-9_]+", lesson_id), "ids go into URLs"
        assert len(lesson.look_for) == 2 and all(len(line) > 40 for line in lesson.look_for)
        assert lesson.steps and all(step.caption for step in lesson.steps)


def test_lessons_use_the_course_presets_and_settings():
    linear = lessons.get("linear_regression").steps[0]
    assert linear.config.preset == "linear" and linear.config.model.hidden == ()
    assert not linear.autostart, "the untrained line is the point of the first screen"
    sigmoid = lessons.get("sigmoid_mlp").steps[0].config
    assert sigmoid.model.hidden == (100,) and sigmoid.model.activation == "sigmoid"
    assert sigmoid.data.function == "course" and sigmoid.data.n_train == 100
    reg = [s.config for s in lessons.get("l2_dropout").steps]
    assert [(c.train.weight_decay, c.model.dropout) for c in reg] == [(0.0, 0.0), (1e-3, 0.0), (0.0, 0.1)]
    assert {c.model.hidden for c in reg} == {(128, 128)}, "only the regulariser changes between the steps"
    assert lessons.get("kfold_grid").steps[0].config.train.kfold == 5
    assert lessons.get("fashion_cnn").dataset == "fashion_mnist"
    assert [s.page for s in lessons.get("mnist_cnn").steps] == ["classification", "inside", "inside"]


def test_sweep_lessons_name_sweeps_the_experiments_page_knows():
    search = pytest.importorskip("nnviz.jobs.search")
    sweeps = {s.sweep for lesson in lessons.LESSONS.values() for s in lesson.steps if s.sweep}
    assert sweeps == {"activation_depth", "train_fraction", "optimizers"}
    assert sweeps <= set(search.SWEEPS)
    assert lessons.get("activation_depth").dataset == "cifar10"


def test_the_grid_search_step_is_learning_rate_by_epochs_with_cross_validation():
    search = pytest.importorskip("nnviz.jobs.search")
    from nnviz.model.params import quick_base

    step = lessons.get("kfold_grid").steps[1]
    space = json.loads(step.space)
    assert set(space) == {"lr", "epochs"} and len(search.grid_points(space)) == 9
    spec = search.SearchSpec(base=quick_base(step.dataset), space=space, sampler="grid", kfold=step.kfold)
    assert spec.kfold == 3  # the spec validated every grid point against the base config


def test_unknown_lesson_names_the_known_ones():
    with pytest.raises(KeyError, match="linear_regression"):
        lessons.get("nope")


def test_a_step_without_what_its_page_needs_is_refused():
    with pytest.raises(ValueError, match="needs a config"):
        lessons.Step("regression", "x")
    with pytest.raises(ValueError, match="sweep"):
        lessons.Step("experiments", "x", sweep="optimizers")
    with pytest.raises(ValueError, match="unknown page"):
        lessons.Step("nowhere", "x")


@pytest.mark.parametrize("lesson_id,index,step", [s for s in LAB_STEPS if s[2].page == "regression"],
                         ids=[f"{s[0]}-{s[1]}" for s in LAB_STEPS if s[2].page == "regression"])
def test_regression_page_settings_rebuild_the_lesson_config_exactly(lesson_id, index, step):
    settings = rs.settings_from_config(step.config)
    assert _unnamed(rs.run_config(settings)) == _unnamed(step.config)


@pytest.mark.parametrize("lesson_id,index,step", [s for s in LAB_STEPS if s[2].page == "classification"],
                         ids=[f"{s[0]}-{s[1]}" for s in LAB_STEPS if s[2].page == "classification"])
def test_classification_page_settings_rebuild_the_lesson_config_exactly(lesson_id, index, step):
    settings = cc.settings_from_config(step.config)
    assert _unnamed(cc.run_config(settings)) == _unnamed(step.config)


def test_missing_sets_fall_back_to_their_embedded_samples_and_say_so(tmp_path, monkeypatch):
    monkeypatch.setenv("NNVIZ_DATA_DIR", str(tmp_path))  # an empty data folder: nothing downloaded
    monkeypatch.delenv(lessons.EPOCH_CAP_ENV, raising=False)
    fashion = lessons.resolve(lessons.get("fashion_cnn"))
    assert fashion.steps[0].config.data.dataset == "fashion_mnist_sample"
    assert "Fashion-MNIST is not on this machine" in fashion.note and "Fashion-MNIST sample" in fashion.note
    assert fashion.steps[0].config.model == lessons.get("fashion_cnn").steps[0].config.model, "same model"
    mnist = lessons.resolve(lessons.get("mnist_cnn"))
    assert mnist.steps[0].config.data.dataset == "mnist_sample" and "MNIST sample" in mnist.note
    assert lessons.resolve(lessons.get("optimizer_race")).steps[0].dataset == "mnist_sample"
    cifar = lessons.resolve(lessons.get("activation_depth"))
    assert cifar.steps[0].dataset == "digits" and "CIFAR-10" in cifar.note
    regression = lessons.get("sigmoid_mlp")
    assert lessons.resolve(regression) is regression and not regression.note


def test_a_present_set_is_kept(tmp_path, monkeypatch):
    monkeypatch.delenv(lessons.EPOCH_CAP_ENV, raising=False)
    write_mnist_like(tmp_path, "fashion_mnist")
    monkeypatch.setenv("NNVIZ_DATA_DIR", str(tmp_path))
    fashion = lessons.resolve(lessons.get("fashion_cnn"))
    assert fashion.steps[0].config.data.dataset == "fashion_mnist" and fashion.note == ""
    assert lessons.resolve(lessons.get("mnist_cnn")).steps[0].config.data.dataset == "mnist_sample"


def test_epoch_cap_for_quick_checks(tmp_path, monkeypatch):
    monkeypatch.setenv("NNVIZ_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(lessons.EPOCH_CAP_ENV, "2")
    capped = lessons.resolve(lessons.get("sigmoid_mlp"))
    assert capped.steps[0].config.train.epochs == 2
    assert lessons.get("sigmoid_mlp").steps[0].config.train.epochs == 400, "the registry is untouched"


@pytest.mark.parametrize("lesson_id,index,step", LAB_STEPS, ids=[f"{s[0]}-{s[1]}" for s in LAB_STEPS])
def test_every_lab_step_trains_offline(lesson_id, index, step, tmp_path, monkeypatch):
    """One batch of every lesson run, on the data it falls back to with nothing downloaded."""
    monkeypatch.setenv("NNVIZ_DATA_DIR", str(tmp_path))
    monkeypatch.delenv(lessons.EPOCH_CAP_ENV, raising=False)
    cfg = lessons.resolve(lessons.get(lesson_id)).steps[index].config
    data = load(cfg.data)
    train = dataclasses.replace(cfg.train, epochs=1, max_steps=1, kfold=0, device="cpu")
    history = fit(init_model(cfg.model, data, train.seed), data, train)
    last = history.last()
    assert history.status == "finished" and last["epoch"] == 1
    assert last["train_loss"] == last["train_loss"], "not NaN"
