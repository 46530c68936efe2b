"""MLP / CNN builders from a ModelConfig, the named presets, and architecture summaries.

Models are `nn.Sequential` with readable layer names (conv1, bn1, act1, pool1, fc1, ...)
so hooks, filters and tables can name layers. Every activation is its own module
instance and nothing is in-place: Captum's DeepLift needs both.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from torch import nn

from nnviz.config import ConvBlock, ModelConfig, TrainConfig
from nnviz.model.dropout import SeededDropout, SeededDropout2d

ACTIVATION_MODULES: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "gelu": nn.GELU,
    "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "identity": nn.Identity,
}
MAX_PARAMETERS = 50_000_000  # ~200 MB of float32 weights; bigger is refused before allocating


class ModelTooLarge(ValueError):
    """The config would allocate more parameters than MAX_PARAMETERS."""


def build_model(cfg: ModelConfig, input_shape: tuple[int, ...], n_outputs: int) -> nn.Sequential:
    """A network for inputs of `input_shape` (one sample) with `n_outputs` outputs.

    Raises ModelTooLarge (with the size) before allocating an oversized model, and
    ValueError when the conv blocks shrink the image below 1 pixel.
    """
    n_params = count_parameters(cfg, input_shape, n_outputs)
    if n_params > MAX_PARAMETERS:
        raise ModelTooLarge(f"This model would have {n_params:,} parameters "
                            f"(~{n_params * 4 / 2**20:,.0f} MB of weights, several times that to train); "
                            f"the limit is {MAX_PARAMETERS:,}. Use fewer or narrower layers.")
    return _assemble(cfg, input_shape, n_outputs)


def seeded_model(cfg: ModelConfig, input_shape: tuple[int, ...], n_outputs: int, seed: int) -> nn.Sequential:
    """`build_model`, initialised as torch's default init would after `torch.manual_seed(seed)`, but from a
    private generator: torch's global RNG, which other threads draw from, is neither read nor advanced."""
    with torch.device("meta"):  # shapes only: the weights are drawn below
        model = build_model(cfg, input_shape, n_outputs).to_empty(device="cpu")
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():  # construction order, the order torch's own init draws in
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)  # torch's default
            if module.bias is not None:
                bound = 1 / math.sqrt(module.weight[0].numel())  # 1 / sqrt(fan_in)
                nn.init.uniform_(module.bias, -bound, bound, generator=generator)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            module.reset_parameters()  # ones, zeros and fresh running statistics: nothing random
        elif any(True for _ in module.parameters(recurse=False)) or any(True for _ in module.buffers(recurse=False)):
            raise TypeError(f"seeded_model has no initialiser for {type(module).__name__}")  # a new layer type
    return model


def _assemble(cfg: ModelConfig, input_shape: tuple[int, ...], n_outputs: int) -> nn.Sequential:
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    shape = tuple(input_shape)
    for i, block in enumerate(cfg.conv, start=1):
        shape = _add_conv_block(layers, i, block, shape, cfg.activation)
    if cfg.conv and cfg.global_pool:
        layers["gap"] = nn.AdaptiveAvgPool2d(1)
        shape = (shape[0], 1, 1)
    if len(shape) > 1:
        layers["flatten"] = nn.Flatten()
    width = math.prod(shape)
    for i, hidden in enumerate(cfg.hidden, start=1):
        layers[f"fc{i}"] = nn.Linear(width, hidden)
        if cfg.batch_norm:
            layers[f"bn_fc{i}"] = nn.BatchNorm1d(hidden)
        layers[f"act_fc{i}"] = ACTIVATION_MODULES[cfg.activation]()
        if cfg.dropout:
            layers[f"drop_fc{i}"] = SeededDropout(cfg.dropout)
        width = hidden
    layers["out"] = nn.Linear(width, n_outputs)
    return nn.Sequential(layers)


