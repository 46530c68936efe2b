"""Fuzz: 200 seeded mutations of a valid checkpoint's meta and weights, each uploaded through the
Classification lab (AppTest), then every page rendered.

Mutations: wrong types (text, lists, mappings, booleans, null), NaN and infinities, negative and huge
sizes, missing and extra keys, unicode (right-to-left overrides, CJK, NULs), JSON nested thousands
deep, and tensors that are NaN, mis-shaped, of odd dtypes or not tensors at all. Outcomes checked:
no page raises; a refused upload shows one readable sentence and stores nothing; every file left in
the checkpoint folder passes the full upload check, and the pages that list or load models render
with all of them present.
"""
from __future__ import annotations

import copy
import io
import json
import math
import random

import pytest
import torch
from streamlit.testing.v1 import AppTest

from nnviz.config import ConvBlock, DataConfig, ModelConfig, RunConfig
from nnviz.data import DATASETS, load
from nnviz.model import checkpoints
from nnviz.model.models import build_model
from nnviz.ui import access
from tests.app.conftest import APP

N_MUTATIONS = 200
PAGES = ("app_pages/home.py", "app_pages/inside.py", "app_pages/explain.py", "app_pages/draw.py",
         "app_pages/classification.py")
CONFIG = RunConfig(data=DataConfig(dataset="digits"), model=ModelConfig(hidden=(8,), conv=(ConvBlock(4, 3),)))
HOSTILE_VALUES = ["0.97", "", "名前", "a\u202eb", "x\x00y", None, True, [], {}, [1, 2], {"a": 1}, -3, 0, 10**30,
                  -(10**30), 1e308, float("nan"), float("inf"), -float("inf"), 2**63 + 1, 0.5, 7, "[[[", "NaN"]


