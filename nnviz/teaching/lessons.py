"""Lessons: one-click set-ups that reproduce the classic "Supervised Deep Learning" homework.

A lesson is a short sequence of steps. Each step names the page it opens and what that page
needs: a frozen RunConfig for a lab (trained at once unless the step says otherwise), a
sweep of the experiments page, or the view of the inspection page. Every lesson says, in
two lines, what to look for. Lessons that need a downloaded image set fall back to an embedded
set when it is missing, and say so (`resolve`): MNIST and Fashion-MNIST to their real samples,
anything else to `digits`.

No Streamlit here: the dashboard (nnviz.ui.lessons) and the tests use the same registry.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from nnviz.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from nnviz.data import DATASETS, is_present
from nnviz.data.images import SAMPLES
from nnviz.model.models import PRESETS

PAGES = ("regression", "classification", "inside", "experiments")  # app_pages/<name>.py
FALLBACK = "digits"  # embedded: needs no download, works in a lecture hall with no network
EPOCH_CAP_ENV = "NNVIZ_LESSON_MAX_EPOCHS"  # quick checks only: caps every lesson run's epochs
DOWNLOAD_HINT = ("To show the original, put the set's files into the data folder ($NNVIZ_DATA_DIR or ./data) "
                 "before the lecture, e.g. with `python -m nnviz download NAME` on a machine with internet.")


@dataclass(frozen=True)
class Step:
    """One screen of a lesson."""

    page: str  # one of PAGES
    caption: str  # one line: what this step shows
    config: RunConfig | None = None  # labs: the run this step trains
    autostart: bool = True  # labs: start training on open (False when the untrained model is the point)
    sweep: str = ""  # experiments: a nnviz.jobs.search.SWEEPS key
    dataset: str = ""  # experiments: the data set the sweep runs on
    view: str = ""  # inside: the tab to open, a key of nnviz.ui.inside_panels.PANELS
    epochs: int = 0  # experiments: epochs per sweep point; 0 is the page's default (see sweep_epochs)
    space: str = ""  # experiments: a grid search instead of a sweep — its space as JSON (nnviz.model.params names)
    kfold: int = 0  # experiments: folds of the grid search's cross-validation

    def __post_init__(self) -> None:
        if self.page not in PAGES:
            raise ValueError(f"unknown page {self.page!r}; choose from {', '.join(PAGES)}")
        if self.page in ("regression", "classification") and self.config is None:
            raise ValueError(f"a {self.page} step needs a config")
        if self.page == "experiments" and not ((self.sweep or self.space) and self.dataset):
            raise ValueError("an experiments step needs a sweep (or a search space) and a dataset")


@dataclass(frozen=True)
class Lesson:
    """A homework experiment, ready to show."""

    id: str  # used in URLs: ?lesson=<id>
    title: str
    look_for: tuple[str, str]  # two lines shown when the lesson opens
    steps: tuple[Step, ...]
    note: str = ""  # set by `resolve` when the lesson had to change its data set

    @property
    def datasets(self) -> tuple[str, ...]:
        """The data sets the lesson's steps use, in order, without repeats."""
        names = [s.config.data.dataset if s.config else s.dataset for s in self.steps if s.config or s.dataset]
        return tuple(dict.fromkeys(names))

    @property
    def dataset(self) -> str:
        """The main data set ('regression' for the 1-D lessons)."""
        return self.datasets[0] if self.datasets else ""


def _regression(model: str | ModelConfig, train: TrainConfig | None = None, name: str = "",
                **train_changes: object) -> RunConfig:
    """A run on the course function with the course's 100 training points (noise σ 0.3)."""
    preset = model if isinstance(model, str) else ""
    model_cfg = PRESETS[model].model if isinstance(model, str) else model
    train_cfg = train or (PRESETS[model].train if isinstance(model, str) else TrainConfig())
    train_cfg = dataclasses.replace(train_cfg, **train_changes)  # type: ignore[arg-type]
    return RunConfig(data=DataConfig(dataset="regression", function="course"), model=model_cfg,
                     train=train_cfg, preset=preset, name=name)


