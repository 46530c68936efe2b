"""Classification metrics: confusion matrices, per-class scores, the most-confused pairs.

Plain arrays in, plain arrays / rows out (scikit-learn underneath); no Streamlit.
`predict_classes` turns a model and inputs into the (prediction, confidence) pairs the
other functions take.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from sklearn.metrics import confusion_matrix as _sk_confusion
from sklearn.metrics import precision_recall_fscore_support

from nnviz.training.train import predict


def predict_classes(model: torch.nn.Module, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class, softmax confidence of it) for every row of x, in eval mode."""
    probs = torch.softmax(predict(model, x).float(), 1)  # (N, K)
    conf, pred = probs.max(1)
    return pred.cpu().numpy().astype(np.int64), conf.cpu().numpy().astype(np.float32)


def confusion(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> np.ndarray:
    """(K, K) counts: row = true class, column = predicted class; every class has a row."""
    return _sk_confusion(np.asarray(y_true), np.asarray(y_pred), labels=np.arange(n_classes)).astype(np.int64)


def row_normalise(cm: np.ndarray) -> np.ndarray:
    """Each row divided by its total (the recall of each true class on the diagonal); empty rows stay 0."""
    totals = cm.sum(1, keepdims=True)
    return np.divide(cm, totals, out=np.zeros(cm.shape, dtype=np.float64), where=totals > 0)


def accuracy(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float((y_true == y_pred).mean()) if len(y_true) else float("nan")


def per_class(y_true: Sequence[int], y_pred: Sequence[int], classes: Sequence[str]) -> list[dict]:
    """One row per class: precision, recall, F1 and support (test images of that class).

    A class never predicted has precision 0 (scikit-learn's zero_division=0), not NaN.
    """
    precision, recall, f1, support = precision_recall_fscore_support(
        np.asarray(y_true), np.asarray(y_pred), labels=np.arange(len(classes)), zero_division=0)
    return [{"class": name, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(classes, precision, recall, f1, support)]


def most_confused(cm: np.ndarray, classes: Sequence[str], k: int = 5) -> list[dict]:
    """The k largest off-diagonal cells: true class, predicted class, count and row rate."""
    rates = row_normalise(cm)
    off = cm.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None, kind="stable")[:k]
    rows = []
    for flat in order:
        t, p = np.unravel_index(flat, cm.shape)
        if off[t, p] == 0:
            break
        rows.append({"true": classes[t], "predicted": classes[p], "count": int(cm[t, p]),
                     "rate": float(rates[t, p]), "true_idx": int(t), "pred_idx": int(p)})
    return rows


def misclassified(y_true: Sequence[int], y_pred: Sequence[int], conf: Sequence[float] | None = None,
                  true_class: int | None = None, pred_class: int | None = None) -> np.ndarray:
    """Indices of the wrong predictions, optionally of one true and/or predicted class.

    Most confident mistakes first (they are the instructive ones), else in index order.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    mask = y_true != y_pred
    if true_class is not None:
        mask &= y_true == true_class
    if pred_class is not None:
        mask &= y_pred == pred_class
    idx = np.flatnonzero(mask)
    if conf is not None and len(idx):
        idx = idx[np.argsort(-np.asarray(conf)[idx], kind="stable")]
    return idx


def class_counts(y: Sequence[int], n_classes: int) -> np.ndarray:
    """Images per class, (K,)."""
    return np.bincount(np.asarray(y, dtype=np.int64), minlength=n_classes)[:n_classes]


def strip_indices(y: Sequence[int], n_classes: int, per_class: int = 2) -> np.ndarray:
    """A fixed, class-balanced handful of indices (the first `per_class` of each class), in class order."""
    y = np.asarray(y)
    picks = [np.flatnonzero(y == c)[:per_class] for c in range(n_classes)]
    return np.concatenate(picks) if picks else np.empty(0, dtype=np.int64)
