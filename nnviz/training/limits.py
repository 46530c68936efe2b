"""Memory a training run would need, estimated from shapes before anything is allocated.

`models.build_model` already refuses more than MAX_PARAMETERS weights. A model can stay under
that and still exhaust a laptop: a wide CNN without pooling keeps megabytes of activations per
image, times the batch, twice (forward values kept for the backward pass, and their gradients).
`check_run` refuses such a run up front, naming the estimated size, instead of letting the
server swap or be killed in front of a lecture hall.
"""
from __future__ import annotations

import math
import os

from nnviz.config import ModelConfig, RunConfig
from nnviz.model.models import MAX_PARAMETERS, ModelTooLarge, count_parameters

MAX_TRAINING_MB = int(os.environ.get("NNVIZ_MAX_TRAINING_MB", "4096"))  # one run's budget; the laptop has other users
BYTES = 4  # float32


class TooMuchMemory(ModelTooLarge):
    """Training the config would need more memory than MAX_TRAINING_MB; the message gives the estimate."""


def activations_per_sample(model_cfg: ModelConfig, input_shape: tuple[int, ...], n_outputs: int) -> int:
    """Numbers the layers output for one sample (what backward keeps), from shapes alone, like
    models.count_parameters: conv, batch-norm, activation, pooling and dropout each keep their output."""
    total, shape = 0, tuple(input_shape)
    for block in model_cfg.conv:
        if len(shape) != 3:
            break
        pad = block.kernel // 2 if block.same_padding else 0
        h, w = max(shape[1] + 2 * pad - block.kernel + 1, 1), max(shape[2] + 2 * pad - block.kernel + 1, 1)
        full = block.channels * h * w
        total += full * (2 + int(block.batch_norm))  # conv, [bn], activation
        if block.pool != "none":
            h, w = max(h // 2, 1), max(w // 2, 1)
            total += block.channels * h * w
        if block.dropout:
            total += block.channels * h * w
        shape = (block.channels, h, w)
    for hidden in model_cfg.hidden:
        total += hidden * (2 + int(model_cfg.batch_norm) + int(bool(model_cfg.dropout)))
    return total + n_outputs


def training_bytes(model_cfg: ModelConfig, input_shape: tuple[int, ...], n_outputs: int, batch_size: int) -> int:
    """Estimated peak bytes to train: weights, gradients and two optimizer moments, plus the batch's
    activations kept for backward and their gradients, plus the batch itself."""
    params = count_parameters(model_cfg, input_shape, n_outputs)
    acts = activations_per_sample(model_cfg, input_shape, n_outputs)
    return BYTES * (4 * params + batch_size * (2 * acts + math.prod(input_shape)))


def _mb(n: float) -> str:
    return f"{n / 2**30:,.1f} GB" if n >= 2**30 else f"{n / 2**20:,.0f} MB"


def check_training_memory(model_cfg: ModelConfig, input_shape: tuple[int, ...], n_outputs: int,
                          batch_size: int, limit_mb: int | None = None) -> int:
    """The estimate in bytes, or TooMuchMemory (a ModelTooLarge) when it is over the limit."""
    limit = (limit_mb or MAX_TRAINING_MB) * 2**20
    params = count_parameters(model_cfg, input_shape, n_outputs)
    if params > MAX_PARAMETERS:  # what build_model would refuse, said before a run is started
        raise ModelTooLarge(f"This model would have {params:,} parameters (~{params * BYTES / 2**20:,.0f} MB of weights, "
                            f"about {_mb(4 * BYTES * params)} to train); the limit is {MAX_PARAMETERS:,}. "
                            "Use fewer or narrower layers.")
    if 4 * BYTES * params > limit:
        raise TooMuchMemory(f"Training this model would need about {_mb(4 * BYTES * params)} for its "
                            f"{params:,} weights and their optimizer state alone; the limit is {_mb(limit)}. "
                            "Use fewer or narrower layers.")
    need = training_bytes(model_cfg, input_shape, n_outputs, batch_size)
    if need > limit:
        acts = need - 4 * BYTES * params
        raise TooMuchMemory(f"Training this model with batch size {batch_size} would need about {_mb(need)} of "
                            f"memory ({_mb(acts)} of activations for one batch); the limit is {_mb(limit)}. "
                            "Use a smaller batch, fewer channels or more pooling.")
    return need


def run_shapes(config: RunConfig) -> tuple[tuple[int, ...], int, int | None] | None:
    """(input shape, outputs, training-set size or None) of a run's data without loading it; None if unknown."""
    if config.data.task == "regression":
        n = config.data.n_train if config.data.dataset == "regression" else None
        return (1,), 1, n
    from nnviz.data import DATASETS  # images: the registry knows every set's geometry

    info = DATASETS.get(config.data.dataset)
    if info is None:  # the run itself will say the dataset is unknown
        return None
    return tuple(info.shape), len(info.classes), None


def check_run(config: RunConfig) -> int:
    """Refuse a run whose training would not fit in memory (ModelTooLarge / TooMuchMemory, with the estimate)."""
    shapes = run_shapes(config)
    if shapes is None:
        return 0
    shape, outputs, n_train = shapes
    batch = config.train.batch_size if n_train is None else min(config.train.batch_size, n_train)
    return check_training_memory(config.model, shape, outputs, batch)
