"""1-D regression sets: the course task, other synthetic functions, and x,y CSV files."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

DOMAIN = (-5.0, 5.0)  # x range of every synthetic set
# x ranges with no training points: the fit must interpolate across them.
COURSE_GAPS = ((-3.0, -1.8), (1.8, 3.0))
MAX_CSV_ROWS = 100_000  # more than any 1-D lecture demo needs; bigger files are refused
MAX_CSV_BYTES = 20 * 1024 * 1024


class CsvError(ValueError):
    """An uploaded CSV cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class Function:
    title: str
    fn: Callable[[np.ndarray], np.ndarray]
    gaps: tuple[tuple[float, float], ...] = COURSE_GAPS


FUNCTIONS: dict[str, Function] = {
    "course": Function("Course function: 1.5 sin(1.2x) + 0.08x² + 0.3x",
                       lambda x: 1.5 * np.sin(1.2 * x) + 0.08 * x**2 + 0.3 * x),
    "sine": Function("Sine: 2 sin(x)", lambda x: 2.0 * np.sin(x)),
    "polynomial": Function("Cubic: 0.05x³ − 0.6x", lambda x: 0.05 * x**3 - 0.6 * x),
    "step": Function("Step: sign(x)", lambda x: np.where(x < 0, -1.0, 1.0)),
    "abs": Function("Absolute value: |x| − 2", lambda x: np.abs(x) - 2.0),
    "sinc": Function("Sinc: 3 sin(2x)/(2x)", lambda x: 3.0 * np.sinc(2.0 * x / np.pi)),
}


