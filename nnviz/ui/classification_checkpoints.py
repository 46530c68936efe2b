"""Save the page's run as a named checkpoint; load a saved, shipped or uploaded one into the page.

A saved checkpoint carries the run's history and its per-epoch test predictions, so a
loaded one replays its curves and confusion matrices like the run did.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from nnviz import security
from nnviz.data import DATASETS
from nnviz.jobs import storage
from nnviz.jobs.run_folder import RunFolder
from nnviz.jobs.runs import RunView
from nnviz.model import checkpoints
from nnviz.ui import access, live
from nnviz.ui import classification_config as cc
from nnviz.ui.classification_panels import CHECKPOINT_KEY, SLOT, apply_settings

ERROR_KEY = "cls:checkpoint_error"
SAVED_KEY = "cls:checkpoint_saved"
PENDING_KEY = "cls:checkpoint_pending"  # (run label, name, path): a save waiting for overwrite / keep both


def save_run(run_dir: Path, snapshots: dict[int, dict], path: Path, exclusive: bool = False) -> Path:
    """Copy a finished run's final.pt to `path`, adding its per-epoch test predictions to the history
    (`exclusive`: FileExistsError rather than replace a file there)."""
    ckpt = checkpoints.load(RunFolder(run_dir).final_path)
    history = dict(ckpt.history, snapshots={str(k): v for k, v in sorted(snapshots.items())})
    return checkpoints.save(path, ckpt.model(), ckpt.config, task=ckpt.task, input_shape=ckpt.input_shape,
                            n_outputs=ckpt.n_outputs, classes=ckpt.classes, mean=ckpt.mean, std=ckpt.std,
                            metrics=ckpt.metrics, history=history, exclusive=exclusive)


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
    if not access.unlocked():  # presenter mode, checked server-side: the uploader is disabled, not gone
        st.session_state[ERROR_KEY] = access.upload_refusal("checkpoints")
        return
    shown = security.markdown_safe(upload.name[:80])
    try:
        # validate fully (format, task, dataset, weights that fit) before anything is written
        checkpoints.check_upload(upload.getvalue(), "classification", tuple(DATASETS))
        path = checkpoints.user_path(f"uploaded_{_stem(upload.name)}")
        if _holds(path, upload.getvalue()):  # the same file again: reuse it, no copy, no quota
            load_into_page(str(path))
            return
        refusal = access.upload_refusal("checkpoints")  # the quota: only for files that would be stored
        if refusal:
            st.session_state[ERROR_KEY] = refusal
            return
        path = _store_new(path.stem, upload.getvalue())  # never over an existing file: keep both
    except checkpoints.CheckpointError as exc:
        st.session_state[ERROR_KEY] = f"{shown}: {security.markdown_safe(str(exc))}"
        return
    except OSError as exc:
        st.session_state[ERROR_KEY] = f"{shown}: {storage.disk_problem(exc, checkpoints.user_dir())}"
        return
    access.count_upload()
    load_into_page(str(path))


def _store_new(name: str, data: bytes) -> Path:
    """Write `data` under the first free name from `name` on (name, name_2, ...), racing no other writer."""
    for _ in range(20):
        path = checkpoints.free_user_path(name)
        try:
            storage.atomic_write_bytes(path, data, exclusive=True)
            return path
        except FileExistsError:  # taken between the check and the write: the next free name
            continue
    raise checkpoints.CheckpointError("Too many checkpoints are being saved under this name: choose another.")


def _holds(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _stem(filename: str) -> str:
    """A file name's stem as a short safe name ('checkpoint' when nothing usable is left)."""
    try:
        return storage.safe_name(Path(filename.replace("\\", "/")).stem, max_len=40)
    except ValueError:
        return "checkpoint"


