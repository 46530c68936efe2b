"""What the network's last hidden layer makes of the test set: penultimate activations in 2-D.

The penultimate layer is the representation the final linear classifier separates; if
classes form clusters there, a linear read-out can tell them apart. PCA is instant and
faithful to distances; t-SNE (scikit-learn) shows local neighbourhoods better but takes
seconds for ~1,000 points, so callers compute it on demand and cache it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from nnviz.analysis.inspect import capture

METHODS = {"pca": "PCA (linear, instant)", "tsne": "t-SNE (non-linear, a few seconds)"}
DEFAULT_POINTS = 1000  # enough to see clusters; t-SNE on more gets slow on a laptop CPU
TSNE_ITERATIONS = 500
SKIP = (nn.Dropout, nn.Dropout1d, nn.Dropout2d)


def penultimate_layer(model: nn.Module) -> str:
    """Name of the last child whose output feeds the final linear layer (dropout skipped).

    For the nnviz CNNs that is 'flatten' (the pooled features), for MLPs the last hidden
    activation. ValueError when the model does not end with a linear layer after another one.
    """
    children = list(model.named_children())
    if len(children) < 2 or not isinstance(children[-1][1], nn.Linear):
        raise ValueError("the embedding view needs a model that ends with a linear layer after a hidden layer")
    for name, module in reversed(children[:-1]):
        if not isinstance(module, SKIP):
            return name
    raise ValueError("the model has no hidden layer before its output layer")


def subset(n_total: int, n: int = DEFAULT_POINTS, seed: int = 0) -> np.ndarray:
    """Up to n sorted test-set indices, a seeded random choice when the set is larger."""
    if n_total <= n:
        return np.arange(n_total)
    return np.sort(np.random.default_rng(seed).choice(n_total, size=n, replace=False))


def activations(model: nn.Module, x: torch.Tensor, layer: str | None = None, batch_size: int = 512,
                return_outputs: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """(N, D) float32 outputs of `layer` (default: the penultimate one) for inputs x, flattened per sample.

    With `return_outputs`, also the model's outputs (N, K) from the same forward pass.
    """
    layer = layer or penultimate_layer(model)
    chunks, outputs = [], []
    for start in range(0, len(x), batch_size):
        with capture(model, x[start:start + batch_size], [layer]) as cap:
            chunks.append(cap[layer].flatten(1).float().numpy())
            outputs.append(cap.output.float().numpy())
    feats = np.concatenate(chunks) if chunks else np.zeros((0, 0), np.float32)
    if return_outputs:
        return feats, np.concatenate(outputs) if outputs else np.zeros((0, 0), np.float32)
    return feats


@dataclass(frozen=True)
class Embedding:
    coords: np.ndarray  # (N, 2)
    method: str  # 'pca' | 'tsne'
    seconds: float  # time of the projection alone
    explained: tuple[float, ...] = ()  # PCA: variance ratio of the two axes


def project(features: np.ndarray, method: str = "pca", seed: int = 0, perplexity: float = 30.0) -> Embedding:
    """Features (N, D) -> 2-D coordinates with PCA or t-SNE (seeded, PCA-initialised)."""
    if method not in METHODS:
        raise ValueError(f"unknown projection {method!r}; choose from {', '.join(METHODS)}")
    n = len(features)
    if n < 3:
        raise ValueError("at least 3 points are needed for a 2-D projection")
    features = np.asarray(features, dtype=np.float32)
    started = time.perf_counter()
    if features.shape[1] < 2:  # a 1-unit layer: pad a zero axis
        features = np.concatenate([features, np.zeros_like(features)], 1)
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=seed)
        coords = pca.fit_transform(features)
        return Embedding(coords.astype(np.float32), method, time.perf_counter() - started,
                         tuple(float(v) for v in pca.explained_variance_ratio_))
    from sklearn.manifold import TSNE

    # 500 iterations (sklearn's default is 1000): on the digits CNN's 64-d features the final KL is within
    # 3% of the 1000-iteration run (0.183 vs 0.178) in half the time; PCA init keeps the layout stable
    tsne = TSNE(n_components=2, perplexity=min(perplexity, (n - 1) / 3), init="pca", random_state=seed,
                learning_rate="auto", max_iter=TSNE_ITERATIONS)
    coords = tsne.fit_transform(features)
    return Embedding(coords.astype(np.float32), method, time.perf_counter() - started)
