"""Hyper-parameter search on an Optuna study: grid, random or TPE, with K-fold cross-validation.

The study's storage is the source of truth: every finished trial is committed there the
moment it ends, with its per-fold scores, so a stopped search or a killed worker loses
only the trial in flight. A SQLite file under runs/ is the default; any SQLAlchemy URL
(PostgreSQL, MySQL) lets workers on several machines share one study
(`python -m nnviz sweep --storage URL --study NAME --trials N`). The search spec is
stored in the study itself, so a worker joining a study needs nothing but its URL and name.

Scores follow scikit-learn: higher is better (validation accuracy, or the negative
validation MSE for regression), and `cv_results` has `cv_results_`'s columns.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import socket
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import optuna
from sklearn.model_selection import ParameterGrid

from nnviz.config import ConfigError, RunConfig, to_dict
from nnviz.config import replace as cfg_replace
from nnviz.data import TaskData, load
from nnviz.jobs import runs

# the sweep API is re-exported here: nnviz.jobs.search.SWEEPS / run_sweep is what other pages use
from nnviz.jobs.sweeps import SWEEPS, acquire_slot, iter_sweep, run_sweep, start_sweep  # noqa: F401
from nnviz.model import checkpoints
from nnviz.model.params import PARAMS, apply_params, quick_base
from nnviz.training.crossval import fold_data
from nnviz.training.train import Callback, TrainState, evaluate, fit, init_model, resolve_device

SAMPLERS = ("grid", "random", "tpe")
SPEC_ATTR = "nnviz_spec"  # study user attribute holding the SearchSpec as JSON
HEARTBEAT_S = int(os.environ.get("NNVIZ_SEARCH_HEARTBEAT_S", "10"))  # a dead worker's trial is failed after 3x this
DEFAULT_SPACES = {
    "grid": {"lr": [0.001, 0.01], "hidden": ["64", "128,64"]},
    "random": {"lr": {"low": 1e-4, "high": 0.1, "log": True}, "hidden": ["32", "64", "128,64"],
               "dropout": {"low": 0.0, "high": 0.5}},
}
DEFAULT_SPACES["tpe"] = DEFAULT_SPACES["random"]

optuna.logging.set_verbosity(optuna.logging.WARNING)


class SearchStopped(Exception):
    """The user stopped the search; the trial in flight is marked failed, the others are kept."""


@dataclass(frozen=True)
class SearchSpec:
    """What a study searches: a base config, a space over PARAMS, a sampler and the CV scheme."""

    base: RunConfig = field(default_factory=quick_base)
    space: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_SPACES["grid"]))
    sampler: str = "grid"  # one of SAMPLERS
    kfold: int = 2  # folds of K-fold CV over train+val; 0 or 1 scores on the fixed validation split
    pruning: bool = True  # median pruning of trials whose validation score lags (random / TPE)
    seed: int = 0  # fold split, sampler

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"sampler must be one of {', '.join(SAMPLERS)}; got {self.sampler!r}")
        if not (self.kfold in (0, 1) or 2 <= self.kfold <= 10):
            raise ConfigError(f"kfold must be 0, 1 or 2..10; got {self.kfold}")
        check_space(self.space, self.sampler)
        for point in (grid_points(self.space) if self.sampler == "grid" else [_corner(self.space)]):
            apply_params(self.base, point)  # every grid point (or one sample) must make a valid config

    @property
    def maximize_metric(self) -> str:
        return "val_acc" if self.base.data.task == "classification" else "neg val MSE"

    def to_json(self) -> str:
        return json.dumps({"base": to_dict(self.base), "space": self.space, "sampler": self.sampler,
                           "kfold": self.kfold, "pruning": self.pruning, "seed": self.seed}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "SearchSpec":
        raw = json.loads(text)
        return cls(base=RunConfig.from_json(json.dumps(raw["base"])), space=raw["space"], sampler=raw["sampler"],
                   kfold=int(raw["kfold"]), pruning=bool(raw["pruning"]), seed=int(raw["seed"]))


def check_space(space: Any, sampler: str) -> None:
    """Raise ConfigError unless `space` maps PARAMS names to value lists (or, not for grid, ranges)."""
    if not isinstance(space, dict) or not space:
        raise ConfigError('the search space must be a non-empty object, e.g. {"lr": [0.001, 0.01]}')
    for name, values in space.items():
        if name not in PARAMS:
            raise ConfigError(f"unknown parameter {name!r} in the search space; choose from {', '.join(PARAMS)}")
        if isinstance(values, list):
            if not values or not all(isinstance(v, (str, int, float, bool)) for v in values):
                raise ConfigError(f"{name}: give a non-empty list of numbers or strings")
        elif isinstance(values, dict) and sampler != "grid":
            if set(values) - {"low", "high", "log", "step"} or not {"low", "high"} <= set(values):
                raise ConfigError(f'{name}: a range is {{"low": a, "high": b}} with optional "log" and "step"')
            if not float(values["low"]) < float(values["high"]):
                raise ConfigError(f"{name}: low must be below high")
            if values.get("log") and float(values["low"]) <= 0:
                raise ConfigError(f"{name}: a log range needs low > 0")
            if PARAMS[name].kind not in ("float", "int"):
                raise ConfigError(f"{name} takes a list of values, not a range")
        else:
            raise ConfigError(f"{name}: grid search takes a list of values" if sampler == "grid"
                              else f"{name}: give a list of values or a range {{\"low\": a, \"high\": b}}")


def grid_points(space: dict[str, list]) -> list[dict[str, Any]]:
    """Every combination, in scikit-learn's ParameterGrid order."""
    return list(ParameterGrid({k: list(v) for k, v in space.items()}))


