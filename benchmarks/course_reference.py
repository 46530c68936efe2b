"""The training code every course homework uses, as the reference the benchmarks compare against.

A torchvision-style `Dataset` holding uint8 images that builds a PIL image and applies
`ToTensor()` and `Normalize()` per item (exactly what `torchvision.datasets.MNIST.__getitem__`
does), a `DataLoader(batch_size=64, shuffle=True)`, the model in float32 and contiguous
memory, and a plain epoch loop reading `loss.item()` after every batch, like the notebooks.
"""
from __future__ import annotations

import time
from typing import Callable

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms


class CourseImages(Dataset):
    """uint8 images (N, C, H, W) + labels, transformed one sample at a time (torchvision's MNIST)."""

    def __init__(self, pixels: torch.Tensor, labels: torch.Tensor, mean: tuple[float, ...],
                 std: tuple[float, ...]) -> None:
        self.images = pixels.permute(0, 2, 3, 1).numpy()  # (N, H, W, C) as PIL wants it
        self.labels = labels.tolist()
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        img = self.images[i]
        img = Image.fromarray(img[:, :, 0], mode="L") if img.shape[2] == 1 else Image.fromarray(img)
        return self.transform(img), self.labels[i]


def as_course_model(model: nn.Module) -> nn.Module:
    """`model` with torch's own layers where nnviz has seeded twins (its dropout layers): the course's model."""
    from nnviz.model.dropout import SeededDropout, SeededDropout2d

    for name, child in model.named_children():
        if isinstance(child, SeededDropout2d):
            setattr(model, name, nn.Dropout2d(child.p))
        elif isinstance(child, SeededDropout):
            setattr(model, name, nn.Dropout(child.p))
        else:
            as_course_model(child)
    return model


def loader(dataset: Dataset, batch_size: int = 64, seed: int = 0) -> DataLoader:
    """The course's DataLoader: shuffled, main-process loading (the notebooks' default)."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))


def train_epochs(model: nn.Module, batches: DataLoader, optimizer: torch.optim.Optimizer, epochs: int,
                 device: torch.device, on_epoch: Callable[[int, float, int], None] | None = None) -> list[float]:
    """The notebook loop; returns each epoch's wall seconds (loading included, as a student sees it)."""
    model.to(device).train()
    seconds = []
    for epoch in range(epochs):
        started, running, seen = time.perf_counter(), 0.0, 0
        for x, y in batches:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            out = model(x)
            loss = F.cross_entropy(out, y)
            loss.backward()
            optimizer.step()
            running += loss.item() * len(y)  # the per-batch host read every notebook does
            seen += len(y)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - started)
        if on_epoch is not None:
            on_epoch(epoch, running / max(seen, 1), seen)
    return seconds


@torch.no_grad()
def accuracy(model: nn.Module, dataset: Dataset, device: torch.device) -> float:
    """Test accuracy the course way: a DataLoader over the transformed test set."""
    model.eval()
    correct = total = 0
    for x, y in DataLoader(dataset, batch_size=1000):
        correct += int((model(x.to(device)).argmax(1).cpu() == y).sum())
        total += len(y)
    model.train()
    return correct / max(total, 1)

