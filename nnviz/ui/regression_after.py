"""After a regression run: metrics, residuals, replay, neurons, weights, K-fold band, downloads.

Everything is rebuilt from the run folder (nnviz.jobs.run_folder: final.pt, fold_K.pt, the epoch-0 weights)
through st.cache_data keyed by the folder and final.pt's mtime; models are loaded fresh
inside the cached functions, so no shared model is ever touched.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import streamlit as st

from nnviz.analysis import regression_views as views
from nnviz.analysis.diagnostics import compact, divergence
from nnviz.config import DataConfig, from_dict
from nnviz.data import load
from nnviz.figures import regression as rfig
from nnviz.jobs.run_folder import RunFolder
from nnviz.jobs.runs import Run
from nnviz.model import checkpoints
from nnviz.ui import presenter, replay, report_panel, resources
from nnviz.ui.regression_results import cfg_json, chart, scene_fit_figure, scene_of

TABS = ["Results", "Replay", "Neurons", "Weights", "K-fold", "Download"]


def _model(path: str):
    return checkpoints.load(path).model()


@st.cache_data(max_entries=16, show_spinner=False)
def _predictions(path: str, mtime: int, data_json: str) -> dict:
    data = resources.task_data(from_dict(DataConfig, json.loads(data_json)))
    return views.split_predictions(_model(path), data)


@st.cache_data(max_entries=16, show_spinner=False)
def _neurons(path: str, mtime: int, grid: tuple[float, ...]) -> list[views.NeuronLayer]:
    return views.neuron_layers(_model(path), np.asarray(grid, np.float32))


@st.cache_data(max_entries=16, show_spinner=False)
def _weights(path: str, mtime: int) -> tuple[dict, dict | None]:
    initial = RunFolder(Path(path).parent).epoch_weights(0)
    return views.layer_weights(_model(path)), views.state_weights(initial) if initial else None


@st.cache_data(max_entries=8, show_spinner="Loading the K fold models…")
def _folds(run_dir: str, mtime: int, grid: tuple[float, ...]) -> views.FoldFits | None:
    return views.fold_fits(run_dir, np.asarray(grid, np.float32))


def after_training(run: Run) -> None:
    """The tabs shown once a run has ended; only the open tab is computed."""
    view = run.view()
    final = run.folder.final_path
    if not final.is_file():
        if not view.active:
            st.info("This run ended before a model was saved; there is nothing to analyse.")
        return
    ctx = {"view": view, "run": run, "path": str(final), "mtime": final.stat().st_mtime_ns,
           "scene": scene_of(cfg_json(view.config.data)), "grid": tuple(float(v) for v in view.fit_x)}
    st.divider()
    names = [t for t in TABS if t != "K-fold" or view.config.train.kfold]
    tabs = st.tabs(names, key="rg_result_tab", on_change="rerun")
    for name, tab in zip(names, tabs):
        if tab.open:
            with tab:
                try:
                    RENDER[name](ctx)
                except checkpoints.CheckpointError as exc:
                    st.error(str(exc))


def _results(ctx: dict) -> None:
    cfg, scene = ctx["view"].config, ctx["scene"]
    preds = _predictions(ctx["path"], ctx["mtime"], cfg_json(cfg.data))
    rows = views.final_metrics(preds, scene["noise"])
    test = next((r for r in rows if r["split"] == "test"), None)
    view = ctx["view"]
    if divergence(view.history, view.status, lr=cfg.train.lr) is not None:
        test = None  # one verdict: the divergence sentence above the curves, no advice to train longer
    if test and scene["noise"]:
        ratio = test["MSE / σ²"]
        good = ratio <= 1.5
        (st.success if good else st.warning)(
            f"Test MSE **{compact(test['MSE'])}** = **{ratio:.2f} × σ²** (noise variance {scene['noise']**2:.3g}): "
            + ("within the 1.5 × σ² target." if good else "above the 1.5 × σ² target: train longer, or change "
                                                            "the model or the regularisation."),
            icon=":material/check_circle:" if good else ":material/warning:")
    # half the width, the whole width on a projector (its table is zoomed): the columns up to "MSE / σ²" are never cut
    left, right = (st.container(), st.container()) if presenter.enabled() else st.columns(2)
    with left:
        st.markdown("**Final metrics**" + (" (fold 1 model)" if cfg.train.kfold else ""))
        st.dataframe(rows, hide_index=True, width="stretch",
                     column_config={k: st.column_config.NumberColumn(format=_number_format(rows, k), width="small")
                                    for k in ("MSE", "RMSE", "MAE", "MSE / σ²")})
        best = min((r for r in ctx["view"].history if math.isfinite(r.get("val_loss", math.nan))),
                   key=lambda r: r["val_loss"], default=None)
        if best:
            st.caption(f"Lowest validation MSE {compact(best['val_loss'])} at epoch {int(best['epoch'])}; "
                       f"{ctx['view'].message or 'trained for all epochs.'}")
        report_panel.report_button([ctx["run"].dir], "rg_report")
    with right:
        res = views.residuals(preds)
        chart(rfig.residual_figure(res, noise=scene["noise"], gaps=scene["gaps"], x_range=scene["x_range"],
                                    title="Residuals y − ŷ"), "rg_residuals", "regression-residuals")


def _number_format(rows: list[dict], key: str) -> str:
    """Four decimals, or 4.1e+38 for a column a diverged run filled with huge numbers."""
    values = [abs(r[key]) for r in rows if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
    return "%.4f" if all(v < 1e5 for v in values) else "%.2e"


def _replay(ctx: dict) -> None:
    view = ctx["view"]
    epochs = sorted(e for e, s in view.snapshots.items() if "fit" in s)
    if len(epochs) < 2:
        st.info("This run recorded too few epochs to replay.")
        return
    replay.player(epochs, "rg_replay_epoch", lambda epoch: _replay_frame(ctx, epochs, epoch),
                  help="The fit and the loss curves as they were at this epoch; Play steps through the run.")


def _replay_frame(ctx: dict, epochs: list[int], epoch: int) -> None:
    view, scene = ctx["view"], ctx["scene"]
    shown = views.replay_epoch(view.snapshots, epoch)
    grid = np.asarray(view.fit_x)
    fit = (grid, np.asarray(view.snapshots[shown]["fit"]))
    before = (grid, np.asarray(view.snapshots[epochs[0]]["fit"]))
    left, right = st.columns(2)
    with left:
        chart(scene_fit_figure(scene, f"Fit at epoch {shown}", fit=fit, fit_label=f"epoch {shown}", before=before,
                           uirevision="replay"), "rg_replay_fit", f"regression-fit-epoch{shown}")
    with right:
        chart(rfig.loss_figure(view.history, view.batch_losses, noise_var=scene["noise"] ** 2,
                                upto_epoch=shown, smoothing=st.session_state.get("rg_smoothing", 0.6),
                                title=f"Loss up to epoch {shown}", height=380, uirevision="replay-loss"),
               "rg_replay_loss", f"regression-loss-epoch{shown}")


def _neurons_tab(ctx: dict) -> None:
    layers = _neurons(ctx["path"], ctx["mtime"], ctx["grid"])
    if not layers:
        st.info("This model has no hidden layer: it is a straight line ŷ = w·x + b, with no neurons to show.")
        return
    x = np.asarray(ctx["grid"])
    choice = st.columns([2, 3])[0].selectbox("Layer", range(len(layers)), index=len(layers) - 1,
                                             key="rg_neuron_layer", format_func=lambda i: layers[i].title)
    layer = layers[choice]
    left, right = st.columns(2)
    with left:
        chart(rfig.neuron_heatmap(x, layer.activations, layer.order, title=f"Every neuron of {layer.title}"),
               "rg_neuron_heatmap", f"regression-neurons-{layer.name}")
    top = views.top_neurons(layer, 6)
    with right:
        if layer.contributions is not None:
            curves = {f"neuron {i}": layer.contributions[i] for i in top}
            total = layer.contributions.sum(0) + layer.bias
            chart(rfig.neuron_curves(x, curves, total=total, y_title="contribution to ŷ",
                                      title="What the strongest neurons add to the fit"),
                   "rg_neuron_curves", f"regression-contributions-{layer.name}")
            st.caption("Each curve is one neuron's output times its weight into the output unit; all of them "
                       f"summed plus the bias ({layer.bias:+.3f}) give the red fit exactly.")
        else:
            curves = {f"neuron {i}": layer.activations[i] for i in top}
            chart(rfig.neuron_curves(x, curves, y_title="activation", title="The most active neurons"),
                   "rg_neuron_curves", f"regression-activations-{layer.name}")
    st.caption("Heatmap rows are sorted by where along x each neuron changes fastest: each neuron switches on "
               "in its own region, and the next layer adds these pieces into the curve.")


def _weights_tab(ctx: dict) -> None:
    trained, initial = _weights(ctx["path"], ctx["mtime"])
    title = "Weights per layer: initial (grey) and trained (blue)" if initial else "Trained weights per layer"
    chart(rfig.weight_change_histograms(trained, initial, title=title),
           "rg_weights", "regression-weights")


def _kfold(ctx: dict) -> None:
    scene = ctx["scene"]
    folds = _folds(str(ctx["run"].dir), ctx["mtime"], ctx["grid"])
    if folds is None:
        st.info("No fold models were saved (the run was stopped before the first fold finished).")
        return
    k = len(folds.val_mse)
    mean, std = float(np.nanmean(folds.val_mse)), float(np.nanstd(folds.val_mse))
    st.markdown(f"**{k}-fold cross-validation**: validation MSE **{mean:.4f} ± {std:.4f}** (mean ± std over folds)")
    left, right = st.columns([3, 2])
    with left:
        grid = folds.grid
        chart(scene_fit_figure(scene, f"Mean fit of {k} models ± 1 std", fit=(grid, folds.mean), fit_label="mean fit",
                           band=(grid, folds.mean - folds.std, folds.mean + folds.std), band_label="± 1 std",
                           extra_fits=[(grid, f) for f in folds.fits], uirevision="kfold"),
               "rg_kfold_fit", "regression-kfold")
    with right:
        chart(rfig.fold_losses_figure(folds.val_mse, title="Validation MSE per fold", height=380),
               "rg_kfold_losses", "regression-kfold-losses")
    st.caption("The band is widest where the folds disagree: usually in the x-ranges without training data.")


def _download(ctx: dict) -> None:
    run, view = ctx["run"], ctx["view"]
    st.markdown("**The run**: its config, history as CSV and checkpoints, from the folder "
                f"`{run.dir.name}` (everything shown here can be rebuilt from it).")
    cols = st.columns(4)
    cols[0].download_button("Run (zip)", lambda: views.run_archive(run.dir), f"{run.id}.zip",
                            "application/zip", key="rg_dl_zip", on_click="ignore", icon=":material/folder_zip:")
    cols[1].download_button("History (CSV)", views.rows_csv(view.history), f"{run.id}-history.csv", "text/csv",
                            key="rg_dl_history", on_click="ignore", icon=":material/table:")
    cols[2].download_button("Config (JSON)", view.config.to_json(), f"{run.id}-config.json", "application/json",
                            key="rg_dl_config", on_click="ignore", icon=":material/settings:")
    cols[3].download_button("Checkpoint (.pt)", lambda: Path(ctx["path"]).read_bytes(), f"{run.id}-final.pt",
                            "application/octet-stream", key="rg_dl_ckpt", on_click="ignore", icon=":material/save:")
    st.markdown("**Figures**: one HTML page with every figure (interactive, opens offline). For a PNG, use "
                "the camera icon at the top right of any chart (saved at twice the screen resolution).")
    st.download_button("Figures (HTML)", lambda: _figures_html(ctx), f"{run.id}-figures.html", "text/html",
                       key="rg_dl_html", on_click="ignore", icon=":material/image:")


def _figures_html(ctx: dict) -> str:
    """Every figure of the run in one HTML page. Runs in the download thread: no st.* (and no st caches)."""
    view, scene = ctx["view"], ctx["scene"]
    grid = np.asarray(view.fit_x)
    snaps = view.snapshots
    model = _model(ctx["path"])
    data = load(view.config.data)
    figs = {}
    if snaps:
        last = max(snaps)
        figs["Fit"] = scene_fit_figure(scene, f"Fit at epoch {last}", fit=(grid, np.asarray(snaps[last]["fit"])),
                                  before=(grid, np.asarray(snaps[min(snaps)]["fit"])))
    figs["Loss"] = rfig.loss_figure(view.history, view.batch_losses, noise_var=scene["noise"] ** 2)
    res = views.residuals(views.split_predictions(model, data))
    figs["Residuals"] = rfig.residual_figure(res, noise=scene["noise"], gaps=scene["gaps"])
    initial = RunFolder(run_dir := Path(ctx["path"]).parent).epoch_weights(0)
    figs["Weights"] = rfig.weight_change_histograms(views.layer_weights(model), views.state_weights(initial) if initial else None)
    for layer in views.neuron_layers(model, grid):
        figs[f"Neurons: {layer.title}"] = rfig.neuron_heatmap(grid, layer.activations, layer.order)
    return rfig.html_report(figs, f"nnviz regression run {run_dir.name}")


RENDER = {"Results": _results, "Replay": _replay, "Neurons": _neurons_tab, "Weights": _weights_tab,
          "K-fold": _kfold, "Download": _download}
