"""Save the page's run as a named checkpoint; load a saved, shipped or uploaded one into the page.

A saved checkpoint carries the run's history and its per-epoch test predictions, so a
loaded one replays its curves and confusion matrices like the run did.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from nnviz import checkpoints
from nnviz.data import DATASETS
from nnviz.storage import atomic_write, safe_name
from nnviz.run_folder import RunFolder
from nnviz.ui import classification_config as cc
from nnviz.ui import access, live
from nnviz.ui.classification_panels import CHECKPOINT_KEY, SLOT, apply_settings
from nnviz.ui.classification_results import Source

ERROR_KEY = "cls:checkpoint_error"
SAVED_KEY = "cls:checkpoint_saved"


def save_run(run_dir: Path, snapshots: dict[int, dict], path: Path) -> Path:
    """Copy a finished run's final.pt to `path`, adding its per-epoch test predictions to the history."""
    ckpt = checkpoints.load(RunFolder(run_dir).final_path)
    history = dict(ckpt.history, snapshots={str(k): v for k, v in sorted(snapshots.items())})
    return checkpoints.save(path, ckpt.model(), ckpt.config, task=ckpt.task, input_shape=ckpt.input_shape,
                            n_outputs=ckpt.n_outputs, classes=ckpt.classes, mean=ckpt.mean, std=ckpt.std,
                            metrics=ckpt.metrics, history=history)


def load_into_page(path: str) -> None:
    """Show checkpoint `path` instead of the run, and put its settings into the panels (a callback)."""
    run = live.current(SLOT)
    if run is not None and run.active:  # the button may have been drawn before Start (only the run panel redraws)
        st.session_state[ERROR_KEY] = "Stop the training run first: a checkpoint replaces it on this page."
        return
    try:
        ckpt = checkpoints.load(path)
    except checkpoints.CheckpointError as exc:
        st.session_state[ERROR_KEY] = str(exc)
        return
    if ckpt.task != "classification" or ckpt.config.data.dataset not in DATASETS:
        st.session_state[ERROR_KEY] = (f"{Path(path).name} is a {ckpt.task} checkpoint for "
                                       f"{ckpt.config.data.dataset!r}; this page loads image classifiers.")
        return
    st.session_state[CHECKPOINT_KEY] = str(path)
    st.session_state.pop("cls_replay", None)
    live.forget(SLOT)
    apply_settings(cc.settings_from_config(ckpt.config))


def _upload() -> None:
    upload = st.session_state.get("cls_upload")
    if upload is None:
        return
    data = upload.getvalue()
    try:
        # validate fully (format, task, dataset, weights that fit) before anything is written
        ckpt = checkpoints.check_upload(data, "classification", tuple(DATASETS))
        path = checkpoints.user_path(f"uploaded_{safe_name(Path(upload.name).stem)}")
    except (checkpoints.CheckpointError, ValueError) as exc:
        st.session_state[ERROR_KEY] = f"{upload.name}: {exc}"
        return
    if ckpt.task != "classification":
        st.session_state[ERROR_KEY] = f"{upload.name} is a {ckpt.task} checkpoint; this page loads image classifiers."
        return
    atomic_write(path, lambda fh: fh.write(data))
    load_into_page(str(path))


def _label(info: checkpoints.CheckpointInfo) -> str:
    acc = info.metrics.get("test_acc")
    return f"{info.name} · {info.kind} · {info.dataset}" + (f" · {acc:.1%}" if isinstance(acc, float) else "")


def panel(source: Source | None, busy: bool) -> None:
    """Save (left) and load (right)."""
    left, right = st.columns(2)
    with left:
        st.markdown("**Save the current run**")
        can_save = source is not None and source.kind == "run" and source.final_path is not None
        can_save = can_save and access.unlocked()  # presenter mode: the shared folder is the presenter's
        default = (f"{source.config.data.dataset}_{source.config.preset or 'custom'}" if source else "my_model")
        name = st.text_input("Checkpoint name", key="cls_save_name", placeholder=default)
        # `and can_save`: the button may have been drawn for the previous run (Start redraws only the run panel)
        if st.button("Save checkpoint", key="cls_save", disabled=not can_save, icon=":material/save:") and can_save:
            try:
                path = checkpoints.user_path(name or default)
                save_run(source.final_path.parent, source.snapshots, path)
            except (ValueError, OSError, checkpoints.CheckpointError) as exc:
                st.error(f"Not saved: {exc}")
            else:
                st.session_state[SAVED_KEY] = (source.label, str(path))
        saved = st.session_state.get(SAVED_KEY)
        if saved and source is not None and saved[0] == source.label:
            st.success(f"Saved to {saved[1]}", icon=":material/check:")
        if not access.unlocked():
            st.caption("Only the presenter can save checkpoints here.")
        elif not can_save:
            st.caption("Train a model (or wait for the run to end) to save it.")
    with right:
        st.markdown("**Load a checkpoint**")
        items = [c for c in checkpoints.list_checkpoints() if c.task == "classification"]
        if items:
            choice = st.selectbox("Shipped and saved checkpoints", range(len(items)), key="cls_ckpt_choice",
                                  format_func=lambda i: _label(items[i]))
            st.button("Load into the page", key="cls_load", on_click=load_into_page, args=(str(items[choice].path),),
                      disabled=busy, icon=":material/upload_file:",
                      help="Stop the training run first." if busy else "Its history and results come with it.")
        st.file_uploader("…or upload an nnviz checkpoint (.pt)", type=["pt"], key="cls_upload", on_change=_upload,
                         disabled=busy)
        if st.session_state.get(ERROR_KEY):
            st.error(st.session_state.pop(ERROR_KEY), icon=":material/error:")
