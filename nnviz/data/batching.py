"""Tensor-resident batching: data stays on the training device, batches are index slices."""
from __future__ import annotations

from typing import Iterator

import torch
import torch.nn.functional as F


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """`t` on `device`. Host -> CUDA copies go through pinned memory with non_blocking=True, so
    the host does not wait for the GPU (a pageable copy synchronises the stream first)."""
    if device.type == "cuda" and t.device.type == "cpu":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def batches(n: int, batch_size: int, generator: torch.Generator | None, device: torch.device,
            shuffle: bool = True) -> Iterator[torch.Tensor]:
    """Index tensors covering range(n) once; shuffled with `generator` (a per-run RNG)."""
    if shuffle:
        order = to_device(torch.randperm(n, generator=generator), device)  # CPU generator: same order on any device
    else:
        order = torch.arange(n, device=device)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def n_batches(n: int, batch_size: int, max_steps: int = 0) -> int:
    full = -(-n // batch_size)
    return min(full, max_steps) if max_steps else full


def augment_shift(x: torch.Tensor, generator: torch.Generator, max_shift: int = 2,
                  flip: bool = False) -> torch.Tensor:
    """Random integer shifts of up to `max_shift` px (zero fill), and horizontal flips.

    One vectorised gather per batch, no per-sample Python. x: (B, C, H, W).
    """
    b, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4)  # (B, C, H+2s, W+2s)
    shifts = to_device(torch.randint(0, 2 * max_shift + 1, (2, b), generator=generator), x.device)
    rows = (torch.arange(h, device=x.device)[None, :] + shifts[0][:, None])  # (B, H)
    cols = (torch.arange(w, device=x.device)[None, :] + shifts[1][:, None])  # (B, W)
    if flip:
        flips = to_device(torch.rand(b, generator=generator) < 0.5, x.device)
        cols = torch.where(flips[:, None], cols.flip(1), cols)
    idx_rows = rows[:, None, :, None].expand(b, x.shape[1], h, padded.shape[3])
    out = padded.gather(2, idx_rows)  # (B, C, H, W+2s)
    idx_cols = cols[:, None, None, :].expand(b, x.shape[1], h, w)
    return out.gather(3, idx_cols)  # (B, C, H, W)


def eval_batches(x: torch.Tensor, batch_size: int = 1024) -> Iterator[torch.Tensor]:
    """Contiguous slices for evaluation."""
    for start in range(0, len(x), batch_size):
        yield x[start:start + batch_size]
