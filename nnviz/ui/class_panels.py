"""Class canvas page panels: the link and QR code, the live gallery and moderation, training and the comparison.

Students never open this page: they draw on the static page at /nnviz/class (nnviz.ui.class_routes).
Everything here that changes the class set or trains is the presenter's (nnviz.ui.access).
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import streamlit as st

from nnviz import share
from nnviz.classset import compare as cmp
from nnviz.classset import dataset as class_data
from nnviz.classset.store import N_CLASSES, ClassStore
from nnviz.data import DatasetMissing
from nnviz.figures.classification import confusion_heatmap
from nnviz.figures.images import gallery, image_grid
from nnviz.jobs import runs
from nnviz.ui import access, live, live_panel, presenter
from nnviz.ui.class_routes import PAGE_PATH, store
from nnviz.ui.resources import checkpoint_model

SLOT = "class_canvas"
GALLERY_PER_CLASS = 12  # newest thumbnails shown per digit
GALLERY_POLL_S = 3.0
EPOCHS = {"scratch": 15, "finetune": 6}  # defaults that finish in well under a minute on ~100 drawings
FOCUS_KEY = "class_canvas:focus"  # "collect" (QR code and class set first) or "train" (training and comparison first)
MAX_EPOCHS = 5000  # long enough to train while the class draws; Stop ends a run early and still compares it


def student_link() -> str:
    """The address students open: this server's as the room can reach it, on the Collect page."""
    parts = urlsplit(share.room_url(st.context.url or "http://localhost:8501/"))
    return urlunsplit((parts.scheme, parts.netloc, PAGE_PATH, "", ""))


def link_panel() -> None:
    link = student_link()
    st.markdown(f'<img data-testid="class-qr" alt="QR code of {link}" src="{share.qr_data_uri(link)}" '
                'style="width:100%;max-width:230px;display:block;margin:auto">', unsafe_allow_html=True)
    st.markdown(f"**Students open** [`{link.split('://', 1)[1]}`]({link})")
    st.caption("On a phone or a laptop. No names are stored: each browser gets an anonymous id.")


def settings_panel(s: ClassStore) -> None:
    """Open / closed and the digit asked for (presenter only)."""
    allowed = access.unlocked()
    is_open = s.is_open()
    st.toggle("Collection open", value=is_open, key="class_open", disabled=not allowed,
              on_change=lambda: s.set_open(bool(st.session_state["class_open"])))
    choices = ["any digit (students pick the label)"] + [f"draw a {d}" for d in range(N_CLASSES)]
    prompt = s.prompt()
    st.selectbox("Ask for", choices, index=0 if prompt is None else prompt + 1, key="class_prompt",
                 disabled=not allowed,
                 on_change=lambda: s.set_prompt(None if st.session_state["class_prompt"] == choices[0]
                                                else choices.index(st.session_state["class_prompt"]) - 1))


def gallery_panel(s: ClassStore) -> None:
    """Per-class counts and the newest drawings of each digit, redrawn every few seconds while collecting."""
    @st.fragment(run_every=GALLERY_POLL_S if s.is_open() else None)
    def body() -> None:
        counts, total = s.counts(), s.count()
        st.markdown(f'<div data-testid="class-count">The class set: <b>{total}</b> drawings · '
                    + " · ".join(f"{d}: {n}" for d, n in enumerate(counts)) + "</div>", unsafe_allow_html=True)
        if not total:
            st.info("No drawings yet. Show the QR code: drawings appear here as they arrive.",
                    icon=":material/hourglass_top:")
            return
        width = int(min(GALLERY_PER_CLASS, counts.max()))  # no columns of empty tiles while the set is small
        tiles, captions = [], []
        for digit in range(N_CLASSES):
            row = s.drawings(label=digit, limit=width)
            tiles += [d.pixels for d in row] + [np.zeros((28, 28), np.uint8)] * (width - len(row))
            captions += [f"#{d.id}" for d in row] + [""] * (width - len(row))
        fig = image_grid(np.stack(tiles).astype(np.float32) / 255, width, captions=captions,
                         row_labels=[f"{d} ({n})" for d, n in enumerate(counts)], tile_px=44,
                         title=f"The newest {GALLERY_PER_CLASS} drawings of each digit (# is the drawing's number)")
        st.plotly_chart(presenter.figure(fig), key="class_gallery", config={"displayModeBar": False})

    body()


