"""Below the Playground's live view: the network as PyTorch code, checkpoints, two networks side by side."""
from __future__ import annotations

import streamlit as st

from nnviz import security
from nnviz.playground import export, job, store
from nnviz.playground.config import ACTIVATIONS, FEATURES, MAX_NEURONS, PlaygroundConfig, SettingError
from nnviz.ui import access
from nnviz.ui import playground_live as live
from nnviz.ui import playground_settings as settings

PENDING = "pg:pending_checkpoint"  # a loaded checkpoint waiting for the page to start from it
CKPT_ERROR = "pg:ckpt_error"


def pending_checkpoint() -> tuple | None:
    """(weights, epoch, points) of a checkpoint just loaded, once; its settings are already applied."""
    return st.session_state.pop(PENDING, None)


def panel(running: job.PlaygroundJob) -> None:
    tab_code, tab_ckpt, tab_cmp = st.tabs([":material/code: PyTorch code", ":material/save: Checkpoint",
                                           ":material/compare: Compare two networks"])
    view = running.view(history_from=10**9)
    cfg, weights, epoch = running.config, view["weights"], view["epoch"]
    with tab_code:
        source = export.pytorch_source(cfg, weights, epoch)
        st.caption(f"The network with its weights after epoch {epoch:,} (as of this page's last redraw): the file "
                   "runs on its own with PyTorch and predicts what the map shows.")
        st.download_button("Download playground_net.py", source, file_name="playground_net.py", mime="text/x-python",
                           icon=":material/download:", key="pg_code_dl")
        st.code(source, language="python", height=260)
    with tab_ckpt:
        _checkpoint_tab(running, epoch)
    with tab_cmp:
        _compare_tab(cfg)


def _checkpoint_tab(running: job.PlaygroundJob, epoch: int) -> None:
    left, right = st.columns(2)
    with left:
        weights = running.view(history_from=10**9)["weights"]
        data = store.checkpoint_bytes(running.config, weights, epoch, running.points)
        st.download_button(f"Download checkpoint (epoch {epoch:,})", data, file_name=f"playground_{epoch}.pt",
                           icon=":material/download:", key="pg_ckpt_dl",
                           help="Settings, weights and (for your own CSV) the points, in one torch file.")
    with right:
        st.file_uploader("Load a Playground checkpoint (.pt)", type=["pt"], key="pg_ckpt_up", on_change=_load,
                         disabled=not access.unlocked())
        if st.session_state.get(CKPT_ERROR):
            st.error(st.session_state[CKPT_ERROR], icon=":material/error:")


def _load() -> None:
    upload = st.session_state.get("pg_ckpt_up")
    st.session_state.pop(CKPT_ERROR, None)
    if upload is None:
        return
    if not access.unlocked():
        st.session_state[CKPT_ERROR] = "Only the presenter can load checkpoints."
        return
    try:
        cfg, weights, epoch, points = store.load_checkpoint(upload.getvalue())
    except store.CheckpointError as exc:
        name = security.markdown_safe(upload.name[:80])
        st.session_state[CKPT_ERROR] = f"**{name}** cannot be loaded: {security.markdown_safe(str(exc))}"
        return
    settings.apply(cfg)
    st.session_state[PENDING] = (weights, epoch, points)


def _compare_tab(cfg: PlaygroundConfig) -> None:
    st.caption("Train your network (A) and another (B) on the same points from the same seed, side by side.")
    st.pills("B's input features", list(FEATURES), key="pg_b_feat", selection_mode="multi", format_func=FEATURES.get,
             default=list(cfg.features))
    c2, c3, c4 = st.columns(3, vertical_alignment="bottom")
    c2.text_input("B's hidden layers", key="pg_b_hidden", value=",".join(map(str, cfg.hidden)),
                  help=f"Neurons per layer, comma-separated, e.g. 8,8 (at most 6 layers of {MAX_NEURONS}; empty: none).")
    c3.selectbox("B's activation", ACTIVATIONS, key="pg_b_act", index=ACTIVATIONS.index(cfg.activation))
    go = c4.button("Train both", key="pg_cmp_go", icon=":material/play_arrow:", disabled=not access.unlocked())
    try:
        hidden = tuple(int(p) for p in st.session_state["pg_b_hidden"].replace(" ", "").split(",") if p)
        other = cfg.with_(features=tuple(f for f in FEATURES if f in (st.session_state["pg_b_feat"] or [])),
                          hidden=hidden, activation=st.session_state["pg_b_act"])
    except ValueError:
        st.error("B's hidden layers must be whole numbers separated by commas, e.g. 8,8.", icon=":material/error:")
        return
    except SettingError as exc:
        st.error(f"Network B: {exc}", icon=":material/error:")
        return
    pts = live.points(cfg)
    if pts is None:
        return
    if go:
        main = live.current("main")
        if main is not None:
            main.pause()  # two training slots: A and B take them
        live.follow("cmp_a", cfg, pts, play=True)
        live.follow("cmp_b", other, pts, play=True)
    a, b = live.current("cmp_a"), live.current("cmp_b")
    if a is None or b is None:
        return
    left, right = st.columns(2)
    for col, name, running in ((left, "A", a), (right, "B", b)):
        with col:
            c = running.config
            st.markdown(f"**{name}**: {', '.join(FEATURES[f] for f in c.features)} → "
                        f"{list(c.hidden) or 'no hidden layer'} {c.activation}")
            live.view(running, size=200, key=f"cmp{name}", compact=True)
