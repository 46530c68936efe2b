"""The bad-input suite through the pages (AppTest): every bad CSV, image, checkpoint and hyper-parameter
shows its exact message, never a traceback, and the same session's next good action works.

One AppTest session per page serves all of that page's cases in turn (module-scoped), so each case
also proves the page survived the cases before it. Expected messages come from the library that
raises them (the UI must show that sentence, in its frame), or are spelled out.
"""
from __future__ import annotations

import io
import pickle
import re

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from nnviz.data import DATASETS, preprocess
from nnviz.model import checkpoints
from tests.app.conftest import APP
from tests.unit.test_bad_checkpoints import CASES as BAD_CHECKPOINTS
from tests.unit.test_bad_checkpoints import RunsCode, _good_bytes
from tests.unit.test_bad_csv import BAD as BAD_CSVS
from tests.unit.test_bad_csv import GOOD as GOOD_CSV
from tests.unit.test_bad_images import header_only_png


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Private runs / checkpoints / data folders for the module's sessions."""
    root = tmp_path_factory.mktemp("bad-input")
    mp = pytest.MonkeyPatch()
    for name in ("runs", "checkpoints", "data"):
        mp.setenv(f"NNVIZ_{name.upper()}_DIR" if name != "checkpoints" else "NNVIZ_CHECKPOINT_DIR", str(root / name))
    mp.delenv("NNVIZ_PRESENTER_PASSCODE", raising=False)
    from nnviz.ui import access
    mp.setattr(access, "UPLOADS_PER_SESSION", 1_000)  # one session uploads every case here; the quota has its own test
    mp.setattr(access, "UPLOADS_PER_CLIENT_HOUR", 1_000)
    yield root
    from nnviz.jobs import runs
    runs.stop_all()
    mp.undo()


