"""Hyper-parameter search: define a space, run trials in the background, watch the study fill in
(from this app and from `python -m nnviz sweep` workers on other machines)."""
from __future__ import annotations

import json
import time

import optuna
import pandas as pd
import streamlit as st

from nnviz import security
from nnviz.config import ConfigError
from nnviz.figures.search import VIEWS, grid_heatmap, study_view
from nnviz.jobs import runs, search, search_jobs
from nnviz.jobs.search_results import grid_axes, grid_cells, results_frame, state_counts, trial_rows
from nnviz.model.params import PARAMS, quick_base
from nnviz.ui import access, live, presenter
from nnviz.ui.experiments_common import DATASET_CHOICES, allowed, dataset_title

JOB_KEY, STUDY_KEY = "exp_search_job", "exp_search_open"
SPACE_KEY = "exp_search_space"
POLL_S = 1.0


def _defaults_for_choice() -> None:
    """A new sampler or dataset brings its own default space, study name and trial count."""
    sampler, dataset = st.session_state["exp_search_sampler"], st.session_state["exp_search_dataset"]
    st.session_state[SPACE_KEY] = json.dumps(search.DEFAULT_SPACES[sampler])
    st.session_state["exp_search_name"] = f"{dataset}-{sampler}-{time.strftime('%H%M')}"
    st.session_state["exp_search_trials"] = 4 if sampler == "grid" else 12
    st.session_state["exp_search_epochs"] = 150 if dataset == "regression" else 3


def _fmt(params: dict) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


FORM_KEYS = ("exp_search_dataset", "exp_search_sampler", "exp_search_kfold", "exp_search_epochs", SPACE_KEY,
             "exp_search_name", "exp_search_trials", "exp_search_pruning")
FORM_KEPT = "exp_search_form"  # the form's values, kept while the form is hidden (a search runs)


def _restore_form() -> None:
    """Streamlit drops a widget's value once it is not drawn (the form hides while a search runs):
    put the last values back, so the form comes back as it was left."""
    kept = st.session_state.get(FORM_KEPT, {})
    for key in FORM_KEYS:
        if key not in st.session_state and key in kept:
            st.session_state[key] = kept[key]


def _keep_form() -> None:
    st.session_state[FORM_KEPT] = {k: st.session_state[k] for k in FORM_KEYS if k in st.session_state}


def _what_start_does(url: str, name: str, names: list[str], spec: search.SearchSpec | None, trials: int) -> str:
    """One sentence under Start: a new study, or trials added to an existing one (with the space it uses)."""
    if name not in names:
        return f"**Start** creates study **{name}** and runs {trials} trial(s) of it here."
    try:
        stored = optuna.load_study(study_name=name, storage=search.storage(url)).user_attrs.get(search.SPEC_ATTR)
        kept = search.SearchSpec.from_json(stored) if stored else None
    except (KeyError, ConfigError, ValueError):
        kept = None
    same = kept is not None and spec is not None and kept.to_json() == spec.to_json()
    return (f"Study **{name}** exists: **Start** adds {trials} trial(s) to it"
            + ("." if same else ", with the study's own search space and settings, not the ones above. "
               "Give a new study name to search these."))


def _new_search(url: str, names: list[str]) -> None:
    _restore_form()
    if "exp_search_name" not in st.session_state:  # first visit: the defaults of digits + grid
        st.session_state.setdefault("exp_search_dataset", "digits")
        st.session_state.setdefault("exp_search_sampler", "grid")
        _defaults_for_choice()
    st.session_state.setdefault("exp_search_kfold", 2)
    st.session_state.setdefault("exp_search_pruning", True)
    c1, c2, c3, c4 = st.columns(4)
    dataset = c1.selectbox("Dataset", DATASET_CHOICES, key="exp_search_dataset", format_func=dataset_title,
                           on_change=_defaults_for_choice)
    sampler = c2.selectbox("Search", search.SAMPLERS, key="exp_search_sampler", on_change=_defaults_for_choice,
                           format_func={"grid": "Grid (ParameterGrid)", "random": "Random", "tpe": "TPE (Optuna)"}.get)
    kfold = c3.number_input("K-fold CV", 0, 10, key="exp_search_kfold", help="0: score on the validation split")
    epochs = c4.number_input("Epochs per fit", 1, 500, key="exp_search_epochs")
    space_text = st.text_area(
        "Search space (JSON)", key=SPACE_KEY, height=80,
        help="Lists of values for any search; ranges {\"low\": a, \"high\": b, \"log\": true} for random / TPE. "
             "Names: " + ", ".join(f"{k} ({p.help})" for k, p in PARAMS.items()))
    c1, c2, c3 = st.columns([3, 2, 2])
    name = c1.text_input("Study name", key="exp_search_name").strip() or "search"
    trials = c2.number_input("Trials (this app)", 1, 500, key="exp_search_trials")
    pruning = c3.toggle("Prune bad trials", key="exp_search_pruning", disabled=sampler == "grid",
                        help="Median pruning: a trial whose validation score lags the median at the same epoch stops.")
    _keep_form()
    spec, problem = None, ""
    try:
        base = quick_base(dataset, epochs=int(epochs))
        spec = search.SearchSpec(base=base, space=json.loads(space_text), sampler=sampler, kfold=int(kfold),
                                 pruning=pruning)
    except json.JSONDecodeError as exc:
        problem = f"The search space is not valid JSON: {exc}"
    except (ConfigError, ValueError) as exc:
        problem = f"The search could not start: {exc}"
    st.caption(_what_start_does(url, name, names, spec, int(trials)))
    if not st.button("Start search", key="exp_search_start", type="primary", icon=":material/play_arrow:"):
        return
    if not allowed("start searches"):
        return
    if spec is None:
        st.error(problem)
        return
    try:
        job = search_jobs.start_search(url, name, int(trials), spec)
    except (ConfigError, ValueError, OSError) as exc:
        st.error(f"The search could not start: {exc}")
        return
    st.session_state[JOB_KEY] = job.id
    st.session_state[STUDY_KEY] = job.study
    st.rerun()  # redraw with the job running: the form gives way, Stop is enabled, the study is followed


