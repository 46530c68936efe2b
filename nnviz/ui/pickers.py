"""The model and image pickers shared by the inspection pages (inside, explain, draw).

The chosen model and image selection live in non-widget session keys, so they follow
the user from page to page.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from nnviz.analysis import overview, selection
from nnviz.data import DATASETS, DatasetMissing, TaskData, denormalise
from nnviz.figures.predictions import top_k_bar
from nnviz.model import checkpoints
from nnviz.training.train import predict
from nnviz.ui import presenter
from nnviz.ui.resources import checkpoint_model, task_data

MODEL_KEY = "picked_model_path"  # survives page switches (not a widget key)
IMAGES_KEY = "picked_images"  # {'mode', 'index', 'cls', 'seed'}
DEFAULT_MODEL = checkpoints.DEFAULT_MODEL


@dataclass
class PickedModel:
    path: Path
    checkpoint: checkpoints.Checkpoint
    model: torch.nn.Module  # shared and cached: eval mode, never train or mutate it
    data: TaskData | None  # None when the page asked for no test data (model_picker(need_data=False))


def model_picker(task: str = "classification", key: str = "model_picker", need_data: bool = True) -> PickedModel:
    """A select box over shipped / saved checkpoints and finished runs; stops the page on errors.

    `need_data=False`: the model's test set is not loaded (`data` is None), so a page that
    only runs the model on its own inputs (Draw) works even when the set is not on disk.
    """
    sources = overview.model_sources(task)
    if not sources:
        st.warning("No trained model yet. Train one in a lab first.")
        st.stop()
    paths = [s["path"] for s in sources]
    saved = st.session_state.get(MODEL_KEY, str(DEFAULT_MODEL))
    index = paths.index(saved) if saved in paths else 0
    choice = st.selectbox("Model", range(len(sources)), index=index, key=key,
                          format_func=lambda i: sources[i]["label"],
                          help="Shipped and saved checkpoints, and the final model of every finished run.")
    path = paths[choice]
    st.session_state[MODEL_KEY] = path
    try:
        ckpt, model = checkpoint_model(path)
        data = task_data(ckpt.config.data) if need_data else None
    except checkpoints.CheckpointError as exc:
        st.error(f"This model cannot be loaded: {exc}")
        st.stop()
    except OSError:  # deleted (or its folder unmounted) since the list was made
        st.error(f"The model file {Path(path).name} is gone. Pick another model.")
        st.stop()
    except DatasetMissing as exc:
        st.error(f"The test images of this model are not available. {exc}")
        st.stop()
    return PickedModel(Path(path), ckpt, model, data)


@st.cache_data(max_entries=16, show_spinner="Classifying the test set…")
def _test_probs(path: str, mtime_ns: int) -> np.ndarray:
    ckpt, model = checkpoint_model(path)
    data = task_data(ckpt.config.data)
    return torch.softmax(predict(model, data.x_test).float(), 1).numpy()  # (N, K)


def test_probabilities(picked: PickedModel) -> np.ndarray:
    """Softmax outputs of the picked model on its test set, cached per checkpoint file."""
    return _test_probs(str(picked.path), picked.path.stat().st_mtime_ns)


@dataclass
class PickedImages:
    indices: list[int]  # positions in the test set
    x: torch.Tensor  # (n, C, H, W) normalised model inputs
    labels: np.ndarray  # (n,) true classes
    probs: np.ndarray  # (n, K) predicted probabilities
    pixels: np.ndarray  # (n, H, W) or (n, H, W, 3) in [0, 1], for display


def image_picker(picked: PickedModel, n: int = 1, key: str = "images", show: bool = True) -> PickedImages:
    """Mode, class and index controls, then (`show`) the chosen images with their top-5 probabilities;
    a page that wants its own picture first calls `show_images` further down."""
    data, classes = picked.data, picked.checkpoint.classes
    labels = data.y_test.numpy()
    probs = test_probabilities(picked)
    state = st.session_state.setdefault(IMAGES_KEY, {"mode": "index", "index": 0, "cls": None, "seed": 0})
    cols = st.columns([2, 2, 1])
    modes = list(selection.MODES)
    state["mode"] = cols[0].selectbox("Choose images", modes, index=modes.index(state["mode"]),
                                      format_func=selection.MODES.get, key=f"{key}_mode")
    if state["mode"] == "index":
        state["index"] = cols[1].number_input(f"Test image index (0–{len(labels) - 1})", 0, len(labels) - 1,
                                              min(int(state["index"]), len(labels) - 1), key=f"{key}_index")
    else:
        options = [None, *range(len(classes))]
        current = state["cls"] if state["cls"] in options else None
        state["cls"] = cols[1].selectbox("True class", options, index=options.index(current),
                                         format_func=lambda c: "any class" if c is None else classes[c],
                                         key=f"{key}_cls")
    if state["mode"] == "random" and cols[2].button("Shuffle", key=f"{key}_shuffle", width="stretch"):
        state["seed"] += 1
    indices = selection.pick(state["mode"], labels, probs, n, index=state["index"], cls=state["cls"],
                             seed=state["seed"])
    if not indices:
        st.info("No test image matches this choice. Pick another class or mode.")
        st.stop()
    idx = torch.tensor(indices)
    info = DATASETS[data.name]
    pixels = denormalise(data.x_test[idx], info).numpy()  # (n, C, H, W)
    pixels = pixels[:, 0] if pixels.shape[1] == 1 else pixels.transpose(0, 2, 3, 1)
    result = PickedImages(indices, data.x_test[idx], labels[indices], probs[indices], pixels)
    if show:
        show_images(result, classes)
    return result


def show_images(images: PickedImages, classes: tuple[str, ...]) -> None:
    """The first chosen image with its top-5 probabilities, and a strip of the others."""
    first = images.probs[0]
    cols = st.columns([1, 3])
    with cols[0]:
        st.image(np.kron(images.pixels[0], np.ones((6, 6) + images.pixels[0].shape[2:]))
                 if images.pixels[0].ndim == 2 else images.pixels[0], clamp=True, width=168)
        st.markdown(f"**#{images.indices[0]}** · true: **{classes[images.labels[0]]}**")
    with cols[1]:
        top5 = top_k_bar(first, classes, 5, int(images.labels[0]), title="Top-5 prediction", height=230)
        st.plotly_chart(presenter.figure(top5), key="picked_top5", width="stretch")
    if len(images.indices) > 1:
        strip = st.columns(min(len(images.indices), 8))
        for col, i, pix, label, p in zip(strip, images.indices, images.pixels, images.labels, images.probs):
            mark = "✓" if p.argmax() == label else "✗"
            col.image(pix, clamp=True, width=72, caption=f"#{i} {classes[label]} → {classes[p.argmax()]} {mark}")


def images_at(picked: PickedModel, indices: list[int]) -> PickedImages:
    """The test images at these positions, with no widgets (e.g. a second image to compare)."""
    data = picked.data
    n = len(data.y_test)
    indices = [int(min(max(i, 0), n - 1)) for i in indices]
    idx = torch.tensor(indices)
    pixels = denormalise(data.x_test[idx], DATASETS[data.name]).numpy()  # (n, C, H, W)
    pixels = pixels[:, 0] if pixels.shape[1] == 1 else pixels.transpose(0, 2, 3, 1)
    return PickedImages(indices, data.x_test[idx], data.y_test.numpy()[indices], test_probabilities(picked)[indices],
                        pixels)
