"""AppTest: Draw & predict on the shipped models — a drawing injected into the canvas, uploads, the camera."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from nnviz.data import preprocess
from nnviz.figures.attributions import SIGNS
from nnviz.model import checkpoints
from tests.app.conftest import APP
from tests.unit.test_bad_images import header_only_png

PAGE = "app_pages/draw.py"
SEVEN = [(62, 50), (218, 50), (120, 240)]
ONE = [(140, 30), (150, 250)]


def canvas_png(points=SEVEN, width: int = 20, size: int = 280) -> bytes:
    """The PNG the canvas sends after a stroke: black ink on its white background."""
    im = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    if points:
        ImageDraw.Draw(im).line(points, fill=(0, 0, 0, 255), width=width, joint="curve")
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _open() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def _stroke(at: AppTest, png: bytes, key: str = "draw_canvas_0") -> None:
    """What the browser sends on mouse-up: the canvas's JSON and (return_image_data=True) its PNG."""
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    at.session_state[key] = {"drawing": {"raw": {"objects": [{"type": "path"}], "background": "#FFFFFF"}, "data": url},
                             "backgroundFit": None}
    at.run()
    assert not at.exception, at.exception


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _values(v) -> np.ndarray:
    """A plotly JSON array: a list, or plotly 6's typed array {'dtype', 'bdata'}."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
    return np.asarray(v)


def _title(spec: dict) -> str:
    return (spec["layout"].get("title") or {}).get("text", "")


def _prediction(at: AppTest) -> str:
    found = [m.value for m in at.markdown if 'data-testid="draw-prediction"' in m.value]
    assert len(found) == 1, [m.value[:60] for m in at.markdown]
    return found[0]


def test_page_waits_for_a_drawing_on_the_shipped_mnist_cnn(nnviz_env):
    at = _open()
    assert "Draw & predict" in at.title[0].value
    box = at.selectbox(key="draw_model")
    assert "mnist_cnn" in box.options[box.index]
    canvas = [e for e in at.main if getattr(e, "type", "") == "bidi_component"]
    assert canvas and "drawable_canvas" in canvas[0].proto.component_name
    assert any("Draw a digit" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_a_drawn_seven_is_classified_with_steps_attribution_and_maps(nnviz_env):
    at = _open()
    _stroke(at, canvas_png(SEVEN))
    # the same drawing through the library gives the same answer: a 7
    ckpt = checkpoints.load(checkpoints.DEFAULT_MODEL)
    rgba = np.asarray(Image.open(io.BytesIO(canvas_png(SEVEN))))
    rule = preprocess.rule_for(ckpt.config.data.dataset, ckpt.input_shape, ckpt.mean, ckpt.std)
    prepared = preprocess.prepare(rgba, rule)
    result = preprocess.classify(ckpt.model(), prepared.x, mean=ckpt.mean, std=ckpt.std, method=None)
    expected = ckpt.classes[int(result.probs.argmax())]
    assert expected == "7"
    shown = _prediction(at)
    assert f">{expected}</div>" in shown and "%" in shown and "font-size:7.5rem" in shown
    titles = [_title(s) for s in _charts(at)]
    assert titles[0] == "Top-5 probabilities"
    bars = _charts(at)[0]["data"][0]
    assert len(bars["y"]) == 5 and bars["y"][0] == expected
    assert abs(sum(result.probs) - 1) < 1e-5 and abs(_values(bars["x"])[0] - result.probs.max()) < 1e-4
    steps = _charts(at)[1]
    assert [a["text"].split("</b>")[0] for a in steps["layout"]["annotations"]][:3] == \
        ["<b>1. input", "<b>2. grayscale", "<b>3. inverted"]
    assert any(t.startswith("Input × Gradient → “") for t in titles)
    assert any("act1: 32 feature maps" in t for t in titles)
    assert any("ms on the server" in c.value for c in at.caption)
    assert not at.warning, "a model trained on MNIST gives no caution"


def test_a_digits_model_says_it_may_misread_drawings(nnviz_env):
    at = _open()
    box = at.selectbox(key="draw_model")
    box.select(next(i for i, label in enumerate(box.options) if "digits_cnn" in label)).run()
    _stroke(at, canvas_png(SEVEN))
    assert "%" in _prediction(at)
    assert any("8×8 digits" in w.value and "may misread drawings" in w.value for w in at.warning)


def test_clear_gives_a_fresh_canvas(nnviz_env):
    at = _open()
    _stroke(at, canvas_png(SEVEN))
    at.button(key="draw_clear").click().run()
    assert not at.exception
    keys = [e.proto.id for e in at.main if getattr(e, "type", "") == "bidi_component"]
    assert keys and keys[0].endswith("draw_canvas_1")
    assert any("Draw a digit" in i.value for i in at.info) and not at.get("plotly_chart")
    _stroke(at, canvas_png(ONE), key="draw_canvas_1")
    assert "%" in _prediction(at)


def test_a_blank_canvas_asks_for_a_drawing(nnviz_env):
    at = _open()
    _stroke(at, canvas_png(points=None))  # e.g. everything erased with the eraser
    assert any("draw a digit" in i.value.lower() for i in at.info)
    assert not at.error and not at.get("plotly_chart")


@pytest.mark.parametrize("method,title", [("saliency", "Saliency"), ("grad_cam", "Grad-CAM"),
                                          ("integrated_gradients", "Integrated Gradients")])
def test_other_fast_methods_and_top_k(nnviz_env, method, title):
    at = _open()
    assert at.selectbox(key="draw_method").value == "input_x_gradient"  # fast, and it lights up the strokes
    at.selectbox(key="draw_method").select(method).run()
    at.slider(key="draw_k").set_value(3).run()
    _stroke(at, canvas_png(SEVEN))
    titles = [_title(s) for s in _charts(at)]
    assert "Top-3 probabilities" in titles and any(t.startswith(title) for t in titles)


def test_no_attribution(nnviz_env):
    at = _open()
    at.selectbox(key="draw_method").select("none").run()
    _stroke(at, canvas_png(SEVEN))
    assert "%" in _prediction(at) and not any("→" in _title(s) for s in _charts(at))


def test_the_shipped_mlp_shows_its_first_dense_layer(nnviz_env):
    at = _open()
    box = at.selectbox(key="draw_model")
    box.select(next(i for i, label in enumerate(box.options) if "digits_mlp" in label)).run()
    assert "grad_cam" not in at.selectbox(key="draw_method").options  # needs a conv layer
    _stroke(at, canvas_png(ONE))
    assert "%" in _prediction(at)
    assert any("outputs of the first dense layer" in _title(s) for s in _charts(at))


def _upload_tab(at: AppTest) -> None:
    at.session_state["draw_source"] = ":material/upload: Upload"  # the open tab, by its label
    at.run()
    assert not at.exception and at.file_uploader, "the Upload tab did not open"


def _png(im: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_an_uploaded_photo_is_classified(nnviz_env):
    at = _open()
    _upload_tab(at)
    photo = Image.new("RGB", (640, 480), (225, 222, 210))  # greyish paper, a dark pen stroke
    ImageDraw.Draw(photo).line([(250, 80), (390, 80), (300, 400)], fill=(40, 40, 60), width=28)
    at.file_uploader(key="draw_upload").set_value(("seven.jpg", _png(photo, "JPEG"), "image/jpeg")).run()
    assert not at.exception and "%" in _prediction(at)


@pytest.mark.parametrize("name,content,message", [
    ("notes.png", b"not an image at all " * 50, "not an image"),
    ("huge.png", header_only_png(20000, 20000), "too many pixels"),
    ("cut.png", _png(Image.new("RGB", (300, 300), "white"))[:200], "truncated"),
])
def test_bad_uploads_show_a_message_and_the_page_keeps_working(nnviz_env, name, content, message):
    at = _open()
    _upload_tab(at)
    at.file_uploader(key="draw_upload").set_value((name, content, "image/png")).run()
    assert not at.exception
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert not at.get("plotly_chart")
    ok = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(ok).line([(100, 20), (104, 180)], fill=0, width=18)
    at.file_uploader(key="draw_upload").set_value(("one.png", _png(ok), "image/png")).run()
    assert not at.exception and "%" in _prediction(at)


def test_camera_photo(nnviz_env):
    at = _open()
    at.session_state["draw_source"] = ":material/photo_camera: Camera"
    at.run()
    assert not at.exception and at.camera_input
    photo = Image.new("RGB", (640, 480), (200, 200, 195))
    ImageDraw.Draw(photo).line([(320, 60), (330, 420)], fill=(20, 20, 20), width=30)
    at.camera_input(key="draw_camera").set_value(("shot.jpg", _png(photo, "JPEG"), "image/jpeg")).run()
    assert not at.exception and "%" in _prediction(at)


def _save_untrained(folder, dataset: str) -> None:
    """A small CNN checkpoint for `dataset` in the user checkpoint folder (its data is not on disk)."""
    import torch

    from nnviz.config import ConvBlock, DataConfig, ModelConfig, RunConfig
    from nnviz.data import DATASETS
    from nnviz.model.models import build_model

    info = DATASETS[dataset]
    cfg = RunConfig(data=DataConfig(dataset=dataset), model=ModelConfig(hidden=(), conv=(ConvBlock(4, 3),),
                                                                       global_pool=True), name=dataset)
    torch.manual_seed(0)
    model = build_model(cfg.model, info.shape, len(info.classes)).eval()
    folder.mkdir(parents=True, exist_ok=True)
    checkpoints.save(folder / f"{dataset}_tiny.pt", model, cfg, task="classification", input_shape=info.shape,
                     n_outputs=len(info.classes), classes=info.classes, mean=info.mean, std=info.std)


@pytest.mark.parametrize("dataset,rule_words,input_size", [("mnist", "centre of mass", "28×28"),
                                                           ("fashion_mnist", "Fashion-MNIST", "28×28"),
                                                           ("cifar10", "Colour photos", "32×32")])
def test_models_of_other_sets_work_without_their_data(nnviz_env, dataset, rule_words, input_size):
    _save_untrained(nnviz_env / "checkpoints", dataset)
    at = _open()
    box = at.selectbox(key="draw_model")
    box.select(next(i for i, label in enumerate(box.options) if f"{dataset}_tiny" in label)).run()
    assert not at.exception and not at.error  # no "data missing": drawing needs no test set
    _stroke(at, canvas_png(SEVEN))
    assert "%" in _prediction(at)
    assert any(rule_words in c.value for c in at.caption)
    steps = next(s for s in _charts(at) if s["layout"].get("annotations"))
    assert any(input_size in a["text"] for a in steps["layout"]["annotations"])


def test_reruns_that_keep_the_drawing_redo_no_work(nnviz_env, monkeypatch):
    calls = []
    real = preprocess.prepare
    monkeypatch.setattr(preprocess, "prepare", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    at = _open()
    _stroke(at, canvas_png())
    assert len(calls) == 1
    first = _prediction(at)
    at.slider(key="draw_k").set_value(3).run()  # the chart changes, the drawing does not
    at.selectbox(key="draw_sign").select(list(SIGNS)[1]).run()
    assert not at.exception, at.exception
    assert len(calls) == 1 and _prediction(at) == first
    assert len(_values(_charts(at)[0]["data"][0]["y"])) == 3
    _stroke(at, canvas_png(ONE))  # a new drawing is classified afresh
    assert len(calls) == 2