def _heat_map(where, trials: list, axes: tuple[str, str], spec: search.SearchSpec, height: int = 340) -> None:
    cells = grid_cells(trials, axes[0], axes[1], spec.base.data.task)
    where.markdown(f"**Mean {cells.metric}** per {cells.x} × {cells.y}"
                   + (" (lower is better)" if cells.lower_is_better else " (higher is better)"))
    where.plotly_chart(presenter.figure(grid_heatmap(cells, height=height)), key="exp_search_heatmap",
                       config={"displaylogo": False})
    others = [p for p in spec.space if p not in axes]
    if others or cells.diverged.any():
        where.caption(("Each cell averages over " + ", ".join(others) + ". " if others else "")
                      + ("Grey cells diverged: the loss exploded, so they have no score." if cells.diverged.any()
                         else ""))


def _progress_and_results(name: str, job: search_jobs.SearchJob | None, trials: list, counts: dict,
                          axes: tuple[str, str] | None, spec: search.SearchSpec | None,
                          heat_beside: bool) -> pd.DataFrame:
    """The search's progress and its cv_results table, with the grid's heat map beside it when `heat_beside`;
    returns the table's frame."""
    if job is not None and job.study == name:
        if job.active:
            st.progress(min(job.done / max(job.n_trials, 1), 1.0),
                        text=f"This app: {job.done} of {job.n_trials} trials · study: {counts['complete']} complete, "
                             f"{counts['pruned']} pruned, {counts['running']} running, {counts['fail']} failed")
        elif job.message:
            (st.error if job.status == "failed" else st.info)(job.message)
    if not job or not job.active:
        st.caption(f"{counts['complete']} complete · {counts['pruned']} pruned · {counts['running']} running · "
                   f"{counts['fail']} failed")
    frame = results_frame(trials)
    if frame.empty:
        st.info("No finished trial yet: the table and the plots fill in as trials finish.")
        return frame
    table, heat_here = st.columns([3, 2]) if heat_beside and axes is not None else (st.container(), None)
    table.markdown("**Results** (scikit-learn's `cv_results_` columns, best first)")
    table.dataframe(frame.style.highlight_max(subset=["mean_test_score"], color="rgba(44, 160, 44, 0.3)")
                    .format(precision=4), hide_index=True, key="exp_search_results")
    if heat_here is not None and spec is not None:
        _heat_map(heat_here, trials, axes, spec)
    return frame


def _study_panel(url: str, name: str, job: search_jobs.SearchJob | None) -> None:
    try:
        study = optuna.load_study(study_name=name, storage=search.storage(url))
    except (KeyError, ConfigError) as exc:
        st.error(f"Cannot read study {name!r}: {exc}")
        return
    trials = study.get_trials(deepcopy=False)
    counts = state_counts(trials)
    spec_json = study.user_attrs.get(search.SPEC_ATTR)
    spec = search.SearchSpec.from_json(spec_json) if spec_json else None
    axes = grid_axes(spec.space) if spec is not None and spec.sampler == "grid" else None  # sampled: no grid
    # on a projector the grid's heat map leads, top left; elsewhere it sits beside the results table
    heat, main = st.columns(2) if axes and presenter.enabled() else (None, st.container())
    with main:
        frame = _progress_and_results(name, job, trials, counts, axes, spec, heat_beside=heat is None)
    if heat is not None and spec is not None and not frame.empty:
        _heat_map(heat, trials, axes, spec, height=280)
    if spec is not None:  # under the results: the picture comes first on a projector
        metric = "validation accuracy" if spec.base.data.task == "classification" else "minus validation MSE"
        st.caption(f"Score: {metric} ({'%d-fold CV' % spec.kfold if spec.kfold >= 2 else 'validation split'}), "
                   f"higher is better · {spec.sampler} search over {', '.join(spec.space)} · "
                   f"{dataset_title(spec.base.data.dataset)}, {_epochs_per_fit(spec)} per fit")
    if not frame.empty:
        best = study.best_trial
        st.success(f"Best: trial {best.number}, score {best.value:.4f} · {_fmt(best.params)}",
                   icon=":material/trophy:")
    ckpt = job.checkpoint if job is not None and job.study == name else ""
    if ckpt:
        st.caption(f"The best trial's model is saved as `{ckpt}`: open it in Inside, Explain or Draw.")
    views = st.tabs([VIEWS[v][0] for v in VIEWS])
    for tab, view in zip(views, VIEWS):
        with tab:
            fig = study_view(study, view)
            if fig is None:
                st.caption(f"{VIEWS[view][0]} appears after {VIEWS[view][2]} finished trial(s)"
                           + (" with parameters that vary." if view == "importances" else "."))
            else:
                st.plotly_chart(presenter.figure(fig), key=f"exp_search_view_{view}", config={"displaylogo": False})
    with st.expander(f"All {len(trials)} trials, with the worker that ran each"):
        st.dataframe(trial_rows(trials), hide_index=True, key="exp_search_trials_table")
    st.markdown("**Add workers** on any machine that reaches this storage (CUDA is used where present):")
    st.code(f"python -m nnviz sweep --storage '{url}' --study '{name}' --trials 20", language="bash")