def _images(dataset: str, preset: str, name: str, **train_changes: object) -> RunConfig:
    """A preset image classifier with its tuned training, adjusted by `train_changes`."""
    p = PRESETS[preset]
    return RunConfig(data=DataConfig(dataset=dataset), model=p.model,
                     train=dataclasses.replace(p.train, **train_changes),  # type: ignore[arg-type]
                     preset=preset, name=name)


# The L2 / dropout lesson trains one wide network three times, changing only the regulariser.
_WIDE = ModelConfig(hidden=(128, 128), activation="leaky_relu")
_WIDE_TRAIN = TrainConfig(optimizer="adam", lr=3e-3, batch_size=16, epochs=300)

LESSONS: dict[str, Lesson] = {lesson.id: lesson for lesson in (
    Lesson("linear_regression", "Linear regression, before and after training",
           ("Before: a random straight line. Press Start and watch gradient descent turn it into the best line "
            "through the noisy points.",
            "After: the loss stops falling far above the noise level — a line cannot bend: the model underfits."),
           (Step("regression", "The untrained line; press Start to train it.",
                 _regression("linear", name="Lesson: linear regression"), autostart=False),)),
    Lesson("sigmoid_mlp", "One hidden layer of sigmoids fits the course function",
           ("100 sigmoid units bend the line into the curve: watch the fit take shape, bump by bump.",
            "In the shaded gaps there were no training points: the fit interpolates there and drifts off "
            "beyond the data."),
           (Step("regression", "The course's 1-100-1 sigmoid network, trained with Adam.",
                 _regression("mlp1_sigmoid", name="Lesson: sigmoid MLP"), ),)),
    Lesson("l2_dropout", "Regularisation: no penalty, L2, dropout",
           ("Step 1 trains a wide network with no regularisation: validation loss turns up while training loss "
            "keeps falling.",
            "Steps 2 and 3 add L2 weight decay, then dropout (press Next): the fit smooths and the gap between "
            "training and validation loss closes."),
           (Step("regression", "No regularisation: a wide LeakyReLU network chases the noise.",
                 _regression(_WIDE, _WIDE_TRAIN, name="Lesson: no regularisation")),
            Step("regression", "L2: weight decay 1e-3 keeps the weights small.",
                 _regression(_WIDE, _WIDE_TRAIN, name="Lesson: L2", weight_decay=1e-3)),
            Step("regression", "Dropout: 10% of the hidden units are switched off at every step.",
                 _regression(dataclasses.replace(_WIDE, dropout=0.1), _WIDE_TRAIN, name="Lesson: dropout")))),
    Lesson("kfold_grid", "K-fold cross-validation and a grid search",
           ("Step 1 trains the same network on 5 folds: the spread of the 5 fits shows how much a single "
            "validation split can mislead.",
            "Step 2 grid-searches learning rate × epochs, each cell scored by 3-fold cross-validation: too small "
            "a rate crawls, too large diverges, and more epochs only help the slow ones."),
           (Step("regression", "5-fold cross-validation of the default regressor.",
                 _regression("regressor", name="Lesson: 5-fold CV", kfold=5)),
            Step("experiments", "Grid search of learning rate × epochs with 3-fold CV: open the "
                 "Hyper-parameter search tab.", dataset="regression", kfold=3,
                 space='{"lr": [0.001, 0.01, 0.1], "epochs": [50, 150, 300]}'))),
    Lesson("fashion_cnn", "A CNN on Fashion-MNIST and its confusion matrix",
           ("Accuracy climbs fast, then levels off at 85–90%: the hard cases are the tops.",
            "In the confusion matrix, Shirt is mistaken for T-shirt/top, Pullover and Coat; Trouser and Bag "
            "almost never."),
           (Step("classification", "The fast CNN, 10 epochs on Fashion-MNIST.",
                 _images("fashion_mnist", "fast_cnn", "Lesson: Fashion-MNIST CNN", epochs=10)),)),
    Lesson("mnist_cnn", "The MNIST CNN: filters and feature maps",
           ("PyTorch's MNIST example CNN passes 98% test accuracy within its first epochs.",
            "Press Next to look inside: the first layer's filters are edge and stroke detectors; the feature "
            "maps show where each one fires on a digit."),
           (Step("classification", "PyTorch's MNIST example: conv32-conv64-dropout-fc128, Adadelta.",
                 _images("mnist", "pytorch_example", "Lesson: MNIST CNN", epochs=3)),
            Step("inside", "The trained network's first-layer filters.", view="Filters"),
            Step("inside", "Feature maps: what every filter responds to in one test digit.", view="Feature maps"))),
    Lesson("activation_depth", "Activation × depth: an MLP on CIFAR-10",
           ("Each cell trains an MLP of one depth with one activation: deep sigmoid networks barely learn "
            "(vanishing gradients); ReLU ones do.",
            "No MLP gets far on CIFAR-10: pixels in a flat vector lose the image's structure, which convolutions "
            "keep."),
           (Step("experiments", "Sweep: activation × number of hidden layers.", sweep="activation_depth",
                 dataset="cifar10"),)),
    Lesson("train_fraction", "Learning curves: how much data is enough?",
           ("The same network trained on 20% … 100% of the training set: test accuracy rises steeply, then "
            "flattens.",
            "Where the curve flattens, more data helps little and a better model helps more."),
           (Step("experiments", "Sweep: share of the training set.", sweep="train_fraction",
                 dataset="fashion_mnist"),)),
    Lesson("optimizer_race", "Optimizer race",
           ("SGD, SGD with momentum, Adam, RMSprop, Adadelta and Adagrad train the same network from the same "
            "initial weights.",
            "Watch who is ahead after one epoch and who is ahead at the end: fast starters are not always "
            "the best finishers."),
           (Step("experiments", "Sweep: optimizers, same model, same seed.", sweep="optimizers",
                 dataset="mnist"),)),
)}


