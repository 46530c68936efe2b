"""Widget panels of the Draw & predict page: input (canvas, upload, camera), prediction, steps, inside view.

Every new stroke is classified afresh (preprocessing, one forward and a fast attribution take
a few tens of milliseconds on a CPU); the session keeps its last answer, so reruns that do not
change the input, the model or the method (the top-k slider, the attribution view) redo none
of it. The model is the shared cached one (read only: nnviz.data.preprocess.classify hooks it
inside a capture that removes its hooks, and Captum works on a private copy).
"""
from __future__ import annotations

import hashlib
import html
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from nnviz.analysis import explain
from nnviz.data import preprocess
from nnviz.data.preprocess import ImageError, NoInkError, Prepared, Result, Rule
from nnviz.figures import attributions as fa
from nnviz.figures.maps import activation_vector, feature_map_grid
from nnviz.figures.predictions import top_k_bar
from nnviz.figures.preprocess import steps_strip
from nnviz.ui import presenter
from nnviz.ui.pickers import PickedModel

_FIGURES = threading.Lock()  # the figures under the answer are built by one session at a time (figures_in_turn)
CANVAS_PX = 280  # 10 canvas px per input px of a 28x28 model
PEN_DEFAULT = 20  # px on the 280 px canvas: ~2 px strokes after the 20 px fit, like MNIST
ROUND_KEY = "draw_canvas_round"  # not a widget: bumping it gives the canvas a new key, i.e. a clean canvas
SOURCES = {"draw": ":material/draw: Draw", "upload": ":material/upload: Upload",
           "camera": ":material/photo_camera: Camera"}
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif"]
NO_METHOD = "none"
LAST_ANSWER_KEY = "draw:last_answer"  # (input key, outcome) of this session's last drawing


@dataclass(frozen=True)
class Settings:
    method: str  # an explain.ATTRIBUTION_METHODS key or NO_METHOD
    k: int  # bars in the top-k chart
    sign: str  # attribution view (nnviz.figures.attributions.SIGNS)


def rule_of(picked: PickedModel) -> Rule:
    """The preprocessing rule of the picked model's dataset; stops the page for non-image models."""
    ckpt = picked.checkpoint
    try:
        return preprocess.rule_for(ckpt.config.data.dataset, ckpt.input_shape, ckpt.mean, ckpt.std)
    except ImageError as exc:
        st.warning(str(exc))
        st.stop()


def settings_panel(picked: PickedModel) -> Settings:
    """Sidebar: the attribution method (fast ones only), how many classes to show, the map's sign view."""
    usable = set(explain.methods_for(picked.model))
    methods = [m for m in preprocess.FAST_METHODS if m in usable] + [NO_METHOD]
    method = st.selectbox("Attribution", methods, key="draw_method",
                          format_func=lambda m: "none" if m == NO_METHOD else explain.ATTRIBUTION_METHODS[m].title,
                          help="Which pixels made the network choose its answer. Saliency and Input × Gradient "
                               "are the fastest; Integrated Gradients is smoother but slower.")
    if method != NO_METHOD:
        st.caption(explain.ATTRIBUTION_METHODS[method].explanation)
    n = len(picked.checkpoint.classes) or picked.checkpoint.n_outputs
    k = st.slider("Classes in the chart", 2, max(2, min(10, n)), min(5, n), key="draw_k")
    sign = st.selectbox("Attribution view", list(fa.SIGNS), key="draw_sign", format_func=fa.SIGNS.get)
    return Settings(method, k, sign)


def _clear() -> None:
    st.session_state[ROUND_KEY] = st.session_state.get(ROUND_KEY, 0) + 1


def canvas_key() -> str:
    """The canvas's current widget key (changes on Clear)."""
    return f"draw_canvas_{st.session_state.get(ROUND_KEY, 0)}"


def input_panel() -> tuple[str, np.ndarray | bytes | None]:
    """Tabs for the three inputs; only the open one runs. Returns (source, RGBA array or file bytes or None)."""
    tabs = st.tabs(list(SOURCES.values()), key="draw_source", on_change="rerun")
    for (source, _), tab in zip(SOURCES.items(), tabs):
        if tab.open:
            with tab:
                return source, _INPUTS[source]()
    return "draw", None