@dataclass(frozen=True)
class RegressionSet:
    """Points as float32 arrays of shape (N, 1)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    gaps: tuple[tuple[float, float], ...]  # x ranges without training points
    noise: float  # std of the added noise; 0 for uploaded data (unknown)
    function: str  # a FUNCTIONS key, or 'csv'


def _in_gaps(x: np.ndarray, gaps: tuple[tuple[float, float], ...]) -> np.ndarray:
    mask = np.zeros_like(x, dtype=bool)
    for lo, hi in gaps:
        mask |= (x > lo) & (x < hi)
    return mask


def make_synthetic(function: str = "course", noise: float = 0.3, n_train: int = 100,
                   n_test: int = 100, seed: int = 0) -> RegressionSet:
    """Noisy samples of a FUNCTIONS entry: training x avoids the gaps, test x covers all."""
    if function not in FUNCTIONS:
        raise ValueError(f"unknown function {function!r}; choose from {', '.join(FUNCTIONS)}")
    spec = FUNCTIONS[function]
    rng = np.random.default_rng(seed)
    lo, hi = DOMAIN
    x_train = np.empty(0)
    while x_train.size < n_train:  # rejection sampling keeps the density uniform outside the gaps
        draw = rng.uniform(lo, hi, size=2 * n_train)
        x_train = np.concatenate([x_train, draw[~_in_gaps(draw, spec.gaps)]])
    x_train = np.sort(x_train[:n_train])
    x_test = np.sort(rng.uniform(lo, hi, size=n_test))
    y_train = spec.fn(x_train) + rng.normal(0.0, noise, size=n_train)
    y_test = spec.fn(x_test) + rng.normal(0.0, noise, size=n_test)
    col = lambda a: a.astype(np.float32).reshape(-1, 1)  # noqa: E731  (N,) -> (N, 1)
    return RegressionSet(col(x_train), col(y_train), col(x_test), col(y_test),
                         spec.gaps, float(noise), function)


def true_curve(function: str, x: np.ndarray) -> np.ndarray:
    """The noiseless function, for drawing it under the data."""
    return FUNCTIONS[function].fn(x)


MAX_CSV_VALUE = 1e15  # beyond this, squared errors overflow float32 (3.4e38) and training cannot work


def read_xy_csv(source: str | Path | bytes) -> tuple[np.ndarray, np.ndarray]:
    """Parse an x,y CSV (a path or the uploaded bytes) into two float32 arrays (N,).

    Takes the columns named x and y, else the first two numeric columns. Raises
    CsvError with a message fit for the UI for anything it cannot use.
    """
    try:
        raw = Path(source).read_bytes() if isinstance(source, (str, Path)) else bytes(source)
    except OSError as exc:  # missing file, a folder, no permission: a user error, not a traceback
        raise CsvError(f"Cannot read the CSV file {source}: {exc.strerror or exc}.") from None
    if not raw.strip():
        raise CsvError("The CSV file is empty. Upload a file with two numeric columns, x and y.")
    if len(raw) > MAX_CSV_BYTES:
        raise CsvError(f"The CSV file is {len(raw) / 2**20:.1f} MB; the limit is "
                       f"{MAX_CSV_BYTES / 2**20:.0f} MB ({MAX_CSV_ROWS:,} rows).")
    text = _decode(raw)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t ")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in row)]
    if not rows:
        raise CsvError("The CSV file has no rows. Upload a file with two numeric columns, x and y.")
    header = [c.strip().lower() for c in rows[0]]
    has_header = not all(_is_number(c) for c in rows[0])
    body = rows[1:] if has_header else rows
    if not body:
        raise CsvError("The CSV file has a header but no data rows.")
    if len(body) > MAX_CSV_ROWS:
        raise CsvError(f"The CSV file has {len(body):,} rows; the limit is {MAX_CSV_ROWS:,}. "
                       "Subsample it first (1-D regression needs far fewer points).")
    width = max(len(r) for r in body)
    if width < 2:
        raise CsvError("The CSV file has only one column. It needs two numeric columns, x and y, "
                       "separated by commas (semicolons and tabs also work).")
    if has_header and "x" in header and "y" in header:
        ix, iy = header.index("x"), header.index("y")
    else:
        numeric = [j for j in range(width) if all(j < len(r) and _is_number(r[j]) for r in body)]
        if len(numeric) < 2:
            raise CsvError("The CSV file needs two numeric columns (x and y); found "
                           f"{len(numeric)} column(s) where every value is a number.")
        ix, iy = numeric[:2]
    try:
        x = np.array([float(r[ix]) for r in body], dtype=np.float64)
        y = np.array([float(r[iy]) for r in body], dtype=np.float64)
    except (ValueError, IndexError):
        raise CsvError("Some x or y values are missing or are not numbers.") from None
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        first = int(np.argmax(bad)) + 1 + int(has_header)
        raise CsvError(f"{int(bad.sum())} row(s) have NaN or infinite values (first at line {first}). "
                       "Remove or fill them and upload again.")
    huge = (np.abs(x) > MAX_CSV_VALUE) | (np.abs(y) > MAX_CSV_VALUE)
    if huge.any():
        first = int(np.argmax(huge)) + 1 + int(has_header)
        raise CsvError(f"{int(huge.sum())} row(s) have values beyond ±{MAX_CSV_VALUE:.0e} (first at line {first}), "
                       "too large to train on: rescale the columns (e.g. to other units) and upload again.")
    if len(x) < 4:
        raise CsvError(f"The CSV file has {len(x)} data row(s); at least 4 are needed to train and test.")
    return x.astype(np.float32), y.astype(np.float32)


def split_csv(x: np.ndarray, y: np.ndarray, seed: int = 0, test_fraction: float = 0.3) -> RegressionSet:
    """A seeded random train/test split of uploaded points; no gaps are known."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_test = max(1, int(round(len(x) * test_fraction)))
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
    col = lambda a: a.astype(np.float32).reshape(-1, 1)  # noqa: E731
    return RegressionSet(col(x[train]), col(y[train]), col(x[test]), col(y[test]), (), 0.0, "csv")


def _decode(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    if b"\x00" in raw[:4096]:
        raise CsvError("This does not look like a text CSV file (it contains binary data).")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CsvError("The file is not UTF-8 text. Save it as a UTF-8 CSV with x and y columns.") from None


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
