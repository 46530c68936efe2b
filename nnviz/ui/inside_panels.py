"""The panels of the "Inside the network" page: widgets -> nnviz.analysis.inspect / embedding -> figures.

Derived arrays are cached with `st.cache_data`, keyed by the checkpoint's path and
modification time (plus image indices and layer names), so a widget click redraws from
cache. The shared cached model is only read: captures remove their hooks on exit.
"""
from __future__ import annotations

import time

import numpy as np
import streamlit as st
import torch

from nnviz.analysis import embedding, inspect
from nnviz.figures import maps, weights
from nnviz.jobs.run_folder import RunFolder, of_checkpoint
from nnviz.model.models import summarize
from nnviz.ui import presenter, replay
from nnviz.ui.pickers import PickedModel, image_picker, images_at, show_images
from nnviz.ui.resources import checkpoint_model, task_data

STATS_IMAGES = 256  # test images behind the activation statistics
KEEP = {"persist_state": "page"}  # widgets keep their values while the user switches tabs
PLOT_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}  # PNG at 2x


def chart(fig, key: str) -> None:
    """A plotly chart with a PNG download (camera button) named after its key."""
    config = dict(PLOT_CONFIG, toImageButtonOptions=dict(PLOT_CONFIG["toImageButtonOptions"], filename=key))
    st.plotly_chart(presenter.figure(fig), key=key, width="stretch", config=config)


def _seed(key: str, default, ok=lambda value: True) -> None:
    """Put a widget's value in session state before it is drawn: the kept value while it still fits
    this model (layer names, sizes), else `default`. Such widgets get no default of their own."""
    value = st.session_state.get(key, default)
    st.session_state[key] = value if ok(value) else default


def _key(picked: PickedModel) -> tuple[str, int]:
    return str(picked.path), picked.path.stat().st_mtime_ns


# --- cached computations, keyed by path + mtime (both hashed: a rewritten checkpoint gets fresh results);
#     the model itself comes from the shared resource cache ---

@st.cache_data(max_entries=32, show_spinner=False)
def _layers(path: str, mtime: int) -> list[inspect.LayerInfo]:
    ckpt, model = checkpoint_model(path)
    return inspect.layers(model, ckpt.input_shape)


@st.cache_data(max_entries=64, show_spinner=False)
def _maps(path: str, mtime: int, indices: tuple[int, ...], layer_names: tuple[str, ...]) -> dict[str, np.ndarray]:
    ckpt, model = checkpoint_model(path)
    x = task_data(ckpt.config.data).x_test[list(indices)]
    return inspect.feature_maps(model, x, layer_names)


@st.cache_data(max_entries=16, show_spinner="Running test images through the network…")
def _stats(path: str, mtime: int, n: int) -> list[dict]:
    ckpt, model = checkpoint_model(path)
    return inspect.activation_stats(model, task_data(ckpt.config.data).x_test[:n])


@st.cache_data(max_entries=16, show_spinner="Reading the per-epoch weights…")
def _history(folder: str, mtime: int) -> dict[str, inspect.WeightHistory]:
    return inspect.weight_history(RunFolder(folder).epoch_files())


@st.cache_data(max_entries=16, show_spinner="Computing penultimate-layer activations…")
def _features(path: str, mtime: int, n: int) -> dict[str, np.ndarray]:
    ckpt, model = checkpoint_model(path)
    data = task_data(ckpt.config.data)
    idx = embedding.subset(len(data.y_test), n)
    feats, outputs = embedding.activations(model, data.x_test[idx], return_outputs=True)  # one forward pass
    return {"indices": idx, "features": feats, "labels": data.y_test[idx].numpy(), "predicted": outputs.argmax(1)}


@st.cache_data(max_entries=16, show_spinner=False)
def _projection(path: str, mtime: int, n: int, method: str) -> embedding.Embedding:
    return embedding.project(_features(path, mtime, n)["features"], method)


# --- panels ---

