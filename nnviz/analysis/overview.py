"""What is on this machine: datasets, checkpoints and runs, as rows for tables."""
from __future__ import annotations

import datetime as dt

from nnviz.data import DATASETS, data_dir, is_present
from nnviz.jobs import runs
from nnviz.model import checkpoints


def dataset_rows(root: str | None = None) -> list[dict]:
    """One row per image set: present or not, and where it lives."""
    rows = []
    for name, info in DATASETS.items():
        present = info.embedded or is_present(name, root)
        where = ("embedded (a real sample)" if info.sample_of else "the class's drawings (Class canvas)"
                 if name == "class_canvas" else "embedded (scikit-learn)" if info.embedded
                 else str((data_dir(root) / info.folder).resolve()))
        rows.append({"dataset": name, "title": info.title, "present": present,
                     "input": "×".join(map(str, info.shape)), "classes": len(info.classes),
                     "download": "—" if info.embedded else f"{info.download_mb} MB", "location": where})
    return rows


def _metric(metrics: dict) -> str:
    if "test_acc" in metrics:
        return f"test accuracy {metrics['test_acc']:.2%}"
    if "test_loss" in metrics:
        return f"test loss {metrics['test_loss']:.4g}"
    return ""


def checkpoint_rows() -> list[dict]:
    return [{"name": c.name, "kind": c.kind, "dataset": c.dataset, "preset": c.preset or "custom",
             "result": _metric(c.metrics), "size": f"{c.size_bytes / 1024:.0f} KiB", "path": str(c.path)}
            for c in checkpoints.list_checkpoints()]


def unreadable_checkpoints() -> list[dict]:
    """Checkpoint files in the folders that fail the checks: listed so the presenter can remove them."""
    return [{"name": c.path.name, "kind": c.kind, "reason": c.error, "path": str(c.path)}
            for c in checkpoints.list_checkpoints(unreadable=True) if c.error]


def run_rows(limit: int = 50) -> list[dict]:
    rows = []
    for record in runs.list_runs()[:limit]:
        last = record.history[-1] if record.history else {}
        cfg = record.config
        rows.append({"run": record.id, "status": record.status,
                     "dataset": cfg.data.dataset if cfg else "?", "preset": (cfg.preset or "custom") if cfg else "?",
                     "epochs": int(last.get("epoch", 0)), "result": _metric(last),
                     "started": _started(record.id)})
    return rows


def _started(run_id: str) -> str:
    try:
        return dt.datetime.strptime(run_id[:15], "%Y%m%d-%H%M%S").strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return ""


def model_sources(task: str = "classification", max_runs: int = 30) -> list[dict]:
    """Models an inspection page can load: shipped, saved, then finished runs (newest first).

    Each item: {'label', 'path', 'kind'}.
    """
    items = [{"label": f"{c.name} ({c.kind}, {c.dataset}{', ' + _metric(c.metrics) if c.metrics else ''})",
              "path": str(c.path), "kind": c.kind}
             for c in checkpoints.list_checkpoints() if c.task == task]
    for record in runs.list_runs()[:max_runs]:
        cfg, final = record.config, record.final_checkpoint
        if cfg is None or final is None or cfg.data.task != task:
            continue
        last = record.history[-1] if record.history else {}
        items.append({"label": f"run {record.id} ({cfg.preset or 'custom'}, {_metric(last)})",
                      "path": str(final), "kind": "run"})
    return items
