"""nnviz.data.batching: index batches and the vectorised shift / flip augmentation."""
from __future__ import annotations

import pytest
import torch

from nnviz.data.batching import augment_shift, batches, eval_batches, n_batches

CPU = torch.device("cpu")


@pytest.mark.parametrize("n, batch_size", [(10, 3), (64, 64), (65, 64), (1, 8), (100, 1)])
def test_batches_cover_every_index_exactly_once(n, batch_size):
    parts = list(batches(n, batch_size, torch.Generator().manual_seed(0), CPU))
    assert len(parts) == n_batches(n, batch_size) == -(-n // batch_size)
    assert all(len(p) == batch_size for p in parts[:-1]) and 1 <= len(parts[-1]) <= batch_size
    assert sorted(torch.cat(parts).tolist()) == list(range(n))


def test_same_seed_same_order_other_seed_other_order():
    order = lambda seed: torch.cat(list(batches(50, 7, torch.Generator().manual_seed(seed), CPU)))  # noqa: E731
    assert order(1).equal(order(1))
    assert not order(1).equal(order(2))
    assert not order(1).equal(torch.arange(50))  # actually shuffled


def test_generator_advances_between_epochs():
    gen = torch.Generator().manual_seed(0)
    first, second = (torch.cat(list(batches(40, 8, gen, CPU))) for _ in range(2))
    assert not first.equal(second)


def test_unshuffled_batches_are_in_order():
    parts = list(batches(7, 3, None, CPU, shuffle=False))
    assert [p.tolist() for p in parts] == [[0, 1, 2], [3, 4, 5], [6]]


def test_n_batches_caps_at_max_steps():
    assert n_batches(100, 10) == 10
    assert n_batches(100, 10, max_steps=3) == 3
    assert n_batches(25, 10, max_steps=5) == 3


def test_eval_batches_are_contiguous_slices():
    x = torch.arange(10)
    assert [c.tolist() for c in eval_batches(x, 4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def single_pixel_batch(b: int, row: int, col: int, size: int = 16, channels: int = 1) -> torch.Tensor:
    x = torch.zeros(b, channels, size, size)
    x[:, :, row, col] = torch.arange(1, channels + 1, dtype=torch.float32).view(1, -1)
    return x


def pixel_positions(out: torch.Tensor) -> list[tuple[int, int]]:
    positions = []
    for sample in out[:, 0]:
        rows, cols = torch.nonzero(sample, as_tuple=True)
        assert len(rows) == 1, "a shift moves the one pixel, it does not smear or lose it"
        positions.append((int(rows[0]), int(cols[0])))
    return positions


def test_shift_keeps_shape_and_moves_content_at_most_two_pixels():
    x = single_pixel_batch(300, 7, 9)
    out = augment_shift(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    positions = pixel_positions(out)
    assert all(abs(r - 7) <= 2 and abs(c - 9) <= 2 for r, c in positions)
    assert len(set(positions)) == 25  # every shift in -2..2 x -2..2 occurs
    assert torch.all(out.sum(dim=(1, 2, 3)) == 1)  # value kept, nothing else filled in


def test_shift_moves_every_channel_together():
    x = single_pixel_batch(50, 8, 8, channels=3)
    out = augment_shift(x, torch.Generator().manual_seed(1))
    for c in range(3):
        assert torch.equal(out[:, c] != 0, out[:, 0] != 0)
        assert torch.all(out[:, c].sum(dim=(1, 2)) == c + 1)


def test_shift_fills_with_zeros_at_the_border():
    x = torch.ones(40, 1, 8, 8)
    out = augment_shift(x, torch.Generator().manual_seed(2))
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    # an unshifted sample keeps all 64 ones; a 2x2 shift leaves 36
    assert out.sum(dim=(1, 2, 3)).min() >= 36 and (out.sum(dim=(1, 2, 3)) < 64).any()


def test_same_generator_seed_same_augmentation():
    x = torch.randn(16, 3, 12, 12)
    a = augment_shift(x, torch.Generator().manual_seed(5), flip=True)
    b = augment_shift(x, torch.Generator().manual_seed(5), flip=True)
    assert a.equal(b)


def test_flip_mirrors_some_samples():
    size, row, col = 16, 6, 2  # mirror column is 13: far from 2 +- 2
    out = augment_shift(single_pixel_batch(200, row, col, size), torch.Generator().manual_seed(3), flip=True)
    positions = pixel_positions(out)
    near_original = [c for _, c in positions if abs(c - col) <= 2]
    near_mirror = [c for _, c in positions if abs(c - (size - 1 - col)) <= 2]
    assert len(near_original) + len(near_mirror) == 200
    assert 40 < len(near_mirror) < 160  # about half are flipped
    assert all(abs(r - row) <= 2 for r, _ in positions)


def test_no_flip_without_the_flag():
    out = augment_shift(single_pixel_batch(200, 6, 2), torch.Generator().manual_seed(3))
    assert all(abs(c - 2) <= 2 for _, c in pixel_positions(out))
