"""Lessons in the dashboard: apply a lesson's step to its page, open it, and show what to look for.

A step is applied through each page's own entry point (`apply_settings` of the labs, the
model and tab keys of the inspection page, the session keys of the experiments page), so
the page renders exactly as if the user had set it up by hand. `?lesson=<id>&step=<k>` on
any page opens that state, also on a fresh server: `before_page` reads it before the page runs.
"""
from __future__ import annotations

import dataclasses
import json
import time
from typing import NoReturn
from urllib.parse import urlencode

import streamlit as st

from nnviz.config import ConfigError, RunConfig
from nnviz.data import DATASETS, load
from nnviz.figures.lessons import StepResult, steps_overlay
from nnviz.jobs import runs, search, search_jobs
from nnviz.model.params import quick_base
from nnviz.teaching import lessons
from nnviz.teaching.lessons import Lesson
from nnviz.ui import (
    access,
    experiments_common,
    experiments_search,
    experiments_sweeps,
    live,
    pickers,
    playground_settings,
    presenter,
)
from nnviz.ui import class_panels as cls_canvas
from nnviz.ui import classification_config as cc
from nnviz.ui import classification_panels as cls_panels
from nnviz.ui import regression_panels as rg_panels
from nnviz.ui import regression_settings as rs

ACTIVE = "lesson:active"  # {'id', 'step'}: the lesson this session follows
APPLIED = "lesson:applied"  # (id, step) last applied, so a URL's lesson is applied once per session
PENDING = "lesson:start"  # what to start (a run, a sweep or a search) when its page runs, after the switch
PAGE_FILES = {name: f"app_pages/{name}.py" for name in lessons.PAGES}
PAGE_TITLES = {"regression": "Regression lab", "classification": "Classification lab", "inside": "Inside",
               "experiments": "Experiments", "playground": "Playground", "class_canvas": "Class canvas"}
SLOTS = {"regression": rg_panels.SLOT, "classification": cls_panels.SLOT}
INSIDE_TAB = "inside_tab"  # the inside page's tab widget key
INSIDE_MODEL = "inside_model"  # the inside page's model select box key
EXPERIMENTS = {"sweep": "experiments:sweep", "dataset": "experiments:dataset"}  # the experiments page's keys


def _forget_run(slot: str) -> None:
    """Stop (if training) and stop following the slot's run: the lesson starts from its own state."""
    run = live.current(slot)
    if run is not None and run.active:
        live.stop(run)
    live.forget(slot)


def apply_step(lesson: Lesson, index: int, start: bool = True) -> None:
    """Put step `index` of `lesson` into the session: its page's settings, and a pending start.

    `start=False` (a refreshed tab that follows the lesson's run through the URL) keeps that run.
    """
    step = lesson.steps[index]
    st.session_state.pop(PENDING, None)
    config = step.config  # started as the page builds it (same run, the page's name): the page sees no change
    if step.page == "regression":
        if start:
            _forget_run(rg_panels.SLOT)
        settings = rs.settings_from_config(step.config)
        rg_panels.apply_settings(settings)
        config = rs.run_config(settings)
    elif step.page == "classification":
        if start:
            _forget_run(cls_panels.SLOT)
        settings = cc.settings_from_config(step.config)
        cls_panels.apply_settings(settings)
        config = cc.run_config(settings)
        st.session_state.pop(cls_panels.CHECKPOINT_KEY, None)  # a loaded checkpoint would hide the run
        st.session_state.pop("cls_replay", None)
    elif step.page == "inside":
        _pick_trained_model()
        st.session_state[INSIDE_TAB] = step.view
    elif step.page == "class_canvas":
        st.session_state[cls_canvas.FOCUS_KEY] = step.view or "collect"
    elif step.page == "playground":
        playground_settings.apply_link(step.link, play=start and step.autostart)
    elif step.page == "experiments" and step.sweep:
        st.session_state[EXPERIMENTS["sweep"]] = step.sweep
        st.session_state[EXPERIMENTS["dataset"]] = step.dataset
        st.session_state[experiments_sweeps.TEMPO_KEY] = step.epochs_per_s  # a race a class can follow
    elif step.page == "experiments":
        st.session_state[experiments_common.LINK_TAB] = "search"
    if start and config is not None and step.autostart:
        st.session_state[PENDING] = {"page": step.page, "config": config}
    elif start and step.page == "experiments" and step.autostart:
        st.session_state[PENDING] = {"page": step.page, "sweep": step.sweep, "dataset": step.dataset,
                                     "epochs": lessons.sweep_epochs(step), "space": step.space,
                                     "kfold": step.kfold, "name": f"lesson-{lesson.id}-{time.strftime('%H%M%S')}"}
    st.session_state[ACTIVE] = {"id": lesson.id, "step": index}
    st.session_state[APPLIED] = (lesson.id, index)


