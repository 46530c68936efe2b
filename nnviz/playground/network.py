"""The Playground's network: input features, an MLP from a config, seeded training, and the maps.

The networks are tiny (at most 7 inputs, 6 layers of 8): torch's per-op overhead would cost ten times
the arithmetic, so training is plain numpy with hand-written backpropagation (docs/performance.md has the
figures). `to_torch` gives the same network as a torch module, for the exported code and checkpoints; a
unit test checks the gradients against torch's autograd. The maps over the plane come from a copy of the
weights, so the live feed draws them without touching the training thread's arrays.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from nnviz.playground.config import PlaygroundConfig
from nnviz.playground.data import EXTENT, Points

Weights = list[tuple[np.ndarray, np.ndarray]]  # per layer: W (out, in), b (out,), float64

_FEATURE_FUNCS = {
    "x1": lambda a, b: a, "x2": lambda a, b: b, "x1sq": lambda a, b: a * a, "x2sq": lambda a, b: b * b,
    "x1x2": lambda a, b: a * b, "sinx1": lambda a, b: np.sin(a), "sinx2": lambda a, b: np.sin(b),
}
_ACT_MODULES = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "linear": nn.Identity}


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(v, -60, 60)))


_ACT = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0), "sigmoid": _sigmoid, "linear": lambda v: v}
# the derivative from the activation's output h (and input z, for ReLU)
_GRAD = {"tanh": lambda h, z: 1 - h * h, "relu": lambda h, z: (z > 0).astype(h.dtype),
         "sigmoid": lambda h, z: h * (1 - h), "linear": lambda h, z: np.ones_like(h)}


def features(x: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """(N, 2) points -> (N, len(names)) float64 inputs, one column per feature."""
    a, b = x[:, 0].astype(np.float64), x[:, 1].astype(np.float64)
    return np.stack([_FEATURE_FUNCS[n](a, b) for n in names], 1)


def init_weights(cfg: PlaygroundConfig) -> Weights:
    """Glorot-uniform weights drawn from cfg.seed, zero biases: features -> hidden layers -> one logit."""
    rng = np.random.default_rng([cfg.seed, 1])
    sizes = [len(cfg.features), *cfg.hidden, 1]
    out = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = math.sqrt(6 / (n_in + n_out))
        out.append((rng.uniform(-bound, bound, (n_out, n_in)), np.zeros(n_out)))
    return out


def to_torch(weights: Weights, cfg: PlaygroundConfig) -> nn.Sequential:
    """The same network as a torch module (Linear, activation, ..., Linear -> one logit), float32."""
    layers: list[nn.Module] = []
    for i, (w, _) in enumerate(weights):
        layers.append(nn.utils.skip_init(nn.Linear, w.shape[1], w.shape[0]))  # no draw from the global RNG
        if i < len(weights) - 1:
            layers.append(_ACT_MODULES[cfg.activation]())
    model = nn.Sequential(*layers)
    with torch.no_grad():
        for layer, (w, b) in zip(linear_layers(model), weights):
            layer.weight.copy_(torch.from_numpy(w))
            layer.bias.copy_(torch.from_numpy(b))
    return model


def linear_layers(model: nn.Sequential) -> list[nn.Linear]:
    return [m for m in model if isinstance(m, nn.Linear)]


def from_torch(model: nn.Module) -> Weights:
    """The numpy weights of a module built by to_torch (e.g. a loaded checkpoint's)."""
    with torch.no_grad():
        return [(m.weight.double().numpy().copy(), m.bias.double().numpy().copy()) for m in linear_layers(model)]


def copy_weights(weights: Weights) -> Weights:
    return [(w.copy(), b.copy()) for w, b in weights]


def forward(weights: Weights, activation: str, inputs: np.ndarray) -> list[np.ndarray]:
    """Every layer's output for `inputs` (N, F): the hidden layers' activations, then the output's
    probability of class 1 (N, 1)."""
    act = _ACT[activation]
    outs, h = [], inputs
    for i, (w, b) in enumerate(weights):
        z = h @ w.T + b
        h = _sigmoid(z) if i == len(weights) - 1 else act(z)
        outs.append(h)
    return outs


def gradients(weights: Weights, activation: str, x: np.ndarray, y: np.ndarray) -> tuple[float, Weights]:
    """Mean binary cross-entropy of the logits against labels y (N, 1), and its gradient per layer."""
    act, grad = _ACT[activation], _GRAD[activation]
    hs, zs, h = [x], [], x
    for i, (w, b) in enumerate(weights):
        z = h @ w.T + b
        zs.append(z)
        h = z if i == len(weights) - 1 else act(z)
        hs.append(h)
    logit = hs[-1]
    loss = float(np.mean(np.maximum(logit, 0) - logit * y + np.log1p(np.exp(-np.abs(logit)))))
    dz = (_sigmoid(logit) - y) / len(x)
    out: Weights = []
    for i in range(len(weights) - 1, -1, -1):
        out.append((dz.T @ hs[i], dz.sum(0)))
        if i:
            dz = (dz @ weights[i][0]) * grad(hs[i], zs[i - 1])
    return loss, out[::-1]


@dataclass(frozen=True)
class Scores:
    train_loss: float
    test_loss: float
    train_acc: float
    test_acc: float


def _bce(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


class Trainer:
    """One network learning one set of points: `epoch()` is one pass in seeded mini-batches.

    Same config and points, same weights after every epoch: the initial weights come from cfg.seed and
    each epoch's batch order from (cfg.seed, epoch), so a network resumed at epoch k goes on as if it had
    never stopped.
    """

    def __init__(self, cfg: PlaygroundConfig, points: Points, weights: Weights | None = None,
                 epoch: int = 0) -> None:
        self.cfg, self.points, self.epoch_done = cfg, points, epoch
        self.weights = copy_weights(weights) if weights is not None else init_weights(cfg)
        self.x_train = features(points.x_train, cfg.features)
        self.y_train = points.y_train.astype(np.float64)[:, None]
        self.x_test = features(points.x_test, cfg.features)
        self.y_test = points.y_test.astype(np.float64)[:, None]
        self._adam = [(np.zeros_like(w), np.zeros_like(b), np.zeros_like(w), np.zeros_like(b))
                      for w, b in self.weights]
        self._steps = 0

    def epoch(self) -> None:
        """One pass over the training points in shuffled mini-batches."""
        cfg = self.cfg
        n, bs = len(self.x_train), cfg.batch_size
        order = np.random.default_rng([cfg.seed, 2, self.epoch_done]).permutation(n)
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            _, grads = gradients(self.weights, cfg.activation, self.x_train[idx], self.y_train[idx])
            self._step(grads)
        self.epoch_done += 1

    def _step(self, grads: Weights) -> None:
        cfg = self.cfg
        self._steps += 1
        for i, ((w, b), (dw, db)) in enumerate(zip(self.weights, grads)):
            if cfg.regularization == "l2" and cfg.reg_rate:
                dw = dw + cfg.reg_rate * w
            elif cfg.regularization == "l1" and cfg.reg_rate:
                dw = dw + cfg.reg_rate * np.sign(w)
            if cfg.optimizer == "adam":
                dw, db = self._adam_direction(i, dw, db)
            w -= cfg.lr * dw
            b -= cfg.lr * db

    def _adam_direction(self, i: int, dw: np.ndarray, db: np.ndarray,
                        betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
        """torch.optim.Adam's update direction (its defaults), in place on this layer's moments."""
        mw, mb, vw, vb = self._adam[i]
        b1, b2 = betas
        out = []
        for m, v, g in ((mw, vw, dw), (mb, vb, db)):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            m_hat = m / (1 - b1 ** self._steps)
            v_hat = v / (1 - b2 ** self._steps)
            out.append(m_hat / (np.sqrt(v_hat) + eps))
        return out[0], out[1]

    def scores(self) -> Scores:
        """Loss (binary cross-entropy, no penalty) and accuracy on the train and test points."""
        out = []
        for x, y in ((self.x_train, self.y_train), (self.x_test, self.y_test)):
            p = forward(self.weights, self.cfg.activation, x)[-1]
            out.append((_bce(p, y), float(np.mean((p > 0.5) == (y > 0.5)))))
        return Scores(out[0][0], out[1][0], out[0][1], out[1][1])


# --- maps over the plane ------------------------------------------------------------------------------

OUTPUT_CELLS, NEURON_CELLS = 64, 24  # the output's heat map, and each neuron's, in cells per side


def grid(cells: int) -> np.ndarray:
    """Cell centres of the plane, row by row from the top (x2 = +EXTENT) down: (cells*cells, 2)."""
    centres = (np.arange(cells) + 0.5) / cells * 2 * EXTENT - EXTENT
    x1, x2 = np.meshgrid(centres, centres[::-1])
    return np.stack([x1.ravel(), x2.ravel()], 1).astype(np.float32)


_GRIDS = {c: grid(c) for c in (OUTPUT_CELLS, NEURON_CELLS)}


def to_bytes(values: np.ndarray, lo: float, hi: float) -> bytes:
    """Values clipped to [lo, hi] as 0-255, one byte per cell (the browser colours them)."""
    scaled = (np.clip(values, lo, hi) - lo) * (255.0 / (hi - lo))
    return np.rint(scaled).astype(np.uint8).tobytes()


def output_map(weights: Weights, cfg: PlaygroundConfig) -> bytes:
    """P(class 1) over the plane, OUTPUT_CELLS^2 bytes (0: surely class 0, 255: surely class 1)."""
    inputs = features(_GRIDS[OUTPUT_CELLS], cfg.features)
    return to_bytes(forward(weights, cfg.activation, inputs)[-1][:, 0], 0.0, 1.0)


def neuron_maps(weights: Weights, cfg: PlaygroundConfig) -> list[list[bytes]]:
    """Per hidden layer, per neuron: its activation over the plane, NEURON_CELLS^2 bytes, -1..1 (ReLU and
    linear neurons saturate the colour beyond 1, as the Playground's do)."""
    inputs = features(_GRIDS[NEURON_CELLS], cfg.features)
    layers = forward(weights, cfg.activation, inputs)[:-1]
    return [[to_bytes(layer[:, j], -1.0, 1.0) for j in range(layer.shape[1])] for layer in layers]


def feature_maps(cfg: PlaygroundConfig) -> list[bytes]:
    """Per input feature: its value over the plane, scaled by its largest magnitude there, -1..1."""
    values = features(_GRIDS[NEURON_CELLS], cfg.features)
    peak = np.maximum(np.abs(values).max(0), 1e-9)
    return [to_bytes(values[:, j] / peak[j], -1.0, 1.0) for j in range(values.shape[1])]


def point_activations(weights: Weights, cfg: PlaygroundConfig, x1: float, x2: float) -> dict[str, list]:
    """What each feature and neuron computes at the point (x1, x2): which neurons fire there."""
    inputs = features(np.array([[x1, x2]], np.float32), cfg.features)
    layers = forward(weights, cfg.activation, inputs)
    return {"features": [round(float(v), 4) for v in inputs[0]],
            "hidden": [[round(float(v), 4) for v in layer[0]] for layer in layers[:-1]],
            "output": round(float(layers[-1][0, 0]), 4)}