def architecture(picked: PickedModel) -> None:
    """Layer table: output shape, parameters, receptive field of conv / pool layers."""
    rows = summarize(picked.model, picked.checkpoint.input_shape)
    total = sum(r.parameters for r in rows)
    metrics = picked.checkpoint.metrics
    cols = st.columns(4)
    cols[0].metric("Parameters", f"{total:,}")
    cols[1].metric("Layers", len(rows))
    cols[2].metric("Input", "×".join(map(str, picked.checkpoint.input_shape)))
    if "test_acc" in metrics:
        cols[3].metric("Test accuracy", f"{metrics['test_acc']:.1%}")
    st.dataframe([{"layer": r.name, "type": r.kind, "output shape": "×".join(map(str, r.output_shape)),
                   "parameters": r.parameters,
                   "receptive field": f"{r.receptive_field}×{r.receptive_field} px" if r.receptive_field else ""}
                  for r in rows], hide_index=True, width="stretch", key="inside_arch_table")
    st.caption("Receptive field: how many input pixels (along one side) one output value of the layer can see. "
               "It grows with every conv and pooling layer — deeper maps respond to larger parts of the digit.")


def filters(picked: PickedModel) -> None:
    convs = inspect.conv_layers(picked.model)
    if not convs:
        st.info("This model has no convolutional layers. Its first layer's weights, shown as images, are "
                "under **Weights & activations**.")
        return
    names = list(convs)
    with presenter.advanced("Filter settings"):  # folded on a projector: the filters are the picture
        c = st.columns([2, 2, 2, 2])
        _seed("inside_filter_layer", names[0], lambda v: v in names)
        layer = c[0].selectbox("Conv layer", names, key="inside_filter_layer", **KEEP)
        w = inspect.conv_filters(picked.model, layer)  # (out, in, kh, kw)
        n_out, n_in = w.shape[:2]
        options: list = (["rgb"] if n_in == 3 and layer == names[0] else []) + list(range(n_in)) + \
            (["all"] if n_in > 1 else [])
        label = {"rgb": "RGB (colour filters)", "all": "all (filters × input channels)"}
        key = f"inside_filter_channel_{n_in}"
        _seed(key, "all" if n_in > 3 else options[0], lambda v: v in options)
        channel = c[1].selectbox("Input channel", options, key=key,
                                 format_func=lambda o: label.get(o, f"channel {o}"), **KEEP)
        per = c[2].radio("Colour scale", ["shared", "per filter"], horizontal=True, key="inside_filter_scale",
                         **KEEP) == "per filter"
        limit = 32 if channel == "all" else maps.MAX_TILES
        _seed("inside_filter_first", 0, lambda v: 0 <= v < n_out)
        first = c[3].number_input("First filter", 0, max(n_out - 1, 0), step=limit, key="inside_filter_first",
                                  disabled=n_out <= limit, **KEEP)
        folder, final, epochs = _filter_epochs(picked)
        fixed = None  # one colour scale for every epoch of a replay, so a frame's weights compare with the others'
        if epochs and not per and st.toggle(
                "Same colour scale for every epoch", True, key="inside_filter_fixed",
                help="On: the scale spans the largest weight of the whole run, so growing filters look stronger. "
                     "Off: each epoch scaled to its own largest weight."):
            fixed = _run_weight_limit(str(folder), tuple(e for e in epochs if e != final), f"{layer}.weight",
                                      float(np.abs(w).max()))

    def draw(epoch: int | None) -> None:  # the trained filters, or a recorded epoch's while replaying
        kernels = w if epoch is None or epoch == final else _epoch_kernels(str(folder), epoch, f"{layer}.weight")
        at = "" if epoch is None else f" · epoch {epoch}"
        fig = maps.filter_grid(w if kernels is None else kernels, channel, first=int(first) if n_out > limit else 0,
                               per_filter_scale=per, limit=fixed,
                               title=f"{layer}: {n_out} filters of {w.shape[2]}×{w.shape[3]} "
                                     f"over {n_in} input channel{'s' if n_in > 1 else ''}{at}")
        chart(fig, "inside_filters")

    if epochs:  # a run with per-epoch weights: replay how the filters formed
        replay.player(epochs, "inside_filter_epoch", draw, label="Epoch (replay the run)",
                      help="The filters as they were after each recorded epoch; Play steps through training.")
    else:
        draw(None)
    st.caption("Red = positive weight, blue = negative, white = 0. A first-layer filter is a small pattern the "
               "layer looks for: edges, strokes, blobs. Hover a pixel for its exact value.")


