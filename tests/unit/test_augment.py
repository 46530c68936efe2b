"""nnviz.data.augment: seeded drawing-style augmentation on tensors."""
from __future__ import annotations

import torch

from nnviz.data.augment import affine, handwriting, stroke_width
from nnviz.data.images import load_raw


def _digits(n: int = 64) -> torch.Tensor:
    return load_raw("mnist_sample")[2][:n].float() / 255  # (n, 1, 28, 28) real test digits


def test_same_seed_same_images_other_seed_other_images():
    x = _digits()
    a = handwriting(x, torch.Generator().manual_seed(3))
    b = handwriting(x, torch.Generator().manual_seed(3))
    c = handwriting(x, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1


def test_a_share_of_the_images_is_left_clean():
    x = _digits(256)
    out = handwriting(x, torch.Generator().manual_seed(0), p_clean=0.25)
    same = (out == x).flatten(1).all(1).float().mean()
    assert 0.15 < same < 0.35


def test_stroke_width_thickens_and_thins():
    x = _digits(256)
    ink = lambda t: (t > 0.5).flatten(1).sum(1).float()  # noqa: E731 - stroke pixels per image
    thick = stroke_width(x, torch.Generator().manual_seed(0), p_thin=0, p_thick=0, p_thicker=1)
    thin = stroke_width(x, torch.Generator().manual_seed(0), p_thin=1, p_thick=0, p_thicker=0)
    assert (ink(thick) > 1.3 * ink(x)).float().mean() > 0.9
    assert (ink(thin) < ink(x)).float().mean() > 0.9
    assert torch.allclose(thin.amax(dim=(1, 2, 3)), torch.ones(256))  # stretched back to full ink


def test_affine_moves_rotates_and_scales_but_keeps_the_digit():
    x = _digits(128)
    out = affine(x, torch.Generator().manual_seed(0))
    moved = (out - x).abs().flatten(1).mean(1)
    assert (moved > 0.01).all()
    mass = out.flatten(1).sum(1) / x.flatten(1).sum(1)  # ink kept inside the frame: scale 0.8-1.15 -> area 0.64-1.3
    assert mass.min() > 0.5 and mass.max() < 1.5
    none = affine(x, torch.Generator().manual_seed(0), rotate=0, shear=0, scale=(1, 1), shift=0)
    assert torch.allclose(none, x, atol=1e-5)