def _add_conv_block(layers: OrderedDict, i: int, block: ConvBlock, shape: tuple[int, ...],
                    activation: str) -> tuple[int, ...]:
    if len(shape) != 3:
        raise ValueError("conv blocks need image inputs (C, H, W); this data is 1-D. Use an MLP.")
    channels, h, w = shape
    pad = block.kernel // 2 if block.same_padding else 0
    h, w = h + 2 * pad - block.kernel + 1, w + 2 * pad - block.kernel + 1
    if h < 1 or w < 1:
        raise ValueError(f"conv block {i} (kernel {block.kernel}) does not fit a {shape[1]}x{shape[2]} "
                         "input; use smaller kernels, padding or fewer pooling steps")
    layers[f"conv{i}"] = nn.Conv2d(channels, block.channels, block.kernel, padding=pad, bias=not block.batch_norm)
    if block.batch_norm:
        layers[f"bn{i}"] = nn.BatchNorm2d(block.channels)
    layers[f"act{i}"] = ACTIVATION_MODULES[activation]()
    if block.pool != "none":
        if h < 2 or w < 2:
            raise ValueError(f"pooling after conv block {i} would shrink a {h}x{w} map below 1 pixel")
        layers[f"pool{i}"] = nn.MaxPool2d(2) if block.pool == "max" else nn.AvgPool2d(2)
        h, w = h // 2, w // 2
    if block.dropout:
        layers[f"drop{i}"] = SeededDropout2d(block.dropout)
    return (block.channels, h, w)


def count_parameters(cfg: ModelConfig, input_shape: tuple[int, ...], n_outputs: int) -> int:
    """Parameter count computed from shapes alone (no allocation)."""
    total, shape = 0, tuple(input_shape)
    for block in cfg.conv:
        if len(shape) != 3:
            break
        pad = block.kernel // 2 if block.same_padding else 0
        h = shape[1] + 2 * pad - block.kernel + 1
        w = shape[2] + 2 * pad - block.kernel + 1
        total += block.channels * shape[0] * block.kernel**2 + (2 * block.channels if block.batch_norm else block.channels)
        if block.pool != "none":
            h, w = h // 2, w // 2
        shape = (block.channels, max(h, 1), max(w, 1))
    if cfg.conv and cfg.global_pool:
        shape = (shape[0],)
    width = 1
    for s in shape:
        width *= s
    for hidden in cfg.hidden:
        total += width * hidden + hidden + (2 * hidden if cfg.batch_norm else 0)
        width = hidden
    return total + width * n_outputs + n_outputs


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str  # module class name
    output_shape: tuple[int, ...]  # one sample
    parameters: int
    receptive_field: int | None = None  # conv / pool layers: input pixels seen along one side


def summarize(model: nn.Sequential, input_shape: tuple[int, ...]) -> list[LayerRow]:
    """Layer, output shape, parameter count and receptive field, from one dry forward pass."""
    rows: list[LayerRow] = []
    was_training = model.training
    model.eval()
    rf, jump = 1, 1  # receptive field and the input-pixel stride of one output step
    device = next(model.parameters()).device
    x = torch.zeros((1, *input_shape), device=device)
    with torch.no_grad():
        for name, module in model.named_children():
            x = module(x)
            field_size = None
            if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
                k = module.kernel_size if isinstance(module.kernel_size, int) else module.kernel_size[0]
                s = module.stride if isinstance(module.stride, int) else module.stride[0]
                rf, jump = rf + (k - 1) * jump, jump * s
                field_size = rf
            rows.append(LayerRow(name, type(module).__name__, tuple(x.shape[1:]),
                                 sum(p.numel() for p in module.parameters()), field_size))
    model.train(was_training)
    return rows


@dataclass(frozen=True)
class Preset:
    """A named architecture with the training settings it was tuned with."""

    task: str  # 'regression' or 'classification'
    title: str
    model: ModelConfig
    train: TrainConfig = field(default_factory=TrainConfig)
    note: str = ""


def _cnn(*blocks: ConvBlock, hidden: tuple[int, ...] = (), **kw: object) -> ModelConfig:
    return ModelConfig(hidden=hidden, conv=blocks, **kw)  # type: ignore[arg-type]