def _filter_epochs(picked: PickedModel) -> tuple[object, int, list[int]]:
    """(the run's weights folder, the final epoch, every epoch with weights) for a finished run's
    final.pt; no epochs for other checkpoints."""
    run = of_checkpoint(picked.path) if picked.path.name == "final.pt" else None
    files = run.epoch_files() if run is not None else []
    if not files:
        return None, -1, []
    final = int(picked.checkpoint.metrics.get("epoch", -1))
    return run.path, final, sorted({e for e, _ in files} | ({final} if final >= 0 else set()))


def _run_weight_limit(folder: str, epochs: tuple[int, ...], name: str, final: float) -> float:
    """The largest |weight| of tensor `name` over the run's recorded epochs and its final weights."""
    tops = [float(np.abs(k).max()) for e in epochs if (k := _epoch_kernels(folder, e, name)) is not None and k.size]
    return max([final, *tops]) or 1.0


@st.cache_data(max_entries=256, show_spinner=False)
def _epoch_kernels(folder: str, epoch: int, name: str) -> np.ndarray | None:
    """One tensor of a run's per-epoch weights (weights only, never pickled code); None if unreadable."""
    state = RunFolder(folder).epoch_weights(epoch)  # a torn or foreign file: None, the trained filters are shown
    tensor = state.get(name) if state is not None else None
    return tensor.detach().float().numpy().copy() if isinstance(tensor, torch.Tensor) else None


def _default_layers(infos: list[inspect.LayerInfo]) -> list[str]:
    spatial = [i.name for i in infos if i.kind == "act" and len(i.output_shape) == 3]
    return spatial[:3] or [i.name for i in infos if i.kind == "act"][:3] + \
        [i.name for i in infos if i.kind == "dense"][-1:]


