"""Widget panels and views of the Explain page; attributions cached per checkpoint, images, method, parameters, target.

The cached model is shared by every session: it is only ever read here — nnviz.analysis.explain
works on a private copy. Per-method parameters live in a non-widget session key, so
switching methods (or pages) does not lose them, and the comparison grid uses them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st
import torch

from nnviz.analysis import explain
from nnviz.figures import attributions as fa
from nnviz.jobs.run_folder import of_checkpoint
from nnviz.model.models import build_model
from nnviz.ui import explain_cost, presenter, replay
from nnviz.ui.pickers import PickedImages, PickedModel
from nnviz.ui.resources import checkpoint_model, task_data

PARAMS_KEY = "explain_params"  # {method: {param: value}}: survives method switches and page changes
VIEWS = {"single": "One method", "compare": "Compare methods", "targets": "Every target class",
         "sanity": "Sanity check", "epochs": "Over training"}
TITLE = {k: s.title for k, s in explain.ATTRIBUTION_METHODS.items()}


@dataclass(frozen=True)
class Display:
    sign: str
    overlay: bool
    opacity: float
    shared: bool = True  # side-by-side maps in the same units on one colour scale


# --- cached computation -------------------------------------------------------------------------------

@st.cache_data(max_entries=256, show_spinner=False)
def _maps(path: str, mtime_ns: int, indices: tuple[int, ...], method: str, params_json: str,
          targets: tuple[int, ...], randomize: tuple[int, str | None] | None) -> np.ndarray:
    ckpt, model = checkpoint_model(path)  # shared: read only
    x = task_data(ckpt.config.data).x_test[list(indices)]  # (n, C, H, W) normalised
    if randomize is not None:
        model = explain.randomized_copy(model, seed=randomize[0], from_layer=randomize[1])
    attr = explain.attribute(model, x, method, list(targets), mean=ckpt.mean, std=ckpt.std, **json.loads(params_json))
    return explain.to_maps(attr)  # (n, H, W)


def compute(picked: PickedModel, indices: list[int], method: str, params: dict[str, Any], targets: list[int],
            randomize: tuple[int, str | None] | None = None) -> np.ndarray | None:
    """(n, H, W) maps, or None after showing a clear message (bad parameters, out of memory)."""
    mtime = picked.path.stat().st_mtime_ns
    params_json, indices, targets = json.dumps(params, sort_keys=True), [int(i) for i in indices], [int(t) for t in targets]
    try:
        examples, secs = explain_cost.estimate_s(picked, method, params, len(indices))
        if explain_cost.over_budget(secs):  # heavy: asked first, then image by image (each cached), cancellable
            signature = json.dumps([str(picked.path), mtime, indices, method, params_json, targets, randomize])
            return explain_cost.gated(
                picked, signature, TITLE[method], len(indices), examples, secs,
                lambda i: _maps(str(picked.path), mtime, (indices[i],), method, params_json,
                                (targets[i] if len(targets) == len(indices) else targets[0],), randomize)[0])
        with st.spinner(f"Computing {TITLE[method]}…"):
            return _maps(str(picked.path), mtime, tuple(indices), method, params_json, tuple(targets), randomize)
    except explain.ExplainError as exc:
        st.error(str(exc), icon=":material/tune:")
    except (RuntimeError, MemoryError) as exc:  # e.g. out of memory with many steps x samples x images
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        st.error(f"{TITLE[method]} could not be computed ({first}). Try fewer images, steps or samples.")
    return None


# --- control panels -------------------------------------------------------------------------------------

def image_count() -> int:
    return int(st.slider("Images to explain", 1, 8, 1, key="explain_n_images",
                         help="Several images: every view shows the same method on all of them."))


def method_panel(model) -> tuple[str, dict[str, Any]]:
    """Method select box with its one-line explanation, then its parameters; returns (method, params)."""
    methods = explain.methods_for(model)
    method = st.selectbox("Attribution method", methods, format_func=TITLE.get, key="explain_method",
                          index=methods.index("integrated_gradients"))
    st.caption(explain.ATTRIBUTION_METHODS[method].explanation)
    with st.expander(f"Parameters of {TITLE[method]}", expanded=True):
        params = params_widgets(method, model)
    return method, params


def stored_params(method: str, model) -> dict[str, Any]:
    """The parameters last set for `method` on this page, or its defaults (also when they no longer fit)."""
    saved = st.session_state.get(PARAMS_KEY, {}).get(method, {})
    try:
        return explain.resolve_params(method, saved, model)
    except explain.ExplainError:
        return explain.default_params(method, model)


def params_widgets(method: str, model) -> dict[str, Any]:
    values = stored_params(method, model)
    params = explain.all_params(method)
    if not params:
        st.caption("This method has no parameters.")
    for p in params:
        if p.only_if and values.get(p.only_if[0]) != p.only_if[1]:
            continue
        values[p.name] = _widget(p, values[p.name], model, f"explain_{method}_{p.name}")
        if p.name == "smoothgrad":
            st.caption(explain.SMOOTHGRAD_EXPLANATION)
    st.session_state.setdefault(PARAMS_KEY, {})[method] = values
    return values


def _widget(p: explain.Param, value: Any, model, key: str) -> Any:
    if p.kind == "bool":
        return st.toggle(p.label, value=bool(value), key=key, help=p.help or None)
    if p.kind in ("choice", "layer"):
        options = explain.conv_layers(model) if p.kind == "layer" else list(p.choices)
        return st.selectbox(p.label, options, index=options.index(value) if value in options else 0,
                            key=key, help=p.help or None)
    cast = int if p.kind == "int" else float
    return st.slider(p.label, cast(p.low), cast(p.high), cast(value), cast(p.step), key=key, help=p.help or None)


def target_panel(picked: PickedModel, images: PickedImages) -> list[int]:
    """Predicted / true / chosen class -> one target per image."""
    classes = picked.checkpoint.classes
    mode = st.radio("Explain the score of", list(explain.TARGET_MODES), format_func=explain.TARGET_MODES.get,
                    key="explain_target_mode", horizontal=True)
    chosen = None
    if mode == "chosen":
        chosen = st.selectbox("Class", range(len(classes)), format_func=lambda c: classes[c],
                              key="explain_target_class")
    return explain.resolve_targets(mode, images.probs, images.labels, chosen)


def display_panel() -> Display:
    sign = st.radio("Show", list(fa.SIGNS), format_func=fa.SIGNS.get, key="explain_sign",
                    help="Red pixels raise the class score, blue ones lower it.")
    overlay = st.toggle("Overlay on the image", value=True, key="explain_overlay")
    opacity = st.slider("Map opacity", 0.1, 1.0, 0.75, 0.05, key="explain_opacity", disabled=not overlay)
    shared = st.toggle("One colour scale for side-by-side maps", value=True, key="explain_shared_scale",
                       help="On: maps in the same units (one method on several images, one image towards every "
                            "class, trained vs random weights) share a scale, so a weak map looks weak. Off: each "
                            "map on its own scale (shows the pattern of a faint one).")
    return Display(sign, overlay, opacity, shared)


def view_selector() -> str:
    return st.radio("View", list(VIEWS), format_func=VIEWS.get, key="explain_view", horizontal=True,
                    label_visibility="collapsed")


# --- views -----------------------------------------------------------------------------------------------

def _image_titles(picked: PickedModel, images: PickedImages) -> list[str]:
    c = picked.checkpoint.classes
    return [f"#{i} · {c[y]}→{c[p.argmax()]}" for i, y, p in zip(images.indices, images.labels, images.probs)]


def show_single(picked: PickedModel, images: PickedImages, method: str, params: dict, targets: list[int],
                d: Display) -> None:
    maps = compute(picked, images.indices, method, params, targets)
    if maps is None:
        return
    target = picked.checkpoint.classes[targets[0]]
    cols = st.columns(2)
    heatmap = fa.attribution_heatmap(maps[0], d.sign, f"{TITLE[method]} · class {target}")
    overlay = fa.attribution_overlay(images.pixels[0], maps[0], d.sign, d.opacity if d.overlay else 1.0,
                                     f"On image #{images.indices[0]}")
    cols[0].plotly_chart(presenter.figure(heatmap), key="explain_fig_heatmap", width="stretch")
    cols[1].plotly_chart(presenter.figure(overlay), key="explain_fig_overlay", width="stretch")
    if len(maps) > 1:
        grid = fa.attribution_grid(images.pixels, maps[None], [TITLE[method]], _image_titles(picked, images),
                                   d.sign, d.overlay, d.opacity, title="The same method on every chosen image",
                                   shared=d.shared)
        st.plotly_chart(presenter.figure(grid), key="explain_fig_images", width="stretch")


def default_grid(model) -> list[str]:
    """DEFAULT_GRID restricted to what this model supports, topped up to four methods."""
    available = explain.methods_for(model)
    chosen = [m for m in explain.DEFAULT_GRID if m in available]
    return chosen + [m for m in available if m not in chosen][:4 - len(chosen)]


def show_compare(picked: PickedModel, images: PickedImages, targets: list[int], d: Display) -> None:
    methods = st.multiselect("Methods to compare", explain.methods_for(picked.model),
                             default=default_grid(picked.model), format_func=TITLE.get,
                             key="explain_compare_methods", max_selections=8)
    if not methods:
        st.info("Choose at least one method to compare.")
        return
    maps = [compute(picked, images.indices, m, stored_params(m, picked.model), targets) for m in methods]
    if any(m is None for m in maps):
        return
    st.plotly_chart(presenter.figure(fa.attribution_grid(images.pixels, np.stack(maps), [TITLE[m] for m in methods],
                                                         _image_titles(picked, images), d.sign, d.overlay, d.opacity,
                                                         shared=d.shared)),
                    key="explain_fig_compare", width="stretch")
    scale = "each method's maps on one colour scale" if d.shared and len(images.indices) > 1 else \
        "each panel scaled to its own maximum"
    st.caption(f"Methods differ in units, so compare the patterns across methods ({scale}). "
               "Every method uses the parameters last set for it in the sidebar (its defaults otherwise).")


def show_targets(picked: PickedModel, images: PickedImages, method: str, params: dict, d: Display) -> None:
    classes, probs = picked.checkpoint.classes, images.probs[0]
    k = len(classes)
    maps = compute(picked, [images.indices[0]] * k, method, params, list(range(k)))
    if maps is None:
        return
    titles = [f"{c}{' ✓' if i == images.labels[0] else ''} · {probs[i]:.0%}" for i, c in enumerate(classes)]
    st.plotly_chart(presenter.figure(fa.target_strip(images.pixels[0], maps, titles, d.sign, d.overlay, d.opacity,
                                                     shared=d.shared)),
                    key="explain_fig_targets", width="stretch")
    st.caption(f"{TITLE[method]} for image #{images.indices[0]} towards every class (✓ the true class, "
               "% the predicted probability). The evidence *for* one digit is often evidence *against* another.")


def show_sanity(picked: PickedModel, images: PickedImages, method: str, params: dict, targets: list[int],
                d: Display) -> None:
    layers = explain.parametric_layers(picked.model)
    cols = st.columns([2, 1, 2])
    start = cols[0].selectbox("Randomise the weights from", layers, key="explain_sanity_layer",
                              format_func=lambda n: f"{n} (every layer)" if n == layers[0] else
                              f"{n} (the output layer only)" if n == layers[-1] else f"{n} up to the output",
                              help="Cascading randomisation (Adebayo et al. 2018): scramble the top layers first.")
    seed = cols[1].number_input("Seed", 0, 9999, 0, key="explain_sanity_seed")
    trained = compute(picked, images.indices, method, params, targets)
    scrambled = compute(picked, images.indices, method, params, targets, randomize=(int(seed), start))
    if trained is None or scrambled is None:
        return
    rho = [explain.rank_correlation(fa.signed(a, d.sign), fa.signed(b, d.sign), absolute=False)
           for a, b in zip(trained, scrambled)]
    st.plotly_chart(presenter.figure(fa.sanity_pair(images.pixels, trained, scrambled, rho, d.sign, d.overlay, d.opacity,
                                                    _image_titles(picked, images), shared=d.shared)),
                    key="explain_fig_sanity", width="stretch")
    finite = [r for r in rho if np.isfinite(r)]
    mean = float(np.mean(finite)) if finite else float("nan")
    if np.isfinite(mean) and mean > 0.5:
        st.warning(f"The maps barely change (mean rank correlation {mean:.2f}) although the weights are random: "
                   f"here {TITLE[method]} shows the image more than what the network learned.",
                   icon=":material/warning:")
    elif np.isfinite(mean):
        st.success(f"The maps change with the weights (mean rank correlation {mean:.2f}): {TITLE[method]} depends on "
                   "what the network learned — necessary for an explanation, though not a proof.",
                   icon=":material/check:")
    st.caption(f"ρ: Spearman rank correlation between the two maps as shown ({fa.SIGNS[d.sign].lower()}). "
               "A map that survives scrambled weights is an edge detector, not an explanation. Try the "
               "absolute view, and randomising only the output layer, with Guided Backprop.")


# --- replay: one image's map at every recorded epoch of a run --------------------------------------------

@st.cache_data(max_entries=256, show_spinner=False)
def _epoch_maps(weights: str, path: str, mtime_ns: int, index: int, method: str, params_json: str,
                target: int) -> tuple[np.ndarray, np.ndarray]:
    """((H, W) map, class probabilities) of the model as it was at one epoch (its weights file)."""
    ckpt, _ = checkpoint_model(path)
    model = build_model(ckpt.config.model, ckpt.input_shape, ckpt.n_outputs)
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))  # weights only, no code
    model.eval()
    x = task_data(ckpt.config.data).x_test[[index]]  # (1, C, H, W)
    with torch.no_grad():
        probs = torch.softmax(model(x).float(), 1)[0].numpy()
    attr = explain.attribute(model, x, method, [target], mean=ckpt.mean, std=ckpt.std, **json.loads(params_json))
    return explain.to_maps(attr)[0], probs


def show_epochs(picked: PickedModel, images: PickedImages, method: str, params: dict, targets: list[int],
                d: Display) -> None:
    """Replay: the first image's map towards a fixed class after every recorded epoch of a run."""
    run = of_checkpoint(picked.path) if picked.path.name == "final.pt" else None
    files = dict(run.epoch_files()) if run is not None else {}
    if not files:
        st.info("Only a training run keeps the weights of every epoch. Train a small model in the Classification "
                "lab, then pick that run in the model list to watch its explanations form.",
                icon=":material/history:")
        return
    final = int(picked.checkpoint.metrics.get("epoch", -1))
    classes, index, target = picked.checkpoint.classes, images.indices[0], targets[0]
    # the trained map, once: the last epoch's frame and the fixed scale; heavy settings are asked for here,
    # once for the whole replay (every other epoch's frame costs about as much as this one image)
    trained = compute(picked, [index], method, params, [target])
    if trained is None:
        return
    fixed = None  # the trained map's scale for every epoch: untrained noise then looks as weak as it is
    if st.toggle("Same colour scale for every epoch", True, key="explain_epoch_fixed",
                 help="On: every epoch on the trained model's scale, so maps compare in strength. Off: each epoch "
                      "scaled to its own maximum (shows the pattern of a faint map)."):
        fixed = fa.color_limit(fa.signed(trained[0], d.sign))

    def draw(epoch: int) -> None:
        try:
            if epoch == final or epoch not in files:
                shown, probs = trained[0], images.probs[0]
            else:
                shown, probs = _epoch_maps(str(files[epoch]), str(picked.path), picked.path.stat().st_mtime_ns,
                                           int(index), method, json.dumps(params, sort_keys=True), int(target))
        except explain.ExplainError as exc:
            st.error(str(exc), icon=":material/tune:")
            return
        except Exception as exc:  # noqa: BLE001 - a torn weights file or out of memory: say so, keep the page
            st.error(f"The map of epoch {epoch} could not be computed ({type(exc).__name__}).")
            return
        guess = int(np.argmax(probs))
        cols = st.columns(2)
        heatmap = fa.attribution_heatmap(shown, d.sign, f"{TITLE[method]} · class {classes[target]} · epoch {epoch}",
                                         limit=fixed)
        overlay = fa.attribution_overlay(images.pixels[0], shown, d.sign, d.opacity if d.overlay else 1.0,
                                         f"Predicted {classes[guess]} ({probs[guess]:.0%})", limit=fixed)
        cols[0].plotly_chart(presenter.figure(heatmap), key="explain_fig_epoch_heatmap", width="stretch")
        cols[1].plotly_chart(presenter.figure(overlay), key="explain_fig_epoch_overlay", width="stretch")

    replay.player(sorted(set(files) | ({final} if final >= 0 else set())), "explain_epoch", draw,
                  label="Epoch (replay the run)",
                  help="The same image and class after each recorded epoch; Play steps through training.")
    scale = "on the trained model's colour scale" if fixed else "each on its own colour scale"
    _, frame_s = explain_cost.estimate_s(picked, method, params, 1)
    cost = f" With these settings each other epoch takes about {frame_s:,.0f} s to draw." \
        if explain_cost.over_budget(frame_s) else ""
    st.caption(f"Image #{index}, explained towards class {classes[target]} at every epoch, {scale}: "
               f"watch the evidence sharpen from noise (epoch 0, the untrained network) to strokes.{cost}")
