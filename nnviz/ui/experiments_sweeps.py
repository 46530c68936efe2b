"""Ready-made sweeps: one click trains the course's experiment in the background; table and plot fill in."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from nnviz.config import ConfigError
from nnviz.data import DATASETS, DatasetMissing, is_present
from nnviz.figures.experiments import sweep_figure
from nnviz.jobs import sweeps
from nnviz.ui import live, presenter
from nnviz.ui import tempo as tempo_ui
from nnviz.ui.experiments_common import DATASET_CHOICES, DATASET_KEY, SWEEP_KEY, allowed, dataset_title, shade_above
from nnviz.ui.experiments_common import SWEEP_JOB_KEY as JOB_KEY  # the sweep this session follows

POLL_S = 0.7
TEMPO_KEY = "exp_sweep_tempo"  # slow motion (epochs per second); a lesson may set it before starting a sweep
GAP_ALERT = sweeps.OVERFIT_GAP  # a train-test accuracy gap above 3 points is shaded
VERDICT_COLORS = {"underfitting": "rgba(31, 119, 180, 0.22)", "overfitting": "rgba(214, 39, 40, 0.22)"}


def results_table(results: list[dict], task: str) -> pd.DataFrame:
    """One row per finished point: final metrics, the train-test gap and the time it took."""
    rows = []
    for r in results:
        f = r.get("final", {})
        row = {"point": r["label"], "status": r["status"], "epochs": r.get("epochs", 0)}
        if task == "classification":
            row.update({"train acc": f.get("train_acc"), "val acc": f.get("val_acc"), "test acc": f.get("test_acc")})
            tr, te = f.get("train_acc"), f.get("test_acc")
            row["gap (train − test)"] = tr - te if tr is not None and te is not None else None
        row.update({"train loss": f.get("train_loss"), "val loss": f.get("val_loss"), "test loss": f.get("test_loss"),
                    "seconds": r.get("seconds")})
        rows.append(row)
    return pd.DataFrame(rows)


def depth_pivots(results: list[dict]) -> dict[str, pd.DataFrame]:
    """Activation x depth tables of train accuracy, test accuracy and their gap."""
    rows = [{"activation": r["params"]["activation"], "hidden layers": len(r["params"]["hidden"].split(",")),
             "train": r["final"].get("train_acc"), "test": r["final"].get("test_acc")} for r in results]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return {}
    frame["gap"] = frame["train"] - frame["test"]
    frame["verdict"] = [sweeps.fit_verdict(a, b) for a, b in zip(frame["train"], frame["test"])]
    order = [a for a in ("relu", "tanh", "sigmoid") if a in set(frame["activation"])]
    return {k: frame.pivot(index="activation", columns="hidden layers", values=k).reindex(order)
            for k in ("train", "test", "gap", "verdict")}


def _verdict_table(pivots: dict[str, pd.DataFrame]):  # noqa: ANN202 (a pandas Styler)
    """Each cell's verdict with its train-test gap, coloured by verdict (underfitting blue, overfitting red)."""
    gap, verdict = pivots["gap"], pivots["verdict"]
    text = verdict.combine(gap, lambda v, g: pd.Series(
        [f"{a} ({b:+.1%})" if a else "–" for a, b in zip(v, g)], index=v.index))
    return text.style.apply(lambda col: [f"background-color: {VERDICT_COLORS.get(v, '')}" if v in VERDICT_COLORS
                                         else "" for v in verdict[col.name]], axis=0)


def _settings() -> tuple[str, str, int]:
    c1, c2, c3 = st.columns([3, 3, 2])
    key = c1.selectbox("Sweep", list(sweeps.SWEEPS), key=SWEEP_KEY, format_func=lambda k: sweeps.SWEEPS[k].title)
    dataset = c2.selectbox("Dataset", DATASET_CHOICES, key=DATASET_KEY, format_func=dataset_title)
    default_epochs = 150 if dataset == "regression" else 5
    epochs = c3.number_input("Epochs per point", 1, 500, default_epochs, key=f"exp_sweep_epochs_{dataset}",
                             help="Kept small so a sweep takes about a minute on a laptop CPU.")
    sweep = sweeps.SWEEPS[key]
    st.caption(f"{sweep.description} {len(sweep.points)} points, trained one after another in the background.")
    return key, dataset, int(epochs)


def start(key: str, dataset: str, epochs: int) -> None:
    """Start sweep `key` in the background and follow it on the experiments page (also used by lessons)."""
    if dataset != "regression" and not DATASETS[dataset].embedded and not is_present(dataset):
        st.error(f"{dataset_title(dataset)} is not in the data folder. Fetch it with "
                 f"`python -m nnviz download {dataset}`, or pick an embedded set (digits, the MNIST or "
                 "Fashion-MNIST sample).")
        return
    try:
        job = sweeps.start_sweep(key, sweeps.base_config(dataset, epochs), epochs_per_s=tempo_ui.rate(TEMPO_KEY))
    except (ConfigError, DatasetMissing, ValueError, OSError) as exc:
        st.error(f"The sweep could not start: {exc}")
        return
    st.session_state[JOB_KEY] = job.id