PRESETS: dict[str, Preset] = {
    # --- regression (1 -> 1) ---
    "linear": Preset("regression", "Linear regression (1→1)", ModelConfig(hidden=()),
                     TrainConfig(optimizer="sgd", lr=0.01, batch_size=16, epochs=100)),
    "mlp1_sigmoid": Preset("regression", "1 hidden layer, sigmoid (1→100→1)",
                           ModelConfig(hidden=(100,), activation="sigmoid"),
                           TrainConfig(optimizer="adam", lr=0.01, batch_size=16, epochs=400)),
    "mlp3_sigmoid": Preset("regression", "3 hidden layers, sigmoid (1→64→64→64→1)",
                           ModelConfig(hidden=(64, 64, 64), activation="sigmoid"),
                           TrainConfig(optimizer="adam", lr=3e-3, batch_size=16, epochs=400)),
    "dropout_leaky": Preset("regression", "Dropout LeakyReLU regressor (1→128→128→1, p=0.1)",
                            ModelConfig(hidden=(128, 128), activation="leaky_relu", dropout=0.1),
                            TrainConfig(optimizer="adam", lr=3e-3, weight_decay=1e-4, batch_size=16, epochs=300)),
    "regressor": Preset("regression", "Default regressor (1→64→64→1, tanh)",
                        ModelConfig(hidden=(64, 64), activation="tanh"),
                        TrainConfig(optimizer="adam", lr=0.01, weight_decay=1e-3, batch_size=16, epochs=300,
                                    scheduler="cosine"),  # L2 1e-3: docs/performance.md
                        note="Tanh units give a smooth fit that interpolates across the gaps."),
    # --- classification (images) ---
    "mlp_dropout": Preset("classification", "Flat MLP with dropout (784→256→128→64→10)",
                          ModelConfig(hidden=(256, 128, 64), activation="relu", dropout=0.2),
                          TrainConfig(optimizer="adam", lr=1e-3, batch_size=64, epochs=10)),
    "lenet": Preset("classification", "LeNet-style CNN (conv6-conv16-fc120-fc84)",
                    _cnn(ConvBlock(6, 5, True, "max"), ConvBlock(16, 5, False, "max"), hidden=(120, 84)),
                    TrainConfig(optimizer="adam", lr=1e-3, batch_size=64, epochs=10)),
    "pytorch_example": Preset("classification", "PyTorch-example CNN (conv32-conv64-dropout-fc128)",
                              _cnn(ConvBlock(32, 3, False, "none"), ConvBlock(64, 3, False, "max", dropout=0.25),
                                   hidden=(128,), dropout=0.5),
                              # cpu_amp: faster at the same accuracy (docs/performance.md)
                              TrainConfig(optimizer="adadelta", lr=1.0, batch_size=64, epochs=10,
                                          scheduler="step", step_size=1, gamma=0.7, cpu_amp=True)),
    "bn_cnn": Preset("classification", "Batch-norm CNN (conv32-bn-conv64-bn-fc128)",
                     _cnn(ConvBlock(32, 3, True, "max", batch_norm=True), ConvBlock(64, 3, True, "max", batch_norm=True),
                          hidden=(128,), dropout=0.3),
                     # cpu_amp: faster at the same accuracy (docs/performance.md)
                     TrainConfig(optimizer="adam", lr=2e-3, batch_size=64, epochs=10, cpu_amp=True)),
    "fast_cnn": Preset("classification", "Fast default CNN (conv16-bn-conv32-bn-conv64-bn, GAP)",
                       _cnn(ConvBlock(16, 3, True, "max", batch_norm=True), ConvBlock(32, 3, True, "max", batch_norm=True),
                            ConvBlock(64, 3, True, "none", batch_norm=True), global_pool=True),
                       # peak lr 7e-3: the best of those tried (docs/performance.md)
                       TrainConfig(optimizer="adamw", lr=7e-3, weight_decay=5e-4, batch_size=32, epochs=5,
                                   scheduler="onecycle"),
                       note="Small, batch-normalised, one-cycle schedule: chosen for time-to-accuracy."),
}
DEFAULT_PRESET = {"regression": "regressor", "classification": "fast_cnn"}


def presets_for(task: str) -> dict[str, Preset]:
    return {name: p for name, p in PRESETS.items() if p.task == task}
