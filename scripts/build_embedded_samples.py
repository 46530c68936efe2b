"""Rebuild the embedded MNIST and Fashion-MNIST samples (nnviz/data/samples/) from a torchvision-layout folder.

    python scripts/build_embedded_samples.py ../shared/datasets   # reads MNIST/raw and FashionMNIST/raw

Each IDX file is stored xz-compressed (gzip would need ~3.2 MB for both sets, xz ~2.8 MB).
"""
from __future__ import annotations

import lzma
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nnviz.data.images import DATASETS, SAMPLES_DIR  # noqa: E402


def main(root: str) -> None:
    for name, info in DATASETS.items():
        if not info.sample_of:
            continue
        source = Path(root) / DATASETS[info.sample_of].folder
        target = SAMPLES_DIR / name
        target.mkdir(parents=True, exist_ok=True)
        for file in info.files:
            packed = lzma.compress((source / file).read_bytes(), preset=9 | lzma.PRESET_EXTREME)
            (target / f"{file}.xz").write_bytes(packed)
        print(f"{target}: {sum(f.stat().st_size for f in target.iterdir()) / 2**20:.2f} MB")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data")
