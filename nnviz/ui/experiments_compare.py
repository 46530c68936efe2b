"""Compare runs: pick persisted runs, overlay their curves, see which settings differ and how they ended."""
from __future__ import annotations

import streamlit as st

from nnviz.analysis.compare import config_table, distinct_labels, final_metrics, run_label
from nnviz.figures.experiments import compare_curves
from nnviz.jobs import runs
from nnviz.ui import presenter
from nnviz.ui.experiments_common import highlight_rows

RUNS_KEY = "exp_compare_runs"
METRICS = {"val_loss": "validation loss", "train_loss": "training loss", "test_loss": "test loss",
           "val_acc": "validation accuracy", "train_acc": "training accuracy", "test_acc": "test accuracy"}


def _preselect(ids: list[str]) -> None:
    """`?runs=id1,id2` picks those runs once (ids that do not exist are named, not fatal)."""
    wanted = st.query_params.get("runs")
    if not wanted or st.session_state.get("exp_runs_link") == wanted:
        return
    st.session_state["exp_runs_link"] = wanted
    asked = [w.strip() for w in wanted.split(",") if w.strip()]
    missing = [w for w in asked if w not in ids]
    if missing:
        st.warning(f"No run folder for {', '.join(missing)}; showing the others.")
    st.session_state[RUNS_KEY] = [w for w in asked if w in ids]


def render() -> None:
    records = runs.list_runs()
    if not records:
        st.info("No runs yet. Train a model in the Regression or Classification lab (or with "
                "`python -m nnviz train`); every run is kept and can be compared here.", icon=":material/info:")
        return
    by_id = {r.id: r for r in records}
    _preselect(list(by_id))
    if RUNS_KEY not in st.session_state:
        st.session_state[RUNS_KEY] = [r.id for r in records[:2]]
    st.session_state[RUNS_KEY] = [i for i in st.session_state[RUNS_KEY] if i in by_id]
    chosen = st.multiselect("Runs to compare", list(by_id), key=RUNS_KEY, max_selections=12,
                            format_func=lambda i: f"{run_label(by_id[i])} ({by_id[i].status})",
                            help="Every run of the labs and of `python -m nnviz train`, newest first.")
    picked = [by_id[i] for i in chosen]
    if not picked:
        st.info("Pick one or more runs above.")
        return
    present = [m for m in METRICS if any(m in row for r in picked for row in r.history)]
    c1, c2, c3 = st.columns([2, 2, 3])
    metric = c1.selectbox("Metric", present or list(METRICS), format_func=METRICS.get, key="exp_compare_metric")
    x = c2.radio("Align by", ("epoch", "elapsed"), horizontal=True, key="exp_compare_x",
                 format_func=lambda v: "epoch" if v == "epoch" else "wall time")
    smoothing = c3.slider("Smoothing", 0.0, 0.95, 0.0, 0.05, key="exp_compare_smoothing",
                          help="Exponential moving average, as TensorBoard's slider.")
    labels = distinct_labels(picked)
    fig = compare_curves([r.history for r in picked], labels, metric, x, smoothing)
    st.plotly_chart(presenter.figure(fig), key="exp_compare_chart", config={"displaylogo": False})

    st.subheader("Final metrics")
    metrics = final_metrics(picked)
    metrics["run"] = labels
    st.dataframe(metrics, hide_index=True, key="exp_compare_metrics",
                 column_config={k: st.column_config.NumberColumn(format="%.4f") for k in METRICS})
    st.subheader("Settings")
    table, differing = config_table(picked)
    only = st.toggle("Only the settings that differ", value=len(picked) > 1 and bool(differing),
                     key="exp_compare_only_diff")
    shown = table.loc[differing] if only and differing else table
    if len(picked) > 1:
        st.caption(f"{len(differing)} setting(s) differ, shaded." if differing
                   else "These runs have the same settings.")
    st.dataframe(highlight_rows(shown, differing), key="exp_compare_config")