def _corner(space: dict[str, Any]) -> dict[str, Any]:
    return {k: (v[0] if isinstance(v, list) else (int(v["low"]) if PARAMS[k].kind == "int" else float(v["low"])))
            for k, v in space.items()}


# --- storage -------------------------------------------------------------------------------------------

_storages: dict[str, optuna.storages.RDBStorage] = {}
_storages_lock = threading.Lock()


def default_storage_url(root: str | os.PathLike | None = None) -> str:
    """$NNVIZ_STUDY_STORAGE if set (a shared database), else sqlite:///<runs>/studies.db on this machine."""
    return os.environ.get("NNVIZ_STUDY_STORAGE") or f"sqlite:///{runs.runs_dir(root).resolve() / 'studies.db'}"


def storage(url: str) -> optuna.storages.RDBStorage:
    """One RDBStorage per URL and process, with heartbeats so a dead worker's trial is failed and retried."""
    with _storages_lock:
        if url not in _storages:
            kwargs: dict[str, Any] = {}
            if url.startswith("sqlite:///"):
                os.makedirs(os.path.dirname(url[len("sqlite:///"):]) or ".", exist_ok=True)
                kwargs = {"connect_args": {"timeout": 60}}  # several processes write one file: wait, don't fail
            else:
                kwargs = {"pool_pre_ping": True}
            for attempt in range(4):
                try:
                    with warnings.catch_warnings():  # heartbeats are 'experimental' in Optuna: the warning is noise
                        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                        _storages[url] = optuna.storages.RDBStorage(
                            url, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT_S, grace_period=3 * HEARTBEAT_S,
                            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(1))
                    break
                except Exception as exc:  # SQLAlchemy raises many kinds; the user needs one sentence
                    # two workers starting on a fresh database race to create its tables: the loser retries
                    if attempt == 3 or "://" not in url or not _is_race(exc):
                        first = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
                        raise ConfigError(f"cannot open the study storage {url!r}: {first}") from None
                    time.sleep(0.5 + attempt)
        return _storages[url]


def _is_race(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(s in text for s in ("unique constraint", "already exists", "duplicate", "locked", "integrity"))


def study_names(url: str) -> list[str]:
    """Studies in a storage, newest first."""
    st = storage(url)
    names = [s.study_name for s in optuna.get_all_study_summaries(st, include_best_trial=False)]
    return sorted(names, key=st.get_study_id_from_name, reverse=True)  # ids grow with creation


def _sampler(spec: SearchSpec, seed_offset: int) -> optuna.samplers.BaseSampler:
    seed = spec.seed + seed_offset
    if spec.sampler == "grid":
        return optuna.samplers.GridSampler({k: list(v) for k, v in spec.space.items()}, seed=seed)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)


def _pruner(spec: SearchSpec) -> optuna.pruners.BasePruner:
    if not spec.pruning or spec.sampler == "grid":  # a grid is meant to be complete
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)


def open_study(url: str, name: str, spec: SearchSpec | None = None,
               seed_offset: int = 0) -> tuple[optuna.Study, SearchSpec]:
    """Load study `name` (its stored spec wins) or create it with `spec`."""
    st = storage(url)
    existing = name in {s.study_name for s in optuna.get_all_study_summaries(st, include_best_trial=False)}
    if not existing and spec is None:
        raise ConfigError(f"there is no study {name!r} in {url}; give a search space to create it")
    if spec is None:
        study = optuna.load_study(study_name=name, storage=st)
        stored = study.user_attrs.get(SPEC_ATTR)
        if not stored:
            raise ConfigError(f"study {name!r} was not made by nnviz (it has no search spec)")
        spec = SearchSpec.from_json(stored)
    else:
        study = optuna.create_study(study_name=name, storage=st, direction="maximize", load_if_exists=True)
        stored = study.user_attrs.get(SPEC_ATTR)
        if stored:
            spec = SearchSpec.from_json(stored)  # the study's own spec: all workers search the same space
        else:
            study.set_user_attr(SPEC_ATTR, spec.to_json())
    return optuna.load_study(study_name=name, storage=st, sampler=_sampler(spec, seed_offset),
                             pruner=_pruner(spec)), spec


