"""Run comparison: which config fields differ between runs, and their final metrics side by side."""
from __future__ import annotations

import math
import re
from typing import Any, Sequence

import pandas as pd

from nnviz.config import to_dict
from nnviz.jobs.runs import RunView

METRIC_KEYS = ("train_loss", "val_loss", "test_loss", "train_acc", "val_acc", "test_acc")


def started_at(run_id: str) -> str:
    """'16:22:18' from a run id ('20261203-162218-regression-ab12cd'), or '' for an id of another shape."""
    m = re.match(r"\d{8}-(\d{2})(\d{2})(\d{2})-", run_id)
    return ":".join(m.groups()) if m else ""


def run_label(record: RunView) -> str:
    """A short, unique-enough label: the run's name (else preset/dataset) and the time it started, so two
    runs of one lab set-up ('Small MLP on course') are told apart; the id's tail where there is no time."""
    cfg = record.config
    when = started_at(record.id) or record.id[-6:]
    if cfg is not None and cfg.name:
        return f"{cfg.name} · {when}"
    what = (cfg.preset or cfg.model.kind) if cfg is not None else "?"
    data = cfg.data.dataset if cfg is not None else "?"
    return f"{what} · {data} · {when}"


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for key, value in obj.items():
            out.update(_flatten(value, f"{prefix}{key}."))
    elif isinstance(obj, list) and obj and all(isinstance(v, dict) for v in obj):
        out[prefix[:-1]] = f"{len(obj)} blocks: " + "; ".join(
            "-".join(str(v) for v in block.values()) for block in obj)
    else:
        out[prefix[:-1]] = ",".join(map(str, obj)) if isinstance(obj, list) else obj
    return out


def _column_names(records: Sequence[RunView]) -> list[str]:
    """Run labels, with the id's tail added where two runs share one (e.g. a lesson run twice)."""
    labels = [run_label(r) for r in records]
    return [f"{label} · {r.id[-6:]}" if labels.count(label) > 1 else label for label, r in zip(labels, records)]


def config_table(records: Sequence[RunView]) -> tuple[pd.DataFrame, list[str]]:
    """(fields x runs table of every config value, the fields whose values differ between the runs)."""
    columns = {name: _flatten(to_dict(r.config)) if r.config is not None else {}
               for name, r in zip(_column_names(records), records)}
    frame = pd.DataFrame(columns).astype(str)
    frame.index.name = "field"
    differing = [f for f in frame.index if frame.loc[f].nunique() > 1] if len(records) > 1 else []
    return frame, differing


def final_metrics(records: Sequence[RunView]) -> pd.DataFrame:
    """One row per run: status, epochs, final metrics, best validation loss and training time."""
    rows = []
    for r in records:
        last = r.history[-1] if r.history else {}
        vals = [h.get("val_loss", math.nan) for h in r.history if h.get("epoch", 0) > 0]
        finite = [v for v in vals if v is not None and math.isfinite(v)]
        row = {"run": run_label(r), "status": r.status, "epochs": int(last.get("epoch", 0))}
        row.update({k: last.get(k, math.nan) for k in METRIC_KEYS})
        row.update(best_val_loss=min(finite) if finite else math.nan, seconds=last.get("elapsed", math.nan))
        rows.append(row)
    frame = pd.DataFrame(rows)
    return frame.dropna(axis=1, how="all") if len(frame) else frame


def distinct_labels(records: Sequence[RunView], max_fields: int = 2) -> list[str]:
    """Labels that say what differs: 'mlp_dropout · digits · lr=0.01' rather than two equal names and ids.

    Runs with a name keep it; otherwise up to `max_fields` differing settings replace the id tail.
    """
    if len(records) < 2:
        return [run_label(r) for r in records]
    table, differing = config_table(records)
    fields = [f for f in differing if f != "name"][:max_fields]
    out = []
    for column, r in zip(table.columns, records):
        if (r.config is not None and r.config.name) or not fields:
            out.append(run_label(r))
            continue
        what = (r.config.preset or r.config.model.kind) if r.config is not None else "?"
        out.append(f"{what} · " + ", ".join(f"{f.split('.')[-1]}={table.loc[f, column]}" for f in fields))
    # two runs may still differ only in fields left out: then their start times, else id tails, tell them apart
    if len(set(out)) < len(out):
        out = [o if r.config is not None and r.config.name else f"{o} · {started_at(r.id) or r.id[-6:]}"
               for o, r in zip(out, records)]
    return out if len(set(out)) == len(out) else [f"{o} · {r.id[-6:]}" for o, r in zip(out, records)]
