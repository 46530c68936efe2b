"""The Playground's point sets: five generators on the plane [-6, 6]^2, an uploaded CSV, a seeded split.

Generators follow TensorFlow Playground's sets (same shapes and scale) so that its lessons carry over;
two moons is scikit-learn's shape scaled to the same plane. Labels are 0 and 1.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import numpy as np

DATASETS = {"circle": "Circle", "xor": "Exclusive or", "gauss": "Gaussian blobs", "spiral": "Spiral",
            "moons": "Two moons"}
UPLOAD = "upload"  # the dataset name of points read from a CSV
EXTENT = 6.0  # the plane shown is [-EXTENT, EXTENT]^2
MIN_POINTS, MAX_POINTS = 10, 2000  # per set; enough to see a shape, few enough to train live
MAX_NOISE = 0.5  # a share of the set's scale, as the Playground's 0-50 %
MAX_CSV_BYTES = 1_000_000


class DataError(ValueError):
    """Points that cannot be used, with one sentence saying why."""


@dataclass(frozen=True)
class Points:
    """Train and test points: x (N, 2) float32, y (N,) float32 of 0/1."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def generate(name: str, n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` points of set `name` with `noise` in [0, MAX_NOISE]; the same arguments give the same points."""
    if name not in DATASETS:
        raise DataError(f"Unknown data set {name!r}: choose one of {', '.join(DATASETS)}.")
    rng = np.random.default_rng(seed)
    x, y = _GENERATORS[name](rng, int(n), float(noise))
    return x.astype(np.float32), y.astype(np.float32)


def _circle(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    radius = 5.0
    inner = n // 2
    r = np.concatenate([rng.uniform(0, 0.5 * radius, inner), rng.uniform(0.7 * radius, radius, n - inner)])
    angle = rng.uniform(0, 2 * math.pi, n)
    x = np.stack([r * np.sin(angle), r * np.cos(angle)], 1)
    jittered = x + rng.uniform(-radius, radius, (n, 2)) * noise  # the Playground labels a jittered copy
    y = (np.hypot(jittered[:, 0], jittered[:, 1]) < 0.5 * radius).astype(np.float32)
    return x, y


def _xor(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(-5, 5, (n, 2))
    x += np.where(x > 0, 0.3, -0.3)  # a margin along the axes, as the Playground
    y = (x[:, 0] * x[:, 1] >= 0).astype(np.float32)  # labelled before the noise
    return x + rng.uniform(-5, 5, (n, 2)) * noise, y


def _gauss(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    spread = 0.5 + 3.5 * noise / MAX_NOISE  # the Playground maps noise 0-50 % to a variance of 0.5-4
    y = (np.arange(n) < n // 2).astype(np.float32)
    centre = np.where(y[:, None] == 1, 2.0, -2.0)
    return centre + rng.normal(0, math.sqrt(spread), (n, 2)), y


def _spiral(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    half = n // 2
    parts, labels = [], []
    for label, count, delta in ((1, half, 0.0), (0, n - half, math.pi)):
        i = np.arange(count)
        r = i / count * 5
        t = 1.75 * i / count * 2 * math.pi + delta
        parts.append(np.stack([r * np.sin(t), r * np.cos(t)], 1) + rng.uniform(-1, 1, (count, 2)) * noise)
        labels.append(np.full(count, label, np.float32))
    return np.concatenate(parts), np.concatenate(labels)


def _moons(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    upper = n // 2
    t_up, t_low = rng.uniform(0, math.pi, upper), rng.uniform(0, math.pi, n - upper)
    up = np.stack([np.cos(t_up), np.sin(t_up)], 1)
    low = np.stack([1 - np.cos(t_low), 0.5 - np.sin(t_low)], 1)
    x = (np.concatenate([up, low]) - [0.5, 0.25]) * 3.2  # centred, scaled onto the plane
    y = np.concatenate([np.ones(upper, np.float32), np.zeros(n - upper, np.float32)])
    return x + rng.normal(0, 1, (n, 2)) * noise * 3, y


_GENERATORS = {"circle": _circle, "xor": _xor, "gauss": _gauss, "spiral": _spiral, "moons": _moons}


def split(x: np.ndarray, y: np.ndarray, train_ratio: float, seed: int) -> Points:
    """Shuffle with `seed` and keep `train_ratio` of the points (at least one each side) for training."""
    order = np.random.default_rng(seed + 1).permutation(len(x))
    n_train = min(len(x) - 1, max(1, round(train_ratio * len(x))))
    tr, te = order[:n_train], order[n_train:]
    return Points(x[tr], y[tr], x[te], y[te])


def read_csv(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Points from an `x1,x2,label` CSV (a header line is optional). Two distinct labels become 0 and 1
    (in sorted order); the points are scaled to fit the plane. Raises DataError with one sentence."""
    if len(raw) > MAX_CSV_BYTES:
        raise DataError(f"The file is {len(raw) / 1e6:.1f} MB; a points CSV may have at most "
                        f"{MAX_CSV_BYTES // 1_000_000} MB.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError("The file is not text (UTF-8): save it as CSV with columns x1,x2,label.") from None
    rows = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
    if rows and not _numeric(rows[0][0] if rows[0] else ""):
        rows = rows[1:]  # a header line
    if not rows:
        raise DataError("The file has no data rows: it needs one point per line as x1,x2,label.")
    points, labels = [], []
    for line, row in enumerate(rows, start=1):
        if len(row) != 3:
            raise DataError(f"Data row {line} has {len(row)} columns; each row needs exactly 3: x1,x2,label.")
        try:
            a, b = float(row[0]), float(row[1])
        except ValueError:
            raise DataError(f"Data row {line}: x1 and x2 must be numbers, got {row[0].strip()!r}, "
                            f"{row[1].strip()!r}.") from None
        if not (math.isfinite(a) and math.isfinite(b)):
            raise DataError(f"Data row {line}: x1 and x2 must be finite numbers.")
        points.append((a, b))
        labels.append(row[2].strip())
    if not MIN_POINTS <= len(points) <= MAX_POINTS:
        raise DataError(f"The file has {len(points)} points; the Playground takes {MIN_POINTS} to {MAX_POINTS}.")
    classes = sorted(set(labels), key=lambda s: (not _numeric(s), float(s) if _numeric(s) else 0.0, s))
    if len(classes) != 2:
        raise DataError(f"The label column has {len(classes)} distinct value{'s' * (len(classes) != 1)}; "
                        f"the Playground separates exactly 2 classes.")
    x = np.asarray(points, np.float64)
    x = x - (x.max(0) + x.min(0)) / 2
    scale = np.abs(x).max()
    x = x * (5.0 / scale) if scale > 0 else x
    y = np.asarray([classes.index(s) for s in labels], np.float32)
    return x.astype(np.float32), y


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
