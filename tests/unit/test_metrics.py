"""nnviz.analysis.metrics against hand-computed values and scikit-learn's own report."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import classification_report

from nnviz.analysis import metrics

Y_TRUE = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
Y_PRED = np.array([0, 0, 1, 1, 1, 2, 1, 1, 0, 2])
CLASSES = ("a", "b", "c", "d")


def test_confusion_rows_are_true_classes_and_every_class_has_a_row():
    cm = metrics.confusion(Y_TRUE, Y_PRED, 4)
    assert cm.shape == (4, 4)
    assert cm.tolist() == [[2, 1, 0, 0], [0, 2, 0, 0], [1, 2, 1, 0], [0, 0, 1, 0]]
    assert cm.sum() == len(Y_TRUE)
    assert metrics.confusion([0, 0], [0, 0], 3).tolist() == [[2, 0, 0], [0, 0, 0], [0, 0, 0]]


def test_row_normalise_gives_recall_on_the_diagonal_and_zero_for_empty_rows():
    cm = metrics.confusion([0, 0, 1], [0, 1, 1], 3)
    rates = metrics.row_normalise(cm)
    assert rates[0].tolist() == [0.5, 0.5, 0.0]
    assert rates[2].tolist() == [0.0, 0.0, 0.0]  # no images of class 2: no NaN


def test_per_class_matches_sklearn_report():
    rows = metrics.per_class(Y_TRUE, Y_PRED, CLASSES)
    report = classification_report(Y_TRUE, Y_PRED, labels=range(4), target_names=CLASSES, output_dict=True,
                                   zero_division=0)
    for row in rows:
        ref = report[row["class"]]
        assert row["precision"] == pytest.approx(ref["precision"])
        assert row["recall"] == pytest.approx(ref["recall"])
        assert row["f1"] == pytest.approx(ref["f1-score"])
        assert row["support"] == ref["support"]
    assert rows[3]["precision"] == 0.0  # class d is never predicted: 0, not NaN


def test_most_confused_lists_off_diagonal_cells_largest_first():
    cm = metrics.confusion(Y_TRUE, Y_PRED, 4)
    pairs = metrics.most_confused(cm, CLASSES, k=3)
    assert (pairs[0]["true"], pairs[0]["predicted"], pairs[0]["count"]) == ("c", "b", 2)
    assert pairs[0]["rate"] == pytest.approx(0.5)
    assert all(p["true"] != p["predicted"] for p in pairs)
    assert [p["count"] for p in pairs] == sorted((p["count"] for p in pairs), reverse=True)
    assert metrics.most_confused(np.eye(3, dtype=int) * 5, ("x", "y", "z")) == []


def test_misclassified_filters_and_sorts_by_confidence():
    conf = np.linspace(0.1, 1.0, len(Y_TRUE))
    wrong = metrics.misclassified(Y_TRUE, Y_PRED, conf)
    assert set(wrong) == set(np.flatnonzero(Y_TRUE != Y_PRED))
    assert list(conf[wrong]) == sorted(conf[wrong], reverse=True)
    assert list(metrics.misclassified(Y_TRUE, Y_PRED, conf, true_class=2)) == [8, 7, 6]
    assert list(metrics.misclassified(Y_TRUE, Y_PRED, conf, true_class=2, pred_class=0)) == [8]
    assert list(metrics.misclassified(Y_TRUE, Y_PRED)) == [2, 6, 7, 8, 9]


def test_counts_accuracy_and_strip_indices():
    assert metrics.class_counts(Y_TRUE, 5).tolist() == [3, 2, 4, 1, 0]
    assert metrics.accuracy(Y_TRUE, Y_PRED) == pytest.approx(0.5)
    assert metrics.strip_indices(Y_TRUE, 4, 2).tolist() == [0, 1, 3, 4, 5, 6, 9]


def test_predict_classes_matches_a_manual_softmax():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    x = torch.randn(7, 1, 2, 2)
    pred, conf = metrics.predict_classes(model, x)
    probs = torch.softmax(model(x), 1).detach()
    assert pred.tolist() == probs.argmax(1).tolist()
    np.testing.assert_allclose(conf, probs.max(1).values.numpy(), rtol=1e-6)
    assert model.training  # predict restores the mode it found
