"""nnviz.analysis.report: a self-contained HTML report of one run or a comparison of runs."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from nnviz.analysis import report
from nnviz.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from nnviz.jobs import runs

PLOTLY_DIV = re.compile(r'<div id="[0-9a-f-]+" class="plotly-graph-div"')


def _run(config: RunConfig, root: Path) -> runs.Run:
    run = runs.start(config, root)
    assert run.wait(120)
    assert run.status == "finished", run.message
    return run


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> dict[str, Path]:
    """A tiny regression run and a tiny digits run, trained once for the module."""
    root = tmp_path_factory.mktemp("runs")
    reg = _run(RunConfig(DataConfig(dataset="regression"), ModelConfig(hidden=(8,), activation="tanh"),
                         TrainConfig(device="cpu", epochs=4, batch_size=32), name="tiny regression"), root)
    cls = _run(RunConfig(DataConfig(dataset="digits"), ModelConfig(hidden=(16,), activation="relu"),
                         TrainConfig(device="cpu", epochs=2, max_steps=3), name="tiny digits"), root)
    return {"regression": reg.dir, "digits": cls.dir}


def test_one_regression_run(finished):
    page = report.build_report([finished["regression"]])
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert page.count("plotly.js v") == 1  # the library, inline, exactly once
    assert not re.search(r"<script[^>]+src=", page)  # nothing to fetch: opens offline
    assert len(PLOTLY_DIV.findall(page)) == 5  # loss, fit, residuals, weights, gradient norms
    assert "class Net(nn.Module)" in page and "nn.Linear(1, 8)" in page  # the model's code
    assert "&quot;activation&quot;: &quot;tanh&quot;" in page  # the config, escaped
    assert "tiny regression" in page and "Diagnostics" in page and "<th>test loss</th>" in page
    history = runs.read_view(finished["regression"]).history
    assert f"{history[-1]['test_loss']:.4g}" in page  # the final metrics table
    assert "grad_norm" in history[-1]  # the run recorded gradient norms for the report's figure


def test_classification_run_has_accuracy_and_confusion(finished):
    page = report.build_report([finished["digits"]])
    assert "Confusion matrix · test set · epoch 2" in page and "Accuracy" in page
    assert len(PLOTLY_DIV.findall(page)) == 6  # loss, accuracy, confusion, per-class scores, weights, gradients
    assert "Precision, recall and F1 per class" in page
    assert "nn.Linear(784, 16)" in page


def test_comparison_of_two_runs(finished):
    records = [runs.read_view(finished["regression"]), finished["digits"]]  # records and folders both work
    page = report.build_report(records, title="Two runs")
    assert "<title>Two runs</title>" in page and "<h2>Comparison</h2>" in page
    assert "1. tiny regression" in page and "2. tiny digits" in page
    assert "Validation loss per run" in page and "Validation accuracy per run" in page
    assert page.count("plotly.js v") == 1
    assert len(PLOTLY_DIV.findall(page)) == 2 + 5 + 6
    assert report.report_name(records) == "nnviz-2-runs-report.html"
    assert report.report_name([finished["digits"]]) == f"{finished['digits'].name}-report.html"


def test_synthetic_overfitting_run_without_its_data(tmp_path):
    """A run folder whose dataset is missing: the curves, diagnostics and code are still reported."""
    folder = tmp_path / "runs" / "20260101-000000-mnist-abcdef"
    folder.mkdir(parents=True)
    cfg = RunConfig(DataConfig(dataset="mnist", data_dir=str(tmp_path / "nothing")), ModelConfig(hidden=(32,)))
    (folder / "config.json").write_text(cfg.to_json())
    (folder / "status.json").write_text(json.dumps({"status": "finished", "message": ""}))
    e = np.arange(41)
    rows = [{"epoch": int(i), "train_loss": float(0.1 + np.exp(-i / 4)),
             "val_loss": float(0.3 + np.exp(-i / 4) + 0.02 * max(i - 12, 0)), "val_acc": 0.9} for i in e]
    (folder / "history.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    page = report.build_report([folder])
    assert "Overfitting from epoch" in page and "The data of this run is not here" in page
    assert "nn.Linear(784, 32)" in page  # the code comes from the dataset registry's shapes
    assert len(PLOTLY_DIV.findall(page)) == 2  # loss and accuracy: no confusion matrix without data
    assert "best validation" in page  # the best epoch gets its own metrics row


def test_text_is_escaped(tmp_path, finished):
    folder = finished["regression"]
    evil = tmp_path / "evil"
    evil.mkdir()
    for name in ("history.jsonl", "status.json"):
        (evil / name).write_bytes((folder / name).read_bytes())
    cfg = RunConfig.from_json((folder / "config.json").read_text())
    (evil / "config.json").write_text(RunConfig(cfg.data, cfg.model, cfg.train, name="<script>alert(1)</script>")
                                      .to_json())
    page = report.build_report([evil])
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="at least one run"):
        report.build_report([])
    (tmp_path / "broken").mkdir()
    with pytest.raises(ValueError, match="no readable config"):
        report.build_report([tmp_path / "broken"])


def test_write_report(tmp_path, finished):
    out = report.write_report([finished["digits"]], tmp_path / "r.html")
    assert out.read_text(encoding="utf-8").count("plotly-graph-div") >= 6


def test_kfold_run_reports_fold_one(tmp_path):
    run = _run(RunConfig(DataConfig(dataset="regression"), ModelConfig(hidden=(8,), activation="tanh"),
                         TrainConfig(device="cpu", epochs=3, batch_size=32, kfold=2)), tmp_path / "runs")
    page = report.build_report([run.dir])
    assert len(PLOTLY_DIV.findall(page)) == 5  # loss, fit (from snapshots_fold1.jsonl), residuals, weights, gradients
    assert "Fit after epoch 3" in page


def test_a_failed_run_still_reports_why(tmp_path):
    run = runs.start(RunConfig(DataConfig(dataset="csv", csv_path=str(tmp_path / "missing.csv")),
                               train=TrainConfig(device="cpu")), tmp_path / "runs")
    assert run.wait(60) and run.status == "failed"
    page = report.build_report([run.dir])
    assert "status <b>failed</b>" in page and "missing.csv" in page and "The data of this run is not here" in page