# --- one trial -----------------------------------------------------------------------------------------

def _score(record: dict, task: str, split: str) -> float:
    """Higher is better: `{split}_acc`, or minus `{split}_loss` for regression ('' reads evaluate()'s keys)."""
    prefix = f"{split}_" if split else ""
    if task == "classification":
        return float(record.get(f"{prefix}acc", math.nan))
    return -float(record.get(f"{prefix}loss", math.nan))


class _Pruning(Callback):
    """Reports each epoch's validation score to Optuna; asks fit to stop when the trial should be pruned."""

    def __init__(self, trial: optuna.Trial, task: str, step0: int) -> None:
        self.trial, self.task, self.step0, self.pruned = trial, task, step0, False

    def on_epoch_end(self, state: TrainState, record: dict[str, float]) -> None:
        if record["epoch"] == 0:
            return
        score = _score(record, self.task, "val")
        if math.isfinite(score):
            self.trial.report(score, self.step0 + int(record["epoch"]))
            if self.trial.should_prune():
                self.pruned = True
                state.request_stop("pruned", "pruned: its validation score lagged the median")


def suggest(trial: optuna.Trial, space: dict[str, Any], sampler: str) -> dict[str, Any]:
    """The trial's parameters (categorical for lists and grids; float / int ranges otherwise)."""
    params = {}
    for name, values in space.items():
        if isinstance(values, list):
            params[name] = trial.suggest_categorical(name, values)
        elif PARAMS[name].kind == "int":
            params[name] = trial.suggest_int(name, int(values["low"]), int(values["high"]), log=bool(values.get("log")),
                                             step=int(values.get("step", 1)))
        else:
            params[name] = trial.suggest_float(name, float(values["low"]), float(values["high"]),
                                               log=bool(values.get("log")), step=values.get("step"))
    return params


@dataclass
class _BestSaver:
    """Saves the best trial's model (its best fold) into the user checkpoint folder, as trials finish."""

    study_name: str
    best: float = -math.inf
    path: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def offer(self, study: optuna.Study, trial: optuna.Trial, value: float, model: Any, cfg: RunConfig,
              data: TaskData, history: dict) -> None:
        try:
            others = [t.value for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
                      if t.value is not None and t.number != trial.number]
        except Exception:  # a storage hiccup must not lose the trial itself
            others = []
        with self.lock:
            if value <= max(others + [self.best]):
                return
            self.best = value
            path = checkpoints.user_path(f"search-{self.study_name}-best")
            checkpoints.save(path, model.cpu().eval(), cfg, task=data.task, input_shape=data.input_shape,
                             n_outputs=data.n_outputs, classes=data.classes, mean=data.mean, std=data.std,
                             metrics={"cv_score": value, "trial": trial.number}, history=history)
            self.path = str(path)


def _first_heartbeat(st: optuna.storages.RDBStorage | None, trial: optuna.Trial) -> None:
    """Beat once now: Optuna's first heartbeat comes one interval in, and a worker killed before it
    would leave its trial 'running' forever (a trial with no heartbeat is never judged stale)."""
    if st is None or st.get_heartbeat_interval() is None:
        return
    try:
        study_id = st.get_study_id_from_name(trial.study.study_name)
        st.record_heartbeat(st.get_trial_id_from_study_id_trial_number(study_id, trial.number))
    except Exception:  # a missed beat only delays the stale check; never fail the trial for it
        pass


