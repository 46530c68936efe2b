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

PAGES = ("regression", "classification", "inside", "experiments", "playground", "class_canvas")  # app_pages/<name>.py
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
    view: str = ""  # inside: the tab to open (nnviz.ui.inside_panels.PANELS); class_canvas: "collect" or "train" on top
    epochs: int = 0  # experiments: epochs per sweep point; 0 is the page's default (see sweep_epochs)
    space: str = ""  # experiments: a grid search instead of a sweep — its space as JSON (nnviz.model.params names)
    kfold: int = 0  # experiments: folds of the grid search's cross-validation
    link: str = ""  # playground: its settings as a link's query (nnviz.playground.config.from_query)
    epochs_per_s: float = 0.0  # experiments: the sweep's slow motion (nnviz.training.tempo.CHOICES); 0 full speed

    def __post_init__(self) -> None:
        if self.page not in PAGES:
            raise ValueError(f"unknown page {self.page!r}; choose from {', '.join(PAGES)}")
        if self.page in ("regression", "classification") and self.config is None:
            raise ValueError(f"a {self.page} step needs a config")
        if self.page == "experiments" and not ((self.sweep or self.space) and self.dataset):
            raise ValueError("an experiments step needs a sweep (or a search space) and a dataset")
        if self.page == "playground" and not self.link:
            raise ValueError("a playground step needs its settings as a link")


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
                val_fraction: float = DataConfig.val_fraction, **train_changes: object) -> RunConfig:
    """A run on the course function with the course's 100 training points (noise σ 0.3)."""
    preset = model if isinstance(model, str) else ""
    model_cfg = PRESETS[model].model if isinstance(model, str) else model
    train_cfg = train or (PRESETS[model].train if isinstance(model, str) else TrainConfig())
    train_cfg = dataclasses.replace(train_cfg, **train_changes)  # type: ignore[arg-type]
    return RunConfig(data=DataConfig(dataset="regression", function="course", val_fraction=val_fraction),
                     model=model_cfg,
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
_WIDE_VAL = 0.3  # 30 validation points: with 10, validation loss fell below training loss by chance

LESSONS: dict[str, Lesson] = {lesson.id: lesson for lesson in (
    Lesson("linear_regression", "Linear regression, before and after training",
           ("Before: a random straight line. Press Start and watch gradient descent turn it into the best line "
            "through the noisy points.",
            "After: the loss stops falling far above the noise level — a line cannot bend: the model underfits."),
           (Step("regression", "The untrained line; press Start to train it.",
                 _regression("linear", name="Lesson: linear regression"), autostart=False),)),
    Lesson("sigmoid_mlp", "One hidden layer of sigmoids fits the course function",
           ("100 sigmoid units bend the line into the curve, bump by bump: the training loss ends at about a tenth "
            "of the best straight line's, within twice the noise level.",
            "Beyond the training points, at both ends, the fit drifts off the curve: a network only knows where "
            "it has seen data."),
           (Step("regression", "The course's 1-100-1 sigmoid network, trained with Adam.",
                 _regression("mlp1_sigmoid", name="Lesson: sigmoid MLP"), ),)),
    Lesson("l2_dropout", "Regularisation: no penalty, L2, dropout",
           ("Step 1, no regularisation: validation loss bottoms out well before the last epoch, then ends "
            "10–50 % above its low.",
            "Step 2, L2: the weights shrink to half, the test loss stays the same within noise. Step 3, dropout: "
            "training loss stays up, test loss gets worse on this small 1-D task. The last step overlays all three."),
           (Step("regression", "No regularisation: a wide LeakyReLU network, trained past its best validation "
                 "epoch.", _regression(_WIDE, _WIDE_TRAIN, "Lesson: no regularisation", _WIDE_VAL)),
            Step("regression", "L2: weight decay 1e-3 halves the weights; the test loss stays within noise.",
                 _regression(_WIDE, _WIDE_TRAIN, "Lesson: L2", _WIDE_VAL, weight_decay=1e-3)),
            Step("regression", "Dropout: 10% of the hidden units off at every step; it pays off for big networks "
                 "on big data, not here.",
                 _regression(dataclasses.replace(_WIDE, dropout=0.1), _WIDE_TRAIN, "Lesson: dropout",
                             _WIDE_VAL)))),
    Lesson("kfold_grid", "K-fold cross-validation and a grid search",
           ("Step 1 trains the same network on 5 folds: the worst fold's validation MSE is 1.2 to 3 times the "
            "best's, so a single validation split can mislead.",
            "Step 2 opens the Hyper-parameter search: learning rate 0.001, 0.01, 0.1 × 50, 150, 300 epochs, each "
            "cell scored by 3-fold cross-validation. 0.01 at 300 epochs wins; 0.001 crawls (better with every step "
            "up in epochs, still behind); 0.1 jumps around and never catches up with 0.01."),
           (Step("regression", "5-fold cross-validation of the default regressor.",
                 _regression("regressor", name="Lesson: 5-fold CV", kfold=5)),
            Step("experiments", "Grid search: learning rate × epochs, each cell scored by 3-fold CV.",
                 dataset="regression", kfold=3,
                 space='{"lr": [0.001, 0.01, 0.1], "epochs": [50, 150, 300]}'))),
    Lesson("fashion_cnn", "A CNN on Fashion-MNIST and its confusion matrix",
           ("Accuracy climbs fast, then levels off between 80 and 90 %: the hard cases are the tops.",
            "In the confusion matrix, Shirt is the hardest class, mistaken for the other tops (T-shirt/top, "
            "Pullover, Coat, sometimes Dress); Trouser and Bag almost never."),
           (Step("classification", "The fast CNN, 10 epochs on Fashion-MNIST.",
                 _images("fashion_mnist", "fast_cnn", "Lesson: Fashion-MNIST CNN", epochs=10)),)),
    Lesson("mnist_cnn", "The MNIST CNN: filters and feature maps",
           ("PyTorch's MNIST example CNN reaches about 98 % test accuracy in three epochs.",
            "Press Next to look inside: the first layer's filters are edge and stroke detectors; the feature "
            "maps show where each one fires on a digit."),
           (Step("classification", "PyTorch's MNIST example: conv32-conv64-dropout-fc128, Adadelta.",
                 _images("mnist", "pytorch_example", "Lesson: MNIST CNN", epochs=3)),
            Step("inside", "The trained network's first-layer filters.", view="Filters"),
            Step("inside", "Feature maps: what every filter responds to in one test digit.", view="Feature maps"))),
    Lesson("activation_depth", "Activation × depth: an MLP on CIFAR-10",
           ("Each cell trains an MLP of one depth with one activation: three sigmoid layers barely learn even "
            "their training set (vanishing gradients): that is underfitting, not overfitting. ReLU ones learn.",
            "No MLP gets far on CIFAR-10: pixels in a flat vector lose the image's structure, which convolutions "
            "keep."),
           (Step("experiments", "Sweep: activation × number of hidden layers.", sweep="activation_depth",
                 dataset="cifar10"),)),
    Lesson("train_fraction", "Learning curves: how much data is enough?",
           ("The same network trained on 20% … 100% of the training set, each for the same number of updates "
            "(20% gets 5× the epochs): all the data gains only a few points of test accuracy over a fifth of it.",
            "A flat curve says the model, not the data, is the limit: more data helps little, a better model "
            "more. (With the epochs fixed, 20% would also get a fifth of the updates: a curve of training time.)"),
           (Step("experiments", "Sweep: share of the training set.", sweep="train_fraction",
                 dataset="fashion_mnist"),)),
    Lesson("optimizer_race", "Optimizer race",
           ("SGD, SGD with momentum, Adam, RMSprop, Adadelta and Adagrad train the same network from the same "
            "initial weights.",
            "Watch the order of the validation losses: it changes between the first epoch and the last, and plain "
            "SGD, without momentum or adaptive rates, finishes last."),
           (Step("experiments", "Sweep: optimizers, same model, same seed, in slow motion (2 epochs a second).",
                 sweep="optimizers", dataset="mnist", epochs_per_s=2.0),)),
    Lesson("class_canvas", "The class's own handwriting: collect, train, compare",
           ("Everyone draws digits on their phone; the drawings become a dataset, a network trains on it, and "
            "the model trained on MNIST is tested on the class's writing.",
            "Which digits of yours fool the MNIST model, and does a model trained on the class read them?"),
           (Step("class_canvas", "Collect: show the QR code; everyone draws a few of each digit."),
            Step("class_canvas", "Look at the data: counts per digit, odd drawings, wrong labels (delete them)."),
            Step("class_canvas", "Train on the class set: fine-tune the shipped MNIST model, or from scratch.", view="train"),
            Step("class_canvas", "Compare on the held-out drawings: the MNIST model against the class model.", view="train"),
            Step("class_canvas", "What fooled it: the drawings each model gets wrong, most confident first.", view="train"))),
)}


# The Playground's lessons: each step is the Playground's settings as a link (the seed left at 0; the
# claims in the captions hold for seeds 0-4: tests/unit/test_playground_lessons.py).
_XOR = "ds=xor&n=200&noise=0&ratio=0.5&feat=x1,x2&act=tanh&lr=0.03&bs=10&opt=sgd&epochs=200"
_SPIRAL = "ds=spiral&n=500&noise=0&ratio=0.5&act=tanh&lr=0.03&bs=10&opt=sgd"
LESSONS.update({lesson.id: lesson for lesson in (
    Lesson("xor_hidden_layer", "XOR needs a hidden layer",
           ("Without a hidden layer the network can only draw one straight line: on XOR it stays near a coin "
            "toss, whatever it tries.",
            "Press Next: one hidden layer of 4 neurons draws two lines and combines them; XOR is solved in a few "
            "hundred epochs. Click the map to see which neurons fire where."),
           (Step("playground", "No hidden layer: the inputs feed the output directly.", link=_XOR + "&hidden=0"),
            Step("playground", "One hidden layer of 4 tanh neurons.", link=_XOR + "&hidden=4"))),
    Lesson("spiral_depth_features", "Spiral: depth or features",
           ("On raw x₁, x₂ a shallow network cannot follow the spiral. Two ways out: give it better inputs "
            "(sin x₁, sin x₂), or more layers.",
            "Step 2 adds sine features: two layers of 8 pass 95 % quickly. Step 3 keeps the raw inputs and "
            "stacks 4 layers of 8: it gets there too, more slowly."),
           (Step("playground", "Raw x₁, x₂ and one hidden layer of 4.", link=_SPIRAL + "&feat=x1,x2&hidden=4&epochs=300"),
            Step("playground", "Engineered features: x₁, x₂, sin x₁, sin x₂ into 2 layers of 8.",
                 link=_SPIRAL + "&feat=x1,x2,sinx1,sinx2&hidden=8,8&epochs=300"),
            Step("playground", "Depth: raw x₁, x₂ into 4 layers of 8.",
                 link=_SPIRAL + "&feat=x1,x2&hidden=8,8,8,8&epochs=800"))),
)})


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