def _draw() -> np.ndarray | None:
    pen = st.session_state.get("draw_pen", PEN_DEFAULT)  # the slider sits under the canvas
    st.space(26)  # the canvas's toolbar (undo, redo) pops up above it on hover: keep it off the tab labels
    result = st_canvas(stroke_width=pen, stroke_color="#000000", background_color="#FFFFFF", height=CANVAS_PX,
                       width=CANVAS_PX, drawing_mode="freedraw", return_image_data=True, key=canvas_key())
    cols = st.columns([2, 1], vertical_alignment="bottom")
    cols[0].slider("Pen width", 6, 40, PEN_DEFAULT, key="draw_pen", help="In canvas pixels; 20 suits a digit as "
                   "tall as the canvas.")
    cols[1].button("Clear", key="draw_clear", icon=":material/delete:", on_click=_clear, width="stretch")
    st.caption("Draw with the mouse or a finger; undo and redo are in the canvas toolbar.")
    return result.image_data if result.json_data and result.json_data.get("objects") else None


def _upload() -> bytes | None:
    file = st.file_uploader("An image of a digit (or of anything the model knows)", type=UPLOAD_TYPES,
                            key="draw_upload", help="PNG, JPEG, WebP, BMP or GIF (the first frame). Dark ink on "
                            "light paper and light ink on dark both work.")
    return file.getvalue() if file is not None else None


def _camera() -> bytes | None:
    photo = st.camera_input("Hold a digit written on paper up to the camera", key="draw_camera")
    return photo.getvalue() if photo is not None else None


_INPUTS = {"draw": _draw, "upload": _upload, "camera": _camera}


def show_problem(exc: ImageError) -> None:
    """A bad or blank image as a message (never a traceback); the page keeps working."""
    if isinstance(exc, NoInkError):
        st.info(str(exc), icon=":material/draw:")
    else:
        st.error(str(exc), icon=":material/broken_image:")


def _input_key(picked: PickedModel, data: np.ndarray | bytes, rule: Rule, method: str) -> tuple:
    raw = data if isinstance(data, bytes) else np.ascontiguousarray(data).tobytes()
    digest = hashlib.blake2b(raw, digest_size=16).hexdigest()  # ~0.2 ms for a 280x280 RGBA canvas
    return str(picked.path), picked.path.stat().st_mtime_ns, digest, rule, method


def analyse(picked: PickedModel, data: np.ndarray | bytes, rule: Rule,
            method: str) -> tuple[Prepared, Result, float] | None:
    """Preprocess + classify + attribute; (prepared, result, milliseconds), or None after a message.

    The session's last outcome is reused while input, model, rule and method are unchanged."""
    key = _input_key(picked, data, rule, method)
    last = st.session_state.get(LAST_ANSWER_KEY)
    if last is not None and last[0] == key:
        return last[1]
    outcome = _analyse(picked, data, rule, method)
    if outcome is not None:
        st.session_state[LAST_ANSWER_KEY] = (key, outcome)
    return outcome


def _analyse(picked: PickedModel, data: np.ndarray | bytes, rule: Rule,
             method: str) -> tuple[Prepared, Result, float] | None:
    start = time.perf_counter()
    try:
        prepared = preprocess.prepare(data, rule)
    except ImageError as exc:
        show_problem(exc)
        return None
    try:
        result = preprocess.classify(picked.model, prepared.x, mean=rule.mean, std=rule.std,
                                     method=None if method == NO_METHOD else method)
    except (explain.ExplainError, RuntimeError) as exc:  # e.g. a model whose input does not fit the rule
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        st.error(f"This model cannot classify the image ({first}).")
        return None
    return prepared, result, (time.perf_counter() - start) * 1000