def make_objective(spec: SearchSpec, study_name: str, stop_event: threading.Event | None = None,
                   saver: _BestSaver | None = None,
                   heartbeat: optuna.storages.RDBStorage | None = None) -> Callable[[optuna.Trial], float]:
    """The Optuna objective: K-fold CV of one parameter set; per-split scores go into user attrs.

    `heartbeat`: the study's storage, which gets each trial's first heartbeat at once."""
    cache: dict[Any, TaskData] = {}
    saver = saver or _BestSaver(study_name)

    def objective(trial: optuna.Trial) -> float:
        _first_heartbeat(heartbeat, trial)
        params = suggest(trial, spec.space, spec.sampler)
        cfg = apply_params(spec.base, params)
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        trial.set_user_attr("device", str(resolve_device(cfg.train.device)))
        if cfg.data not in cache:
            cache.clear()
            cache[cfg.data] = load(cfg.data)
        data = cache[cfg.data]
        folds = fold_data(data, spec.kfold, spec.seed) if spec.kfold >= 2 else [(data, None)]
        test_scores, train_scores, started, fold1 = [], [], time.perf_counter(), None
        best_fold: tuple[float, Any, dict] | None = None
        with acquire_slot(stop_event) as got:
            if not got:  # stopped while waiting for a training slot
                trial.set_user_attr("status", "stopped by the user")
                raise SearchStopped()
            for i, (fold_set, _) in enumerate(folds):
                train_cfg = cfg_replace(cfg.train, seed=cfg.train.seed + i + 1, kfold=0)
                model = init_model(cfg.model, fold_set, train_cfg.seed)
                pruning = _Pruning(trial, data.task, i * max(train_cfg.epochs, 1))
                history = fit(model, fold_set, train_cfg, [pruning], stop_event)
                if history.status == "stopped":
                    trial.set_user_attr("status", "stopped by the user")
                    raise SearchStopped()
                if pruning.pruned:
                    trial.set_user_attr("status", "pruned")
                    raise optuna.TrialPruned()
                task = data.task
                test_scores.append(_score(evaluate(model, fold_set.x_val, fold_set.y_val, task), task, ""))
                # as scikit-learn's return_train_score: the fitted model scored on its training folds
                train_scores.append(_score(evaluate(model, fold_set.x_train, fold_set.y_train, task), task, ""))
                fold1 = fold1 or [{k: r[k] for k in r if k in _HISTORY_KEYS} for r in history.epochs]
                if best_fold is None or test_scores[-1] > best_fold[0]:
                    best_fold = (test_scores[-1], model, history.to_dict())
                if history.status == "diverged":
                    trial.set_user_attr("status", history.reason)
                    break
        value = float(np.mean(test_scores)) if len(test_scores) == len(folds) else math.nan
        trial.set_user_attr("split_test_scores", [float(s) for s in test_scores])
        trial.set_user_attr("split_train_scores", [float(s) for s in train_scores])
        trial.set_user_attr("fit_time", (time.perf_counter() - started) / max(len(test_scores), 1))
        trial.set_user_attr("history", fold1 or [])
        if math.isfinite(value) and best_fold is not None:
            saver.offer(trial.study, trial, value, best_fold[1], cfg, data, best_fold[2])
        return value  # NaN (a diverged fold) marks the trial failed

    objective.saver = saver  # type: ignore[attr-defined]
    return objective


_HISTORY_KEYS = ("epoch", "train_loss", "val_loss", "train_acc", "val_acc", "elapsed")


# --- workers -------------------------------------------------------------------------------------------

def fail_unstarted_trials(study: optuna.Study) -> list[int]:
    """Mark failed the 'running' trials that never reached their objective: a worker killed between
    Optuna creating a trial and its first heartbeat. Optuna never judges a trial without a heartbeat
    stale, so such a trial would stay 'running' for ever. Nothing was sampled, so nothing is retried.
    Returns the trial numbers marked."""
    grace = datetime.timedelta(seconds=3 * HEARTBEAT_S)
    now = datetime.datetime.now()
    dead = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
            if not t.params and t.datetime_start is not None and now - t.datetime_start > grace]
    marked = []
    for t in dead:
        try:
            study.tell(t.number, state=optuna.trial.TrialState.FAIL)
        except (RuntimeError, ValueError, optuna.exceptions.UpdateFinishedTrialError):  # another worker got there first
            continue
        marked.append(t.number)
    return marked


def run_worker(url: str, name: str, n_trials: int, spec: SearchSpec | None = None,
               stop_event: threading.Event | None = None, seed_offset: int = 0, timeout: float | None = None,
               on_trial: Callable[[optuna.trial.FrozenTrial], None] | None = None,
               data_dir: str | None = None) -> dict[str, Any]:
    """Run up to `n_trials` trials of study `name` in this thread (other workers may share the study).

    `data_dir` points this worker at its own copy of the image set (machines differ).
    Returns {'trials': this worker's finished trial numbers, 'stopped': bool, 'checkpoint': path or ''}.
    """
    study, spec = open_study(url, name, spec, seed_offset)
    if data_dir:  # the stored spec names the creator's data folder; this machine's may differ
        data = cfg_replace(spec.base.data, data_dir=data_dir)
        spec = dataclasses.replace(spec, base=cfg_replace(spec.base, data=data))
    objective = make_objective(spec, name, stop_event, heartbeat=storage(url))
    fail_unstarted_trials(study)
    mine: list[int] = []

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        mine.append(trial.number)
        if on_trial is not None:
            on_trial(trial)
        if stop_event is not None and stop_event.is_set():
            study.stop()

    stopped = False
    try:
        study.optimize(objective, n_trials=n_trials, timeout=timeout, callbacks=[callback], gc_after_trial=False)
    except SearchStopped:
        stopped = True
    return {"trials": mine, "stopped": stopped or bool(stop_event is not None and stop_event.is_set()),
            "checkpoint": objective.saver.path, "spec": spec}  # type: ignore[attr-defined]
