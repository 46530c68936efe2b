"""nnviz.analysis.embedding: the penultimate layer, its activations against a manual forward, PCA / t-SNE."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nnviz.analysis import embedding, inspect
from nnviz.model.models import PRESETS, build_model

SHAPE = (1, 28, 28)


def _model(preset: str) -> nn.Sequential:
    torch.manual_seed(0)
    return build_model(PRESETS[preset].model, SHAPE, 10).eval()


def test_penultimate_layer_of_the_presets():
    assert embedding.penultimate_layer(_model("fast_cnn")) == "flatten"  # the pooled features
    assert embedding.penultimate_layer(_model("mlp_dropout")) == "act_fc3"  # dropout skipped
    assert embedding.penultimate_layer(_model("lenet")) == "act_fc2"
    with pytest.raises(ValueError, match="linear layer"):
        embedding.penultimate_layer(nn.Sequential(nn.Linear(2, 2), nn.ReLU()))
    with pytest.raises(ValueError):
        embedding.penultimate_layer(nn.Sequential(nn.Linear(2, 2)))


def test_activations_match_a_manual_forward_and_leave_no_hooks():
    model = _model("lenet")
    x = torch.randn(23, *SHAPE)
    feats = embedding.activations(model, x, batch_size=8)  # several batches
    with torch.no_grad():
        h = x
        for name, module in model.named_children():
            h = module(h)
            if name == "act_fc2":
                break
    np.testing.assert_allclose(feats, h.numpy(), rtol=1e-5, atol=1e-6)
    assert feats.shape == (23, 84)
    again, outputs = embedding.activations(model, x, batch_size=8, return_outputs=True)
    np.testing.assert_array_equal(again, feats)
    with torch.no_grad():
        np.testing.assert_allclose(outputs, model(x).numpy(), rtol=1e-5, atol=1e-6)
    assert inspect.count_hooks(model) == 0


def test_subset_is_seeded_sorted_and_capped():
    assert embedding.subset(300, 1000).tolist() == list(range(300))
    a = embedding.subset(5000, 1000, seed=3)
    assert len(a) == 1000 and len(set(a.tolist())) == 1000 and (np.diff(a) > 0).all()
    assert (a == embedding.subset(5000, 1000, seed=3)).all()


def _blobs(n_per: int = 40, dims: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 6, (3, dims))
    x = np.concatenate([c + rng.normal(0, 1, (n_per, dims)) for c in centers]).astype(np.float32)
    return x, np.repeat(np.arange(3), n_per)


def test_pca_agrees_with_scikit_learn_and_reports_variance():
    from sklearn.decomposition import PCA

    x, _ = _blobs()
    emb = embedding.project(x, "pca")
    ref = PCA(2).fit(x)
    np.testing.assert_allclose(np.abs(emb.coords), np.abs(ref.transform(x)), rtol=1e-3, atol=1e-3)
    assert emb.explained == pytest.approx(tuple(ref.explained_variance_ratio_), rel=1e-4)
    assert emb.method == "pca" and emb.seconds >= 0


def test_tsne_is_seeded_and_keeps_clusters_apart():
    x, labels = _blobs(25)
    a = embedding.project(x, "tsne", seed=1)
    b = embedding.project(x, "tsne", seed=1)
    assert a.coords.shape == (75, 2)
    np.testing.assert_allclose(a.coords, b.coords)
    centroids = np.stack([a.coords[labels == k].mean(0) for k in range(3)])
    spread = max(a.coords[labels == k].std(0).max() for k in range(3))
    gaps = [np.linalg.norm(centroids[i] - centroids[j]) for i in range(3) for j in range(i + 1, 3)]
    assert min(gaps) > 2 * spread


def test_project_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown projection"):
        embedding.project(np.zeros((10, 3)), "umap")
    with pytest.raises(ValueError, match="at least 3"):
        embedding.project(np.zeros((2, 3)), "pca")
    assert embedding.project(np.arange(10, dtype=np.float32)[:, None], "pca").coords.shape == (10, 2)