def render() -> None:
    # on a projector the study, its storage and its workers fold away: Stop and the results fill the first screen
    head = presenter.advanced("Study and storage")
    url = head.text_input("Study storage", value=search.default_storage_url(), key="exp_search_storage",
                          disabled=not access.unlocked(),  # the audience cannot point the server elsewhere
                          help="A SQLite file under the runs folder by default; any SQLAlchemy URL, e.g. "
                               "postgresql://user:pass@host/db, shares one study between machines. "
                               "See docs/distributed-search.md.")
    try:
        if url != search.default_storage_url():  # the server's own setting is trusted; a typed one is checked
            url = security.check_page_storage(url, runs.runs_dir())
        names = search.study_names(url)
    except security.UnsafeName as exc:
        st.error(str(exc))
        return
    except ConfigError as exc:
        st.error(str(exc))
        return
    except Exception as exc:  # a database that went away mid-session: say so, keep the page
        st.error(f"Cannot list the studies in {url}: {str(exc).splitlines()[0][:300]}")
        return
    job_id = st.session_state.get(JOB_KEY)
    job = search_jobs.get_search(job_id) if job_id else None
    running = job is not None and job.active
    if not running:  # while this session's search runs, Stop is what it needs (one search at a time)
        with st.expander("New search", expanded=not names, icon=":material/add:"):
            _new_search(url, names)
            job = search_jobs.get_search(st.session_state.get(JOB_KEY, "")) if st.session_state.get(JOB_KEY) else None
            running = job is not None and job.active
            names = search.study_names(url)
    if not names:
        return
    if st.session_state.get(STUDY_KEY) not in names:
        st.session_state[STUDY_KEY] = names[0]
    if presenter.enabled():
        c1, c2, c4 = head.columns(3, vertical_alignment="bottom")
        c3 = st.container()
    else:
        c1, c2, c3, c4 = st.columns([3, 2, 2, 2], vertical_alignment="bottom")
    name = c1.selectbox("Study", names, key=STUDY_KEY)
    follow = c2.toggle("Follow workers", value=False, key="exp_search_follow",
                       help="Refresh every few seconds to show trials of `nnviz sweep` workers elsewhere.")
    if c3.button("Stop search", key="exp_search_stop", icon=":material/stop:", disabled=not running) and job:
        job.stop()
        job.wait(2.0)
        running = job.active
    with c4.popover("Delete study", icon=":material/delete:", disabled=running and job.study == name):
        st.caption(f"Deletes study **{name}** and all its trials from the storage, for every worker.")
        if st.button(f"Delete {name}", key="exp_search_delete", type="primary") and allowed("delete studies"):
            try:
                optuna.delete_study(study_name=name, storage=search.storage(url))
            except (KeyError, ConfigError) as exc:
                st.error(f"Could not delete {name!r}: {exc}")
            else:
                st.session_state.pop(STUDY_KEY, None)
                st.rerun()

    def body() -> None:
        _study_panel(url, name, job)
        live.rerun_page_when_ended("exp_search", job is not None and job.active)

    st.fragment(body, run_every=POLL_S if running else 3.0 if follow else None)()


def _epochs_per_fit(spec) -> str:  # noqa: ANN001 (a search.SearchSpec)
    """'150 epochs', or the grid's own values when the search varies the epochs."""
    values = spec.space.get("epochs")
    if isinstance(values, list):
        return f"{', '.join(str(v) for v in values)} epochs (from the grid)"
    if isinstance(values, dict):
        return f"{values.get('low')}–{values.get('high')} epochs (searched)"
    return f"{spec.base.train.epochs} epochs"
