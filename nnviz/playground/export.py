"""A Playground network as stand-alone PyTorch code: its input features, its layers and its weights.

The generated file rebuilds the very torch module `network.to_torch` makes (same layer order and
state-dict keys) and carries the trained weights as literals, so it predicts what the page shows.
"""
from __future__ import annotations

from nnviz.playground.config import FEATURES, PlaygroundConfig
from nnviz.playground.network import Weights, to_torch

_FEATURE_CODE = {"x1": "x1", "x2": "x2", "x1sq": "x1 * x1", "x2sq": "x2 * x2", "x1x2": "x1 * x2",
                 "sinx1": "torch.sin(x1)", "sinx2": "torch.sin(x2)"}


def _literal(values) -> str:  # noqa: ANN001  (nested lists of floats)
    if isinstance(values, list):
        return "[" + ", ".join(_literal(v) for v in values) + "]"
    return repr(round(float(values), 6))


def pytorch_source(cfg: PlaygroundConfig, weights: Weights, epoch: int) -> str:
    """Python source of the network with its weights after `epoch` epochs."""
    model = to_torch(weights, cfg)
    layers = ",\n            ".join(_layer(m) for m in model)
    features = ", ".join(_FEATURE_CODE[f] for f in cfg.features)
    names = ", ".join(FEATURES[f] for f in cfg.features)
    state = "\n".join(f"    {k!r}: {_literal(v.tolist())}," for k, v in model.state_dict().items())
    n_params = sum(p.numel() for p in model.parameters())
    hidden = list(cfg.hidden) or "none"
    return f'''"""nnviz Playground network: inputs {names} -> hidden {hidden} ({cfg.activation}) -> P(class 1).

{n_params} parameters, trained {epoch} epochs on the {cfg.dataset} set (seed {cfg.seed}). The plane is
[-6, 6] x [-6, 6]; class 1 is blue on the page, class 0 orange.
"""
import torch
from torch import nn


def features(points: torch.Tensor) -> torch.Tensor:
    """(N, 2) points (x1, x2) -> (N, {len(cfg.features)}) network inputs."""
    x1, x2 = points[:, 0], points[:, 1]
    return torch.stack([{features}], dim=1)


class PlaygroundNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            {layers},
        )

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """(N, 2) points -> (N,) probability of class 1."""
        return torch.sigmoid(self.net(features(points))).squeeze(1)


STATE = {{
{state}
}}

if __name__ == "__main__":
    model = PlaygroundNet()
    model.net.load_state_dict({{k: torch.tensor(v) for k, v in STATE.items()}})
    print(model(torch.tensor([[1.0, 2.0], [-3.0, 4.0]])))
'''


def _layer(module) -> str:  # noqa: ANN001
    name = type(module).__name__
    if name == "Linear":
        return f"nn.Linear({module.in_features}, {module.out_features})"
    return f"nn.{name}()"
