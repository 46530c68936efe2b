"""Cached, shared resources: datasets and checkpoint models.

`st.cache_resource` objects are shared by every session and thread: callers must not
train them or flip train()/eval() on them. Models come back in eval mode; copy one
(`copy.deepcopy`) before changing it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import streamlit as st
import torch

from nnviz.config import DataConfig, from_dict, to_dict
from nnviz.data import TaskData, load
from nnviz.model import checkpoints


@st.cache_resource(max_entries=8, show_spinner="Loading data…")
def _data(config_json: str) -> TaskData:
    return load(from_dict(DataConfig, json.loads(config_json)))


def task_data(cfg: DataConfig) -> TaskData:
    """The tensors of a data config, cached by the config's JSON (shared, read-only)."""
    return _data(json.dumps(to_dict(cfg), sort_keys=True))


@st.cache_resource(max_entries=16, show_spinner="Loading model…")
def _checkpoint(path: str, mtime_ns: int) -> tuple[checkpoints.Checkpoint, torch.nn.Module]:
    # mtime_ns is only part of the cache key (no leading underscore: Streamlit would not hash it),
    # so a checkpoint saved again under the same name is loaded afresh
    ckpt = checkpoints.load(path)
    return ckpt, ckpt.model()


def checkpoint_model(path: str | os.PathLike) -> tuple[checkpoints.Checkpoint, torch.nn.Module]:
    """(checkpoint, eval-mode model), cached by path and modification time."""
    path = Path(path)
    return _checkpoint(str(path.resolve()), path.stat().st_mtime_ns)