def _pick_trained_model() -> None:
    """Show the model the lesson's classification step trained, once it has finished."""
    run = live.current(cls_panels.SLOT)
    final = run.folder.final_checkpoint if run is not None else None
    if final is not None:
        st.session_state[pickers.MODEL_KEY] = str(final)
        st.session_state.pop(INSIDE_MODEL, None)  # the select box re-reads the picked model


def query_params(lesson: Lesson, index: int) -> dict[str, str]:
    """The URL parameters of a lesson step (what a link on a slide carries)."""
    params = {"lesson": lesson.id}
    if index:
        params["step"] = str(index)
    step = lesson.steps[index]
    if step.page == "experiments" and step.sweep:
        params.update(sweep=step.sweep, dataset=step.dataset)
    elif step.page == "experiments":
        params["tab"] = "search"
    if presenter.enabled():
        params[presenter.PARAM] = "1"
    return params


def open_step(lesson_id: str, index: int = 0) -> NoReturn:
    """Apply a step and switch to its page (call from the script body, not from a callback)."""
    lesson = lessons.resolve(lessons.get(lesson_id))
    apply_step(lesson, index)
    st.switch_page(PAGE_FILES[lesson.steps[index].page], query_params=query_params(lesson, index))


def _from_url(page_path: str) -> None:
    """Apply `?lesson=<id>&step=<k>` once per session; a bad value gets a message, not a traceback."""
    lesson_id = st.query_params.get("lesson")
    if not lesson_id:
        return
    raw_step = st.query_params.get("step", "0")
    index = int(raw_step) if raw_step.isdigit() else -1
    if st.session_state.get(APPLIED) == (lesson_id, index):
        return
    st.session_state[APPLIED] = (lesson_id, index)
    if lesson_id not in lessons.LESSONS:
        st.error(f"There is no lesson **{lesson_id}** (from the link). Lessons: {', '.join(lessons.LESSONS)}.",
                 icon=":material/link_off:")
        return
    lesson = lessons.resolve(lessons.get(lesson_id))
    if not 0 <= index < len(lesson.steps):
        st.error(f"Lesson **{lesson.title}** has steps 0–{len(lesson.steps) - 1}; the link asks for step "
                 f"{raw_step}.", icon=":material/link_off:")
        return
    step = lesson.steps[index]
    # A refreshed tab keeps its run in the URL (`<slot>_run`): follow it instead of training again.
    following = step.page in SLOTS and bool(st.query_params.get(f"{SLOTS[step.page]}_run"))
    if following:
        run = live.current(SLOTS[step.page])
        following = run is not None and dataclasses.replace(run.config, name="") == \
            dataclasses.replace(step.config, name="")
    apply_step(lesson, index, start=not following)
    if page_path != step.page:
        st.switch_page(PAGE_FILES[step.page], query_params=query_params(lesson, index))


def _start_pending(page_path: str) -> None:
    pending = st.session_state.get(PENDING)
    if not pending or pending["page"] != page_path:
        return
    st.session_state.pop(PENDING)
    if page_path == "experiments" and pending["space"]:
        _start_search(pending)
    elif page_path == "experiments":
        _start_sweep(pending["sweep"], pending["dataset"], pending["epochs"])
    else:
        live.start(SLOTS[page_path], pending["config"])