def prediction_panel(result: Result, classes: tuple[str, ...], settings: Settings, ms: float,
                     caution: str = "") -> None:
    """The predicted class in type big enough for the back row, a caution if the model has one, the top-k bars."""
    top = int(result.probs.argmax())
    name, p = classes[top] if top < len(classes) else str(top), float(result.probs[top])
    size = 7.5 if len(name) <= 3 else 4.5 if len(name) <= 8 else 3.2
    color = "#2ca02c" if p >= 0.8 else "#e6a100" if p >= 0.5 else "#d62728"
    verdict = "sure" if p >= 0.8 else "fairly sure" if p >= 0.5 else "unsure"
    st.markdown(f'<div data-testid="draw-prediction" style="text-align:center;line-height:1.05">'
                f'<div style="font-size:1.2rem;opacity:.7">the network says</div>'
                f'<div style="font-size:{size}rem;font-weight:800;color:{color}">{html.escape(name)}</div>'
                f'<div style="font-size:1.6rem;font-weight:600">{p:.0%} <span style="font-weight:400;'
                f'opacity:.7">{verdict}</span></div></div>', unsafe_allow_html=True)
    if caution:
        st.warning(caution, icon=":material/info:")
    labels = classes if len(classes) == len(result.probs) else tuple(str(i) for i in range(len(result.probs)))
    with figures_in_turn():  # the answer above is sent; its chart takes its turn
        st.plotly_chart(presenter.figure(top_k_bar(result.probs, labels, settings.k, title=f"Top-{settings.k} probabilities",
                                                   height=70 + 34 * settings.k)), key="draw_topk", width="stretch")
    st.caption(f"Preprocessed, classified{' and explained' if result.method else ''} in {ms:.0f} ms on the server.")


def waiting_panel(source: str) -> None:
    """What to do when there is no input yet."""
    hint = {"draw": "Draw a digit on the canvas: the prediction appears when you lift the pen.",
            "upload": "Upload an image: the prediction appears here.",
            "camera": "Take a photo: the prediction appears here."}[source]
    st.info(hint, icon=":material/arrow_back:")


@contextmanager
def figures_in_turn():
    """Build the figures under the answer (steps, attribution, feature maps) one session at a time.

    Under the GIL, a classroom's sessions building figures at once all slow down together, and a
    new drawing's answer (preprocess + one forward: tens of ms) waits behind every one of them.
    Taking turns, the answer competes with at most one figure builder; the total work is the same.
    """
    with _FIGURES:
        yield


def steps_panel(prepared: Prepared, rule: Rule) -> None:
    """Every preprocessing step as a small image, with the dataset's rule in words."""
    st.subheader("What the network is given")
    st.caption(rule.note + (" · " + " · ".join(prepared.notes) if prepared.notes else ""))
    st.plotly_chart(presenter.figure(steps_strip(prepared.steps)), key="draw_steps", width="stretch")


def inside_panel(prepared: Prepared, result: Result, classes: tuple[str, ...], settings: Settings) -> None:
    """The attribution overlay and the first layer's feature maps, side by side."""
    cols = st.columns([2, 3])
    top = int(result.probs.argmax())
    name = classes[top] if top < len(classes) else str(top)
    with cols[0]:
        if result.attribution is not None:
            title = f"{explain.ATTRIBUTION_METHODS[result.method].title} → “{name}”"
            st.plotly_chart(presenter.figure(fa.attribution_overlay(prepared.pixels, result.attribution, settings.sign,
                                                                    title=title, height=340)), key="draw_attr", width="stretch")
            st.caption("Red pixels pushed the network towards its answer, blue ones away from it.")
        else:
            st.caption("No attribution chosen (sidebar).")
    with cols[1]:
        if result.maps is None:
            st.caption("This model has no layer to show.")
        elif result.maps.ndim == 3:
            st.plotly_chart(presenter.figure(feature_map_grid(
                result.maps, title=f"{result.layer}: {len(result.maps)} feature maps of the first conv layer")),
                key="draw_maps", width="stretch")
        else:
            st.plotly_chart(presenter.figure(activation_vector(
                result.maps, title=f"{result.layer}: outputs of the first dense layer")),
                key="draw_maps", width="stretch")