def _render(view: dict, key: str) -> None:
    results, task = view["results"], "regression" if view["dataset"] == "regression" else "classification"
    done, total = len(results), max(view["total"], 1)
    chart = st.container() if presenter.enabled() else None  # on a projector the race itself comes first
    if view["status"] in ("queued", "running"):
        text = f"{done} of {total} points done"
        if view["current"] and view["current_rows"]:  # which model trains now, in words too (a race's commentary)
            text += (f" · Training now: **{view['current']}** (point {done + 1} of {view['total']}) · "
                     f"epoch {len(view['current_rows']) - 1}/{view['epochs']}")
        st.progress(done / total, text=text)
    elif view["status"] in ("stopped", "failed", "interrupted"):
        st.warning(f"Sweep {view['status']}. {view['message']}".strip())
    current = (view["current"], view["current_rows"]) if view["current"] else None
    metric = "val_loss"
    if key == "optimizers" and task == "classification":
        metric = st.radio("Curve", ("val_loss", "train_loss", "val_acc"), horizontal=True, key="exp_sweep_curve",
                          format_func=lambda m: m.replace("_", " ").replace("val", "validation"))
    if results or current:
        fig = sweep_figure(key, results, task, current, metric=metric)
        (chart or st).plotly_chart(presenter.figure(fig), key=f"exp_sweep_chart_{key}", config={"displaylogo": False})
    if results:
        table = results_table(results, task)
        formats = {c: "{:.1%}" for c in table.columns if c.endswith(" acc")}
        formats.update({"gap (train − test)": "{:+.1%}", "seconds": "{:.1f}"})
        formats.update({c: "{:.4f}" for c in table.columns if c.endswith(" loss")})
        st.dataframe(shade_above(table, ["gap (train − test)"], GAP_ALERT)
                     .format({k: v for k, v in formats.items() if k in table.columns}, na_rep="–"),
                     hide_index=True, key=f"exp_sweep_table_{key}")
        if key == "activation_depth" and task == "classification":
            pivots = depth_pivots(results)
            cols = st.columns(3)
            for col, (name, title) in zip(cols, (("train", "Train accuracy"), ("test", "Test accuracy"),
                                                 ("verdict", "Verdict (train − test gap)"))):
                col.markdown(f"**{title}**")
                styled = _verdict_table(pivots) if name == "verdict" else pivots[name].style.format("{:.1%}")
                col.dataframe(styled, key=f"exp_sweep_pivot_{name}")
            st.caption(f"Rows: activation; columns: hidden layers. Train accuracy is the final model's on its "
                       f"training set. Below {sweeps.UNDERFIT_TRAIN_ACC:.0%} the model has not learnt even its "
                       f"training set: **underfitting** (blue). Above it, a gap over {GAP_ALERT:.0%} means the model "
                       "fits its training set better than new data: **overfitting** (red).")


def render() -> None:
    above = None if presenter.enabled() else st.container()  # the settings, on a projector beside Run instead
    c1, c2, c3 = st.columns([1, 1, 3], vertical_alignment="center")
    if above is None:  # a popover: the first screen is the race's
        c3, settings = c3.columns(2)
        above = settings.popover("Sweep settings", icon=":material/tune:")
    with above:
        key, dataset, epochs = _settings()
    job = sweeps.get_sweep(st.session_state.get(JOB_KEY, "")) if st.session_state.get(JOB_KEY) else None
    running = job is not None and job.active
    if c1.button("Run sweep", key="exp_sweep_start", type="primary", icon=":material/play_arrow:",
                 disabled=running) and allowed("run sweeps"):
        start(key, dataset, epochs)
        job = sweeps.get_sweep(st.session_state.get(JOB_KEY, ""))
        running = job is not None and job.active
    if c2.button("Stop", key="exp_sweep_stop", icon=":material/stop:", disabled=not running) and job is not None:
        job.stop()
        job.wait(2.0)
        running = job.active
    tempo_ui.slow_motion(TEMPO_KEY, job, True, c3)  # any session may stop a sweep, so may pace it

    if job is not None and job.key == key:
        _watch(job.id, key)
        return
    saved = sweeps.list_sweeps(key=key)
    if running:
        st.info(f"A {sweeps.SWEEPS[job.key].title.lower()} sweep is running; pick it above to watch it.")
    if not saved:
        st.info("Press **Run sweep**: the points train one after another, and the plot and table fill in as "
                "each one finishes.", icon=":material/info:")
        return
    by_id = {s["id"]: s for s in saved}
    pick = st.selectbox("Earlier sweeps", list(by_id), key=f"exp_sweep_saved_{key}",
                        format_func=lambda i: f"{i[:15]} · {dataset_title(by_id[i]['dataset'])} · "
                                              f"{len(by_id[i]['results'])}/{by_id[i]['total']} points · "
                                              f"{by_id[i]['status']}")
    _watch(pick, key)


def _watch(job_id: str, key: str) -> None:
    """Show a sweep, polling it while it trains in this process (started here, by a lesson or in another tab)."""
    def body() -> None:
        live_job = sweeps.get_sweep(job_id)
        view = live_job.view() if live_job is not None else sweeps.read_sweep(sweeps.sweeps_dir() / job_id)
        _render(view, key)
        live.rerun_page_when_ended("exp_sweep", view["status"] in ("queued", "running"))  # the buttons change with it

    job = sweeps.get_sweep(job_id)
    st.fragment(body, run_every=POLL_S if job is not None and job.active else None)()