def _start_sweep(key: str, dataset: str, epochs: int) -> None:
    """Start the sweep as the experiments page's Run sweep button does, and let the page follow it."""
    if access.unlocked():  # presenter passcode: only the presenter trains
        experiments_sweeps.start(key, dataset, epochs)


def _start_search(pending: dict) -> None:
    """Start the lesson's grid search as the experiments page's Start search does, and open its study there."""
    if not access.unlocked():
        return
    space = json.loads(pending["space"])
    spec = search.SearchSpec(base=quick_base(pending["dataset"]), space=space, sampler="grid",
                             kfold=pending["kfold"], pruning=False)
    try:
        job = search_jobs.start_search(search.default_storage_url(), pending["name"],
                                       len(search.grid_points(space)), spec)
    except (ConfigError, ValueError, OSError) as exc:
        st.error(f"The lesson's search could not start: {exc}", icon=":material/error:")
        return
    st.session_state[experiments_search.JOB_KEY] = job.id
    st.session_state[experiments_search.STUDY_KEY] = job.study


def active() -> tuple[Lesson, int] | None:
    """The lesson this session follows and its current step, if any."""
    state = st.session_state.get(ACTIVE)
    if not state or state["id"] not in lessons.LESSONS:
        return None
    lesson = lessons.resolve(lessons.get(state["id"]))
    return lesson, min(int(state["step"]), len(lesson.steps) - 1)


def end() -> None:
    """Leave the lesson: the page keeps its settings, the banner and the URL parameters go."""
    st.session_state.pop(ACTIVE, None)
    st.session_state.pop(PENDING, None)
    for key in ("lesson", "step"):
        st.query_params.pop(key, None)


def banner(page_path: str) -> None:
    """Title, what to look for and the step controls, on the page of the active step."""
    current = active()
    if current is None:
        return
    lesson, index = current
    step = lesson.steps[index]
    if step.page != page_path:
        return
    # Compact, so the lab's picture stays in the first screen: the step's sentence and its buttons share
    # one row; what to look for opens from a button.
    with st.container(border=True, key="lesson_banner", horizontal=True, wrap=False, vertical_alignment="center"):
        start = " Press **Start** to train" + (" (key **S**)." if presenter.enabled() else ".") \
            if step.page in SLOTS and not step.autostart and live.current(SLOTS[page_path]) is None else ""
        # the text takes what the buttons leave; buttons are as wide as their labels
        st.markdown(f"**:material/school: {lesson.title}** · step {index + 1} of {len(lesson.steps)}: "
                    f"{step.caption}{start}", width="stretch")
        with st.popover("Look for", icon=":material/visibility:"):
            st.markdown(f"{lesson.look_for[0]}  \n{lesson.look_for[1]}")
            if lesson.note:
                st.caption(f":material/cloud_off: {lesson.note}")
        if index + 1 < len(lesson.steps) and st.button(
                "Next step", key="lesson_next", type="primary", icon=":material/skip_next:",
                shortcut=presenter.shortcut("next"),
                help=f"Step {index + 2}: {lesson.steps[index + 1].caption}"):
            open_step(lesson.id, index + 1)
        if index == len(lesson.steps) - 1 and len(lesson_runs_steps(lesson)) > 1 and st.button(
                "All steps", key="lesson_overlay", icon=":material/stacked_line_chart:",
                help="Every step's run in one figure"):
            _overlay(lesson)
        st.button("End", key="lesson_end", on_click=end, icon=":material/close:", type="tertiary",
                       help="End the lesson: the page keeps its settings.")


def lesson_runs_steps(lesson: Lesson) -> list[int]:
    """The steps of `lesson` that train a run in a lab (what the closing overlay compares)."""
    return [i for i, step in enumerate(lesson.steps) if step.page in SLOTS]