def _save(source: RunView, path: Path, overwrite: bool = False) -> None:
    """Save the source run to `path`; the outcome (path or error) goes to the session for the panel."""
    st.session_state.pop(PENDING_KEY, None)
    st.session_state.pop(SAVED_KEY, None)  # a stale "Saved to" never stays under a new outcome
    try:
        save_run(source.folder.path, source.snapshots, path, exclusive=not overwrite)
    except FileExistsError:  # another save took the name a moment ago: ask again
        st.session_state[PENDING_KEY] = (source.label, path.stem, str(path))
    except OSError as exc:
        st.session_state[ERROR_KEY] = f"Not saved: {storage.disk_problem(exc, path.parent)}"
    except (ValueError, checkpoints.CheckpointError) as exc:
        st.session_state[ERROR_KEY] = f"Not saved: {security.markdown_safe(str(exc))}"
    else:
        st.session_state[SAVED_KEY] = (source.label, str(path))


def _save_pressed(source: RunView, name: str) -> None:
    """Save, or ask first when a checkpoint of that name exists (never a silent overwrite)."""
    st.session_state.pop(SAVED_KEY, None)
    try:
        path = checkpoints.user_path(name)
    except ValueError as exc:
        st.session_state.pop(PENDING_KEY, None)
        st.session_state[ERROR_KEY] = f"Not saved: {security.markdown_safe(str(exc))}"
        return
    if path.exists():
        st.session_state[PENDING_KEY] = (source.label, name, str(path))
        return
    _save(source, path)


def _ask_overwrite(source: RunView) -> None:
    """The question a save under an existing name asks: overwrite it, or keep both."""
    label, name, path = st.session_state[PENDING_KEY]
    if label != source.label:
        st.session_state.pop(PENDING_KEY, None)
        return
    other = checkpoints.free_user_path(name)
    st.warning(f"A checkpoint named {security.markdown_safe(Path(path).stem)} already exists. Overwrite it, or keep "
               f"both (this one as {security.markdown_safe(other.stem)})?", icon=":material/warning:")
    c = st.columns(3)
    if c[0].button("Overwrite", key="cls_save_overwrite", icon=":material/save_as:"):
        _save(source, Path(path), overwrite=True)
        st.rerun()
    if c[1].button("Keep both", key="cls_save_keep", icon=":material/library_add:"):
        _save(source, other)
        st.rerun()
    if c[2].button("Cancel", key="cls_save_cancel"):
        st.session_state.pop(PENDING_KEY, None)
        st.rerun()


def _label(info: checkpoints.CheckpointInfo) -> str:
    acc = info.metrics.get("test_acc")
    return f"{info.name} · {info.kind} · {info.dataset}" + (f" · {acc:.1%}" if isinstance(acc, float) else "")


def panel(source: RunView | None, busy: bool) -> None:
    """Save (left) and load (right)."""
    left, right = st.columns(2)
    with left:
        st.markdown("**Save the current run**")
        can_save = source is not None and source.folder is not None and source.final_checkpoint is not None
        can_save = can_save and access.unlocked()  # presenter mode: the shared folder is the presenter's
        default = (f"{source.config.data.dataset}_{source.config.preset or 'custom'}" if source else "my_model")
        name = st.text_input("Checkpoint name", key="cls_save_name", placeholder=default)
        # `and can_save`: the button may have been drawn for the previous run (Start redraws only the run panel)
        if st.button("Save checkpoint", key="cls_save", disabled=not can_save, icon=":material/save:") and can_save:
            _save_pressed(source, name or default)
        if can_save and st.session_state.get(PENDING_KEY):
            _ask_overwrite(source)
        saved = st.session_state.get(SAVED_KEY)
        if saved and source is not None and saved[0] == source.label:
            st.success(f"Saved to {security.markdown_safe(saved[1])}", icon=":material/check:")
        if st.session_state.get(ERROR_KEY, "").startswith("Not saved"):
            st.error(st.session_state.pop(ERROR_KEY), icon=":material/error:")
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
                         disabled=busy or not access.unlocked(),
                         help="Only the presenter can upload here." if not access.unlocked() else None)
        if st.session_state.get(ERROR_KEY):
            st.error(st.session_state.pop(ERROR_KEY), icon=":material/error:")