def _page(path: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(path).run()
    assert not at.exception, at.exception
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, at.exception


# --- CSV uploads: the Regression lab -----------------------------------------------------------

@pytest.fixture(scope="module")
def regression(env):
    at = _page("app_pages/regression.py")
    at.radio(key="rg_source").set_value("csv").run()
    _ok(at)
    return at


@pytest.mark.parametrize("case", list(BAD_CSVS))
def test_bad_csv_message_then_a_good_csv_works(regression, case):
    at = regression
    raw, message = BAD_CSVS[case]
    name = f"{case.replace(' ', '_')}.csv"
    at.file_uploader(key="rg_upload").set_value((name, raw, "text/csv")).run()
    _ok(at)
    assert [e.value for e in at.error] == [f"**{name}** cannot be used: {message}"]
    assert at.button(key="rg_start").disabled
    at.file_uploader(key="rg_upload").set_value(("good.csv", GOOD_CSV.encode(), "text/csv")).run()
    _ok(at)
    assert not at.error and [s.value for s in at.success] == ["Using **good.csv**: 40 points."]
    assert not at.button(key="rg_start").disabled


# --- image uploads: Draw & predict -------------------------------------------------------------

def _img(im: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _digit(mode: str = "L", size=(120, 160)) -> Image.Image:
    im = Image.new("L", size, 245)
    ImageDraw.Draw(im).line([(size[0] // 2, 20), (size[0] // 2 + 8, size[1] - 20)], fill=10, width=16)
    return im.convert(mode) if mode != "L" else im


def _sixteen_bit() -> bytes:
    a = (np.asarray(_digit(), np.float64) / 255 * 65535).astype(np.uint16)
    return _img(Image.fromarray(a))


def _palette_transparent() -> bytes:
    im = Image.new("P", (100, 140), 0)
    im.putpalette([0, 0, 0, 255, 255, 255, 20, 20, 20] + [0] * 759)
    ImageDraw.Draw(im).line([(50, 10), (55, 130)], fill=2, width=9)
    return _img(im, "PNG", transparency=0)


def _animated_gif() -> bytes:
    frames = [Image.new("L", (120, 160), 245) for _ in range(2)]
    for i, frame in enumerate(frames):  # different frames (identical ones would be merged by the encoder)
        ImageDraw.Draw(frame).line([(10, 40 + 60 * i), (110, 40 + 60 * i)], fill=10, width=16)
    return _img(_digit(), "GIF", save_all=True, append_images=frames, duration=100, loop=0)


BIG = _img(_digit("RGB", (400, 400)), "PNG")
BIG_JPEG = _img(_digit("RGB", (400, 400)), "JPEG")
REFUSED_IMAGES = {  # name -> bytes; the page shows preprocess's own message as an error
    "not an image": ("notes.png", b"%PDF-1.4 lecture notes " * 40),
    "truncated PNG": ("cut.png", BIG[: len(BIG) // 2]),
    "truncated JPEG": ("cut.jpg", BIG_JPEG[: len(BIG_JPEG) // 2]),
    "decompression bomb": ("bomb.png", header_only_png(20000, 20000)),
    "8000x8000 header": ("huge.png", header_only_png(8000, 8000)),
}
ODD_BUT_VALID = {  # name -> (bytes, a note the steps caption shows)
    "16-bit": ("deep.png", _sixteen_bit(), "16-bit"),
    "CMYK": ("print.jpg", _img(_digit("CMYK"), "JPEG"), "CMYK"),
    "palette with transparency": ("pal.png", _palette_transparent(), ""),
    "animated GIF": ("anim.gif", _animated_gif(), "first of its 3 frames"),
}
GOOD_IMAGE = _img(_digit())


@pytest.fixture(scope="module")
def draw(env):
    at = _page("app_pages/draw.py")
    at.session_state["draw_source"] = ":material/upload: Upload"
    at.run()
    _ok(at)
    return at


def _prediction(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if 'data-testid="draw-prediction"' in m.value]


def _expected_image_error(raw: bytes) -> str:
    with pytest.raises(preprocess.ImageError) as info:
        preprocess.prepare(raw, preprocess.rule_for("digits"))
    return str(info.value)


@pytest.mark.parametrize("case", list(REFUSED_IMAGES))
def test_bad_image_message_then_a_good_image_is_classified(draw, case):
    at = draw
    name, raw = REFUSED_IMAGES[case]
    at.file_uploader(key="draw_upload").set_value((name, raw, "image/png")).run()
    _ok(at)
    assert [e.value for e in at.error] == [_expected_image_error(raw)]
    assert not _prediction(at) and not at.get("plotly_chart")
    at.file_uploader(key="draw_upload").set_value(("one.png", GOOD_IMAGE, "image/png")).run()
    _ok(at)
    assert not at.error and len(_prediction(at)) == 1


@pytest.mark.parametrize("case", list(ODD_BUT_VALID))
def test_odd_but_valid_images_are_classified_and_say_what_was_done(draw, case):
    at = draw
    name, raw, note = ODD_BUT_VALID[case]
    at.file_uploader(key="draw_upload").set_value((name, raw, "image/png")).run()
    _ok(at)
    assert not at.error and len(_prediction(at)) == 1
    assert note in " ".join(c.value for c in at.caption)


def test_a_1x1_image_asks_for_a_drawing(draw):
    at = draw
    raw = _img(Image.new("RGB", (1, 1), (255, 255, 255)))
    at.file_uploader(key="draw_upload").set_value(("dot.png", raw, "image/png")).run()
    _ok(at)
    with pytest.raises(preprocess.NoInkError) as info:
        preprocess.prepare(raw, preprocess.rule_for("digits"))
    assert [i.value for i in at.info] == [str(info.value)] and not at.error and not _prediction(at)
    at.file_uploader(key="draw_upload").set_value(("one.png", GOOD_IMAGE, "image/png")).run()
    _ok(at)
    assert len(_prediction(at)) == 1


# --- checkpoint uploads: the Classification lab ------------------------------------------------

@pytest.fixture(scope="module")
def classification(env):
    return _page("app_pages/classification.py")


def _upload_checkpoint(at: AppTest, name: str, raw: bytes) -> None:
    at.file_uploader(key="cls_upload").set_value((name, raw, "application/octet-stream")).run()
    _ok(at)


@pytest.mark.parametrize("case", list(BAD_CHECKPOINTS))
def test_bad_checkpoint_message_then_a_good_checkpoint_loads(classification, env, case):
    at = classification
    raw = BAD_CHECKPOINTS[case][0]()
    name = f"{case.replace(' ', '_').replace(chr(39), '')}.pt"
    with pytest.raises(checkpoints.CheckpointError) as info:
        checkpoints.check_upload(raw, "classification", tuple(DATASETS))
    before = set((env / "checkpoints").glob("*")) if (env / "checkpoints").exists() else set()
    _upload_checkpoint(at, name, raw)
    assert [e.value for e in at.error] == [f"{name}: {info.value}"]
    after = set((env / "checkpoints").glob("*")) if (env / "checkpoints").exists() else set()
    assert after == before  # nothing was written
    _upload_checkpoint(at, "good.pt", _good_bytes())
    assert not at.error and re.search(r"uploaded_good(_\d+)?\.pt$", at.session_state["cls:checkpoint"])  # keep both


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_a_code_executing_pickle_upload_is_refused_and_never_runs(classification, tmp_path):
    at = classification
    marker = tmp_path / "code-ran"
    raw = pickle.dumps({"format": checkpoints.FORMAT, "state_dict": RunsCode(marker)})
    _upload_checkpoint(at, "evil.pt", raw)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("evil.pt: This file holds Python objects other than weights")
    assert not marker.exists()
    _upload_checkpoint(at, "good.pt", _good_bytes())
    assert not at.error


# --- hyper-parameters at their limits --------------------------------------------------------

def test_enormous_widths_are_refused_up_front_with_the_size(classification):
    at = classification
    at.selectbox(key="cls_model").set_value("custom_mlp").run()
    _ok(at)
    at.text_input(key="cls_hidden").input("65536, 65536, 65536").run()
    _ok(at)
    errors = " ".join(e.value for e in at.error)
    assert "This model cannot be built: This model would have 8,642,166,794 parameters" in errors and "MB of weights" in errors
    assert at.button(key="cls_start").disabled
    at.text_input(key="cls_hidden").input("64").run()
    _ok(at)
    assert not at.error and not at.button(key="cls_start").disabled


def test_a_cnn_whose_activations_would_exhaust_memory_is_refused_up_front(classification):
    at = classification
    at.selectbox(key="cls_model").set_value("custom_cnn").run()
    at.number_input(key="cls_n_conv").set_value(4).run()
    at.text_input(key="cls_hidden").input("64").run()
    for i in range(4):
        at.number_input(key=f"cls_conv{i}_channels").set_value(512).run()
        at.selectbox(key=f"cls_conv{i}_pool").set_value("none").run()
    at.selectbox(key="cls_batch_size").set_value(1024).run()
    _ok(at)
    errors = " ".join(e.value for e in at.error)
    assert "This model cannot be built: Training this model with batch size 1024 would need about" in errors
    assert "GB of memory" in errors and "Use a smaller batch" in errors
    assert at.button(key="cls_start").disabled
    at.selectbox(key="cls_model").set_value("fast_cnn").run()
    _ok(at)
    assert not at.error and not at.button(key="cls_start").disabled


@pytest.mark.parametrize("batch, lr", [(1, 1.0), (512, 1e-4)])  # 512 > the 70 training points left after validation
def test_regression_extremes_of_the_controls_train(env, batch, lr):
    at = _page("app_pages/regression.py")
    at.select_slider(key="rg_batch_size").set_value(batch)
    at.select_slider(key="rg_lr").set_value(lr)
    at.number_input(key="rg_epochs").set_value(2)
    at.run()
    at.button(key="rg_start").click().run()
    _ok(at)
    from nnviz.jobs import runs
    run = runs.get(at.session_state["run_id:regression"])
    assert run is not None and run.wait(120)
    at.run()
    _ok(at)
    assert run.view().status in ("finished", "diverged")
    assert run.config.train.batch_size == batch and run.config.train.lr == lr