def get(lesson_id: str) -> Lesson:
    """The lesson with this id; KeyError names the known ids."""
    if lesson_id not in LESSONS:
        raise KeyError(f"unknown lesson {lesson_id!r}; known lessons: {', '.join(LESSONS)}")
    return LESSONS[lesson_id]


def available(dataset: str, root: str | os.PathLike | None = None) -> bool:
    """True for the synthetic / embedded sets and for image sets present on disk."""
    if dataset in ("regression", "csv") or dataset not in DATASETS:
        return dataset in ("regression", "csv")
    return DATASETS[dataset].embedded or is_present(dataset, root)


def sweep_epochs(step: Step) -> int:
    """Epochs per point of an experiments step: its own, else the page's default (150 for the 1-D task,
    5 for images: about a minute per sweep on a laptop CPU), capped by $NNVIZ_LESSON_MAX_EPOCHS."""
    epochs = step.epochs or (150 if step.dataset == "regression" else 5)
    cap = int(os.environ.get(EPOCH_CAP_ENV) or 0)
    return min(epochs, cap) if cap else epochs


def _cap_epochs(cfg: RunConfig, cap: int) -> RunConfig:
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=min(cfg.train.epochs, cap)))


def fallback(dataset: str) -> str:
    """The embedded set that stands in for `dataset` when it is not downloaded: its sample (real images,
    fewer of them), else `digits`."""
    return SAMPLES.get(dataset, FALLBACK)


def resolve(lesson: Lesson, root: str | os.PathLike | None = None) -> Lesson:
    """The lesson as it can run here: missing image sets replaced by their embedded sample (else `digits`),
    with a note saying so.

    $NNVIZ_LESSON_MAX_EPOCHS (quick checks only) caps the epochs of every run it trains.
    """
    missing = [d for d in lesson.datasets if not available(d, root)]
    cap = int(os.environ.get(EPOCH_CAP_ENV) or 0)
    if not missing and not cap:
        return lesson
    steps = []
    for step in lesson.steps:
        cfg = step.config
        if cfg is not None and cfg.data.dataset in missing:
            cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, dataset=fallback(cfg.data.dataset)))
        if cfg is not None and cap:
            cfg = _cap_epochs(cfg, cap)
        dataset = fallback(step.dataset) if step.dataset in missing else step.dataset
        steps.append(dataclasses.replace(step, config=cfg, dataset=dataset))
    note = ""
    if missing:
        titles = " and ".join(DATASETS[d].title for d in missing)
        instead = " and ".join(dict.fromkeys(DATASETS[fallback(d)].title for d in missing))
        note = (f"{titles} {'is' if len(missing) == 1 else 'are'} not on this machine: this lesson runs on the "
                f"{instead} instead (same model and training).")
    return dataclasses.replace(lesson, steps=tuple(steps), note=note)