def feature_maps(picked: PickedModel) -> None:
    images = image_picker(picked, n=1, key="inside_img", show=False)  # the image comes after its maps
    infos = inspect.inspectable(_layers(*_key(picked)))
    names = [i.name for i in infos]
    c = st.columns([4, 2, 2])
    _seed("inside_fm_layers", _default_layers(infos), lambda v: all(n in names for n in v))
    chosen = c[0].multiselect("Layers", names, key="inside_fm_layers", **KEEP,
                              help="Conv, batch-norm, activation and pooling layers show one map per channel; "
                                   "dense layers show their activation vector.")
    compare = c[1].toggle("Compare two images", key="inside_fm_compare", **KEEP)
    n_test = len(picked.data.y_test)
    _seed("inside_fm_other", min(images.indices[0] + 1, n_test - 1), lambda v: 0 <= v < n_test)
    other = c[1].number_input("Second test image #", 0, n_test - 1, key="inside_fm_other", disabled=not compare,
                              **KEEP)
    per, order = False, "index"
    if any(len(i.output_shape) == 3 for i in infos):  # map controls only where there are maps
        per = c[2].radio("Colour scale", ["shared", "per map"], horizontal=True, key="inside_fm_scale",
                         **KEEP) == "per map"
        order = c[2].radio("Channel order", ["index", "strongest first"], horizontal=True, key="inside_fm_order",
                           **KEEP)
    if not chosen:
        st.info("Pick at least one layer.")
        return
    indices = list(images.indices[:1]) + ([int(other)] if compare else [])
    labels = [f"#{i} ({picked.checkpoint.classes[y]})" for i, y in zip(indices, picked.data.y_test[indices].tolist())]
    if compare:
        second = images_at(picked, [int(other)])
        predicted = picked.checkpoint.classes[int(second.probs[0].argmax())]
        cols = st.columns([1, 9], vertical_alignment="center")
        cols[0].image(second.pixels[0], clamp=True, width=84)
        cols[1].markdown(f"Compared with **#{indices[1]}** · true: **{picked.checkpoint.classes[second.labels[0]]}**"
                         f" · predicted: **{predicted}** ({second.probs[0].max():.0%})")
    shapes = {i.name: i.output_shape for i in infos}
    widest = max((shapes[n][0] for n in chosen if len(shapes[n]) == 3), default=0)
    span = 32 if compare else maps.MAX_TILES
    lo = (0, span - 1)
    if widest > 1:  # one range per channel count, so a choice made for 16 maps does not clip 64
        key = f"inside_fm_channels_{widest}"
        _seed(key, (0, min(widest, span) - 1), lambda v: 0 <= v[0] <= v[1] < widest)
        lo = st.slider("Channels (by position in the chosen order)", 0, widest - 1, key=key,
                       help=f"At most {span} maps per layer are drawn.", **KEEP)
    got = _maps(*_key(picked), tuple(indices), tuple(chosen))
    for name in chosen:
        out = got[name]  # (n, C, H, W) or (n, D)
        info = shapes[name]
        if out.ndim == 4 and out.shape[2] * out.shape[3] > 1:
            strength = np.abs(out).mean((0, 2, 3))
            ranked = np.argsort(-strength, kind="stable") if order == "strongest first" else np.arange(out.shape[1])
            ids = ranked[lo[0]:lo[1] + 1][:span].tolist() or ranked[:span].tolist()
            which = f"{len(ids)} most active channels" if order == "strongest first" else \
                f"channels {ids[0]}–{ids[-1]}" if len(ids) > 1 else f"channel {ids[0]}"
            title = f"{name} · {'×'.join(map(str, info))} · {which}"
            fig = maps.feature_map_grids(list(out), labels if compare else (), channels=ids, per_map_scale=per,
                                         title=title)
        else:
            flat = out.reshape(len(out), -1)
            units = list(picked.checkpoint.classes) if flat.shape[1] == len(picked.checkpoint.classes) \
                and name == names[-1] else None
            fig = maps.activation_vector(flat, labels, units, title=f"{name}: {flat.shape[1]} units")
        chart(fig, f"inside_fm_{name}")
    show_images(images, picked.checkpoint.classes)


def weights_and_activations(picked: PickedModel) -> None:
    infos = _layers(*_key(picked))
    kinds = {i.name: i.kind for i in infos}
    params = inspect.layer_parameters(picked.model)
    default = [k for k in params if kinds.get(k) != "bn"][:8]  # batch-norm scale/shift on request
    _seed("inside_w_layers", default, lambda v: all(k in params for k in v))
    layers = st.multiselect("Layers", list(params), key="inside_w_layers", **KEEP,
                            help="Batch-norm layers have a scale (weight) and a shift (bias) per channel.")
    chart(weights.weight_histograms({k: params[k] for k in layers}, title="Weight and bias histograms"),
          "inside_w_hist")
    _over_epochs(picked)
    st.subheader("Activations over test images")
    rows = _stats(*_key(picked), STATS_IMAGES)
    if rows:
        chart(weights.activation_stats_figure(rows, title=f"Activation statistics over {STATS_IMAGES} test images"),
              "inside_w_stats")
        st.caption("A **dead** ReLU unit outputs 0 for every image: it gets no gradient and stopped learning. "
                   "**Saturated** sigmoid/tanh outputs sit in the flat tails, where gradients vanish.")
    images = inspect.first_layer_images(picked.model, picked.checkpoint.input_shape)
    if images is not None:
        st.subheader("First layer's weights as images")
        c = st.columns([2, 2, 4])
        per = c[0].radio("Colour scale", ["per unit", "shared"], horizontal=True, key="inside_w_first_scale",
                         **KEEP) == "per unit"
        _seed("inside_w_first_unit", 0, lambda v: 0 <= v < len(images))
        first = c[1].number_input("First unit", 0, len(images) - 1, step=32, key="inside_w_first_unit",
                                  disabled=len(images) <= 32, **KEEP)
        shape = "×".join(map(str, images.shape[1:] if images.shape[1] > 1 else images.shape[2:]))
        chart(weights.first_layer_images(images, first=int(first), per_unit_scale=per,
                                         title=f"{len(images)} hidden units, each with one weight per input pixel, "
                                               f"shown as a {shape} image (units {int(first)}–"
                                               f"{min(int(first) + 32, len(images)) - 1})"), "inside_w_first")
        st.caption("Each tile is one hidden unit's template: red pixels excite it, blue ones inhibit it.")