def _page_config(step: lessons.Step) -> RunConfig:
    """The step's run as its page starts it, without the name (what a run folder is matched on)."""
    if step.page == "regression":
        cfg = rs.run_config(rs.settings_from_config(step.config))
    else:
        cfg = cc.run_config(cc.settings_from_config(step.config))
    return dataclasses.replace(cfg, name="")


@st.dialog("All steps in one figure", width="large")
def _overlay(lesson: Lesson) -> None:
    """The closing figure: the newest finished run of every lab step, fits and curves in one figure.

    A dialog opened from the banner, so it takes no room from the lab's first screen."""
    wanted = {i: _page_config(lesson.steps[i]) for i in lesson_runs_steps(lesson)}
    found: dict[int, runs.RunView] = {}
    for record in runs.list_runs():  # newest first
        for i, cfg in wanted.items():
            if i not in found and record.status == "finished" and record.config is not None \
                    and dataclasses.replace(record.config, name="") == cfg:
                found[i] = record
    if len(found) < 2:
        st.caption("Run the lesson's steps to the end (**Next step**) and they are overlaid here.")
        return
    results, points = [], None
    for i, record in sorted(found.items()):
        label = lesson.steps[i].caption.split(":")[0]
        snaps = record.folder.snapshots()
        fits = [e for e in sorted(snaps) if "fit" in snaps[e]]
        grid, xy = (), None
        if fits and record.config.data.task == "regression":
            data = load(record.config.data)
            grid, xy = runs.fit_grid(data).tolist(), (data.x_train.ravel().tolist(), data.y_train.ravel().tolist())
        points = points or xy
        results.append(StepResult(label, record.history, grid, snaps[fits[-1]]["fit"] if grid else ()))
    st.plotly_chart(presenter.figure(steps_overlay(results, points)), key="lesson_overlay_figure",
                    config={"displaylogo": False})
    missing = [lesson.steps[i].caption.split(":")[0] for i in wanted if i not in found]
    if missing:
        st.caption(f"Not run yet: {', '.join(missing)}.")


def before_page(page_path: str) -> None:
    """Call before the page runs: apply a lesson from the URL, start a pending run, show the banner."""
    _from_url(page_path)
    _start_pending(page_path)
    banner(page_path)


def link(lesson: Lesson, base_url: str = "") -> str:
    """The URL that opens the lesson's first step, for a slide."""
    return f"{base_url.rstrip('/')}/lessons?{urlencode({'lesson': lesson.id})}"


def card(lesson: Lesson) -> None:
    """One lesson on the lessons page: title, what to look for, data note, Open button, slide link."""
    resolved = lessons.resolve(lesson)
    pages = dict.fromkeys(s.page for s in lesson.steps)
    with st.container(border=True, height="stretch"):
        st.markdown(f"#### {lesson.title}")
        st.markdown(f"{lesson.look_for[0]}  \n{lesson.look_for[1]}")
        steps = f"{len(lesson.steps)} steps" if len(lesson.steps) > 1 else "1 step"
        st.caption(f"{steps} · opens {' → '.join(PAGE_TITLES[p] for p in pages)} · data: {_data_title(lesson.dataset)}")
        if resolved.note:
            st.caption(f":material/cloud_off: {resolved.note}", help=lessons.DOWNLOAD_HINT)
        if st.button("Open lesson", key=f"lesson_open_{lesson.id}", type="primary", icon=":material/play_arrow:"):
            open_step(lesson.id)
        st.caption(f"Slide link: `{link(lesson, _base_url())}`")


def _data_title(dataset: str) -> str:
    if dataset not in DATASETS:  # the Playground's lessons name no image set
        return "synthetic 1-D function" if dataset == "regression" else "2-D points"
    return DATASETS[dataset].title.split(" (")[0]


def _base_url() -> str:
    """The app's root URL as the browser sees it ('' when unknown, e.g. in tests)."""
    url = st.context.url or ""
    for name in lessons.PAGES + ("lessons",):
        if url.rstrip("/").endswith("/" + name):
            return url.rstrip("/")[: -len(name) - 1]
    return url.rstrip("/")