def moderation_panel(s: ClassStore) -> None:
    if not access.control_allowed("moderate the class set"):
        return
    c = st.columns([1, 1.3, 1.6], vertical_alignment="bottom")
    number = c[0].number_input("Drawing #", min_value=1, step=1, value=None, key="class_pick")
    drawing = s.get(int(number)) if number else None
    if c[1].button("Delete this drawing", key="class_delete", disabled=drawing is None, icon=":material/delete:"):
        st.toast(f"Deleted drawing #{drawing.id}." if s.delete(drawing.id) else "It was already gone.")
    if c[2].button("Delete all of its sender's drawings", key="class_delete_sender", disabled=drawing is None,
                   icon=":material/person_remove:"):
        st.toast(f"Deleted {s.delete_submitter(drawing.submitter)} drawings of that browser.")
    if number and drawing is None:
        st.caption(f"There is no drawing #{int(number)} (deleted, or not sent yet).")
    elif drawing is not None:
        st.caption(f"Drawing #{drawing.id}: labelled {drawing.label}; its browser sent "
                   f"{s.submitter_count(drawing.submitter)} drawings.")
    w = st.columns([1, 1.3, 1.6], vertical_alignment="bottom")
    sure = w[0].checkbox("I mean it", key="class_wipe_sure")
    if w[1].button("Wipe the class set", key="class_wipe", disabled=not sure, icon=":material/delete_forever:"):
        st.toast(f"Wiped {s.wipe()} drawings.")
    w[2].download_button("Export (.npz)", data=lambda: class_data.export_npz(s), file_name="class_canvas.npz",
                         key="class_export_npz", icon=":material/download:", on_click="ignore")
    st.download_button("Export (torchvision folder, .zip)", data=lambda: class_data.export_zip(s),
                       file_name="class_canvas.zip", key="class_export_zip", icon=":material/folder_zip:",
                       on_click="ignore")


def train_panel() -> runs.Run | None:
    """Mode, epochs and Start (presenter only); the run followed on this page."""
    run = live.current(SLOT)
    active = run is not None and run.active
    allowed = access.control_allowed("train on the class set")
    c = st.columns([2.2, 1, 1.2, 0.7], vertical_alignment="bottom")
    mode = c[0].radio("Train", list(cmp.MODES), format_func=cmp.MODES.get, key="class_mode", horizontal=True)
    epochs = c[1].number_input("Epochs", 1, MAX_EPOCHS, EPOCHS[mode], key=f"class_epochs_{mode}")
    if c[2].button("Train on the class set", key="class_train", type="primary", disabled=active or not allowed,
                   icon=":material/play_arrow:", width="stretch"):
        try:
            class_data.load_raw(store())  # too few drawings: say so here, not in a failed run
        except class_data.TooFewDrawings as exc:
            st.warning(str(exc), icon=":material/hourglass_top:")
        else:
            run = live.start(SLOT, cmp.run_config(mode, int(epochs))) or run
    c[3].button("Stop", key="class_stop", disabled=not live.stoppable(run), icon=":material/stop:", width="stretch",
                on_click=lambda: live.stop(run) if run is not None else None)  # after Train: a run it started
    live.show_start_problem(SLOT)
    return run


def live_run(run: runs.Run) -> None:
    """The run's curves and a strip of held-out drawings with their current predictions."""
    try:
        data = cmp.held_out()
    except DatasetMissing as exc:
        st.warning(str(exc))
        return
    y = data.y_test.numpy()
    idx = np.arange(min(len(y), 20))
    pixels = (data.x_test[idx, 0] * 0.3081 + 0.1307).clamp(0, 1).numpy()
    live_panel.run_view(run, pixels, idx, y[idx], data.classes, every_s=1.0)


def comparison_panel(run_id: str) -> None:
    """Side by side on the held-out class drawings: the shipped MNIST model and the class model."""
    if not re.fullmatch(runs.RUN_ID_PATTERN, run_id):  # it comes from the address bar
        return
    final = runs.runs_dir() / run_id / "final.pt"
    record = runs.read_view(final.parent) if final.parent.is_dir() else None
    if record is None or not final.is_file():
        if record is not None and record.status == "failed":
            st.error(f"Training failed: {record.message}", icon=":material/error:")
        return
    try:
        data = cmp.held_out()
    except DatasetMissing as exc:
        st.warning(str(exc))
        return
    _, class_model = checkpoint_model(final)
    verdicts = cmp.compare(class_model, data)
    pixels = (data.x_test[:, 0] * 0.3081 + 0.1307).clamp(0, 1).numpy()
    y = data.y_test.numpy()
    st.markdown(f"**On the {len(y)} held-out class drawings** (never trained on) · run `{run_id}`")
    cols = st.columns(2, gap="large")
    for col, v in zip(cols, verdicts):
        with col:
            st.metric(v.title, f"{v.accuracy:.0%}", help="accuracy on the held-out class drawings")
            st.plotly_chart(presenter.figure(confusion_heatmap(v.cm, data.classes, title=f"{v.title}: confusion",
                                                              height=380)),
                            key=f"class_cm_{v.title}")
            if len(v.wrong):
                w = v.wrong[:20]
                st.plotly_chart(presenter.figure(gallery(pixels[w], y[w], v.pred[w], v.conf[w], data.classes,
                                                         indices=w, ncols=10, tile_px=48,
                                                         title=f"What fooled it ({len(v.wrong)} wrong, "
                                                               "most confident first)")),
                                key=f"class_wrong_{v.title}")
            else:
                st.success("It reads every held-out drawing right.", icon=":material/check_circle:")