def _over_epochs(picked: PickedModel) -> None:
    st.subheader("Weights over epochs")
    run = of_checkpoint(picked.path)
    if run is None or not run.epoch_files():
        st.info("Only training runs record per-epoch weights (small models, in `runs/<id>/weights/`). "
                "Pick a finished run in the model list to see how its weights moved during training.")
        return
    history = _history(str(run.path), run.weights_dir.stat().st_mtime_ns)
    if not history:
        st.warning("This run's per-epoch weight files could not be read.")
        return
    c = st.columns([3, 2])
    _seed("inside_w_epoch_param", next(iter(history)), lambda v: v in history)
    name = c[0].selectbox("Parameter", list(history), key="inside_w_epoch_param", **KEEP)
    kind = c[1].radio("View", ["ridge", "heatmap"], horizontal=True, key="inside_w_epoch_kind", **KEEP)
    h = history[name]
    chart(weights.weights_over_epochs(h.epochs, h.edges, h.counts, kind,
                                      title=f"{name}: distribution over {len(h.epochs)} recorded epochs",
                                      name=name.rsplit(".", 1)[-1]), "inside_w_epochs")


def embedding_view(picked: PickedModel) -> None:
    try:
        layer = embedding.penultimate_layer(picked.model)
    except ValueError as exc:
        st.info(f"No embedding view for this model: {exc}.")
        return
    c = st.columns([3, 2])
    method = c[0].radio("Projection", list(embedding.METHODS), format_func=embedding.METHODS.get, horizontal=True,
                        key="inside_emb_method", **KEEP)
    path, mtime = _key(picked)
    feats = _features(path, mtime, embedding.DEFAULT_POINTS)
    n = len(feats["indices"])
    flag = f"inside_tsne_requested::{path}:{mtime}"
    if method == "tsne" and not st.session_state.get(flag):
        c[1].button(f"Compute t-SNE of {n} points (takes a few seconds)", key="inside_emb_tsne", type="primary",
                    on_click=lambda: st.session_state.__setitem__(flag, True))
        return
    started = time.perf_counter()
    with st.spinner("Running t-SNE…" if method == "tsne" else "Projecting…"):
        emb = _projection(path, mtime, embedding.DEFAULT_POINTS, method)
    axes = (f"PC 1 ({emb.explained[0]:.0%} of variance)", f"PC 2 ({emb.explained[1]:.0%})") \
        if emb.explained else ("", "")
    fig = maps.embedding_scatter(emb.coords, feats["labels"], feats["indices"], picked.checkpoint.classes,
                                 feats["predicted"], axis_titles=axes, uirevision=f"{path}:{method}",
                                 title=f"Layer '{layer}' ({feats['features'].shape[1]} units), {n} test images, "
                                       f"{'PCA' if method == 'pca' else 't-SNE'}")
    chart(fig, "inside_embedding")
    took = time.perf_counter() - started
    st.caption(f"Each point is one test image (hover for its index and labels; ✕ = misclassified). "
               f"{method.upper()} took {emb.seconds:.2f} s when computed"
               f"{'' if took > 0.5 * emb.seconds else ' (now from cache)'}. Clusters that separate here are "
               "easy for the final linear layer to tell apart.")


PANELS = {"Architecture": architecture, "Filters": filters, "Feature maps": feature_maps,
          "Weights & activations": weights_and_activations, "Embedding": embedding_view}