def _valid_payload() -> dict:
    model = build_model(CONFIG.model, (1, 28, 28), 10)
    torch.manual_seed(0)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.1)
    n_test = len(load(CONFIG.data).y_test)
    rows = [{"epoch": e, "train_loss": 2.0 / (e + 1), "val_loss": 2.1 / (e + 1), "test_loss": 2.2 / (e + 1),
             "train_acc": 0.1 + 0.2 * e, "val_acc": 0.1 + 0.2 * e, "test_acc": 0.1 + 0.2 * e, "elapsed": e * 0.5}
            for e in range(3)]
    meta = {"config": json.loads(CONFIG.to_json()), "task": "classification", "input_shape": [1, 28, 28],
            "n_outputs": 10, "classes": list(DATASETS["digits"].classes), "mean": [0.1556], "std": [0.2772],
            "metrics": dict(rows[-1]), "saved_at": 1.7e9,
            "history": {"epochs": rows, "batch_losses": [[0.5, 2.0], [1.0, 1.5]], "status": "finished", "reason": "",
                        "snapshots": {"2": {"test_pred": [i % 10 for i in range(n_test)],
                                            "test_conf": [0.5] * n_test}}}}
    return {"format": checkpoints.FORMAT, "version": checkpoints.VERSION, "meta": meta,
            "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()}}


def _paths(node, prefix=()):
    """Every (path, container) position in a JSON tree, leaves and inner nodes alike."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list) and node:
        for i in {0, len(node) - 1}:
            yield from _paths(node[i], prefix + (i,))


def _parent(tree, path):
    for step in path[:-1]:
        tree = tree[step]
    return tree


DEEP = "[" * 5000 + "]" * 5000  # json.dumps cannot even write this (RecursionError); spliced in as text


def _mutate_meta(meta: dict, rng: random.Random) -> str:
    """The meta as JSON text after one to three random mutations."""
    deep_at = None
    for _ in range(rng.randint(1, 3)):
        path = rng.choice([p for p in _paths(meta) if p])
        parent, key = _parent(meta, path), path[-1]
        kind = rng.choice(["value", "value", "value", "delete", "extra", "deep", "unicode_key", "grow"])
        if kind == "value":
            parent[key] = copy.deepcopy(rng.choice(HOSTILE_VALUES))
        elif kind == "delete" and isinstance(parent, dict):
            del parent[key]
        elif kind == "delete":
            parent.pop(key)
        elif kind == "extra" and isinstance(parent, dict):
            parent[rng.choice(["extra", "名前", "\u202e", "x" * 300, "epoch"])] = rng.choice(HOSTILE_VALUES)
        elif kind == "deep":
            parent[key] = "__DEEP__"
            deep_at = True
        elif kind == "unicode_key" and isinstance(parent, dict):
            parent["\u202e" + str(key) + "名"] = parent.pop(key)
        elif kind == "grow" and isinstance(parent[key], list):
            parent[key] = parent[key] * rng.choice([0, 2, 1000])
    text = json.dumps(meta)  # NaN and Infinity are written as JSON's non-standard tokens, which json.loads reads
    return text.replace('"__DEEP__"', DEEP) if deep_at else text


def _mutate_state(state: dict, rng: random.Random) -> None:
    name = rng.choice(sorted(state))
    kind = rng.choice(["nan", "inf", "shape", "huge", "dtype", "not_tensor", "delete", "extra", "empty", "bool"])
    t = state[name]
    if kind == "nan" and t.is_floating_point():
        state[name] = torch.full_like(t, math.nan)
    elif kind == "inf" and t.is_floating_point():
        state[name] = torch.full_like(t, math.inf)
    elif kind == "shape":
        state[name] = torch.zeros(t.numel() + 1)
    elif kind == "huge":
        state[name] = torch.zeros(1).expand(10**9)  # a billion elements on a one-float storage
    elif kind == "dtype":
        state[name] = t.to(rng.choice([torch.complex64, torch.int8, torch.float64]))
    elif kind == "not_tensor":
        state[name] = rng.choice([[1.0, 2.0], "weights", 3.5, {"a": torch.zeros(1)}])
    elif kind == "delete":
        del state[name]
    elif kind == "extra":
        state["名前.weight"] = torch.zeros(3)
    elif kind == "empty":
        state[name] = torch.empty(0)
    else:
        state[name] = t.bool()


def mutations(n: int = N_MUTATIONS, seed: int = 19) -> list[tuple[str, bytes]]:
    """(description, file bytes) for n seeded mutations: meta only, weights only, or both, or the header."""
    base = _valid_payload()
    out = []
    for i in range(n):
        rng = random.Random(seed * 100_003 + i)
        payload = copy.deepcopy(base)
        what = rng.choice(["meta", "meta", "meta", "state", "both", "header"])
        if what in ("state", "both"):
            _mutate_state(payload["state_dict"], rng)
        if what == "header":
            payload[rng.choice(["format", "version", "meta", "state_dict"])] = rng.choice(HOSTILE_VALUES)
            meta_text = json.dumps(payload["meta"]) if isinstance(payload["meta"], dict) else payload["meta"]
        else:
            meta_text = _mutate_meta(payload["meta"], rng) if what != "state" else json.dumps(payload["meta"])
        payload["meta"] = meta_text
        buf = io.BytesIO()
        torch.save(payload, buf)
        out.append((f"{what} #{i}", buf.getvalue()))
    return out


def _readable(message: str, name: str) -> bool:
    """One sentence (or two short ones) for a person: starts with the file name, no traceback, no dump."""
    body = message[len(name) + 2:]
    return (message.startswith(f"{name}: ") and "\n" not in message and "Traceback" not in message
            and 20 < len(body) < 400 and body.rstrip().endswith((".", ")")) and body[0].isupper())


@pytest.mark.timeout(1200)  # 200 uploads and every page rendered: ~1.5 min idle, many times that on a busy machine
def test_fuzzed_checkpoints_never_break_a_page_and_are_never_stored(nnviz_env, monkeypatch):
    monkeypatch.setattr(access, "UPLOADS_PER_SESSION", 10_000)  # the quota has its own test
    monkeypatch.setattr(access, "UPLOADS_PER_CLIENT_HOUR", 10_000)
    folder = nnviz_env / "checkpoints"
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("app_pages/classification.py").run()
    assert not at.exception, at.exception
    refused = accepted = 0
    for i, (what, raw) in enumerate(mutations()):
        name = f"m{i}.pt"
        before = set(folder.glob("*")) if folder.exists() else set()
        at.file_uploader(key="cls_upload").set_value((name, raw, "application/octet-stream")).run()
        assert not at.exception, (what, at.exception)
        errors = [e.value for e in at.error]
        after = set(folder.glob("*")) if folder.exists() else set()
        try:
            checkpoints.check_upload(raw, "classification", tuple(DATASETS))
            valid = True
        except checkpoints.CheckpointError:
            valid = False
        if valid:  # a harmless mutation (a float for a float): stored and loaded into the page
            accepted += 1
            assert len(after - before) == 1 and not errors, (what, errors)
        else:
            refused += 1
            assert after == before, what  # nothing stored, not even a temp file
            assert len(errors) == 1 and _readable(errors[0], name), (what, errors)
    assert refused + accepted == N_MUTATIONS and refused > N_MUTATIONS // 2  # the fuzzer mostly breaks things
    for path in folder.glob("*"):  # every stored file is a valid checkpoint, no leftovers
        assert path.suffix == ".pt", path
        checkpoints.check_upload(path.read_bytes(), "classification", tuple(DATASETS))
    stored = sorted(folder.glob("*.pt"))
    for model in (None, *stored[-1:]):  # the default model, then the last accepted upload picked on each page
        if model is not None:
            at.session_state["picked_model_path"] = str(model)
        for page in PAGES:
            at.switch_page(page).run()
            assert not at.exception, (page, model, at.exception)
