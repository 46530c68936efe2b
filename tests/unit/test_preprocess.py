"""Free-form image -> model input: the MNIST convention, per-dataset rules, the redrawn test set, the fast path."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from nnviz.analysis import explain, inspect
from nnviz.data import preprocess as pp
from nnviz.data.images import DATASETS, _load_digits
from nnviz.figures.preprocess import steps_strip
from nnviz.model import checkpoints

SHIPPED_CNN = checkpoints.SHIPPED_DIR / "digits_cnn.pt"
SHIPPED_MLP = checkpoints.SHIPPED_DIR / "digits_mlp.pt"
CENTRE = 13.5  # the centre of a 28-px frame in pixel-index coordinates (pixel i spans [i, i+1))
MNIST_CENTRE = 14.0  # where MNIST puts each digit's centre of mass (pixel-index coordinates)


def strokes(points: list[list[tuple[int, int]]], size: tuple[int, int] = (400, 300), width: int = 18,
            dark_on_light: bool = True, canvas: bool = False) -> np.ndarray:
    """Synthetic pen strokes: grey (H, W) uint8, or an RGBA canvas (black ink, transparent background)."""
    if canvas:
        im = Image.new("RGBA", size, (0, 0, 0, 0))
        ink = (0, 0, 0, 255)
    else:
        im = Image.new("L", size, 250 if dark_on_light else 5)
        ink = 15 if dark_on_light else 240
    draw = ImageDraw.Draw(im)
    for line in points:
        draw.line(line, fill=ink, width=width, joint="curve")
    return np.asarray(im)


SHAPES = {  # digit-like strokes at different sizes, places and aspect ratios
    "seven": [[(100, 50), (220, 60), (150, 250)]],
    "one": [[(300, 20), (310, 280)]],
    "minus": [[(20, 150), (380, 160)]],
    "four": [[(250, 40), (120, 180), (280, 180)], [(230, 110), (230, 270)]],
    "small_zero": [[(60, 60), (80, 55), (90, 75), (80, 95), (60, 95), (55, 75), (60, 60)]],
    "corner_dot": [[(380, 280), (385, 284)]],
}


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, col) of an image's centre of mass in pixel-index coordinates (a 28 px frame's centre is 13.5)."""
    rows, cols = np.indices(image.shape)
    return float((image * rows).sum() / image.sum()), float((image * cols).sum() / image.sum())


def ink_box(pixels: np.ndarray, threshold: float = 0.3) -> tuple[int, int, float, float]:
    """(height, width, centre row, centre col) of the pixels above threshold."""
    rows, cols = np.flatnonzero((pixels > threshold).any(1)), np.flatnonzero((pixels > threshold).any(0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1, (rows[0] + rows[-1]) / 2, (cols[0] + cols[-1]) / 2


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("style", ["dark_on_light", "light_on_dark", "canvas"])
def test_mnist_convention_centre_of_mass_and_ink_box(shape, style):
    image = strokes(SHAPES[shape], width=6 if shape == "corner_dot" else 18, dark_on_light=style != "light_on_dark",
                    canvas=style == "canvas")
    out = pp.prepare(image, pp.rule_for("mnist"))
    assert out.x.shape == (1, 1, 28, 28)
    assert out.inverted == (style != "light_on_dark")
    cy, cx = centre_of_mass(out.pixels)
    assert abs(cy - MNIST_CENTRE) < 0.1 and abs(cx - MNIST_CENTRE) < 0.1  # centre of mass on pixel (14, 14)
    h, w, _, _ = ink_box(out.pixels)
    assert max(h, w) in (19, 20, 21)  # the longer side of the ink box fills the 20 px box
    edges = np.concatenate([out.pixels[0], out.pixels[-1], out.pixels[:, 0], out.pixels[:, -1]])
    assert edges.max() < 0.3  # nothing cut: at most an anti-aliased fringe reaches the frame's edge


def test_aspect_ratio_is_kept():
    page = np.full((300, 400), 255, np.uint8)
    page[30:270, 170:230] = 0  # a 60 x 240 px bar
    h, w, _, _ = ink_box(pp.prepare(page, pp.rule_for("mnist")).pixels, threshold=0.5)
    assert h in (20, 21) and w in (5, 6)  # 20 * 60 / 240 = 5 px wide (6 when it straddles pixel edges)


def test_position_and_scale_do_not_matter():
    rule = pp.rule_for("mnist")
    a = pp.prepare(strokes([[(100, 50), (220, 60), (150, 250)]], width=18), rule)
    b = pp.prepare(strokes([[(40, 30), (100, 35), (65, 130)]], size=(600, 500), width=9), rule)  # half size, elsewhere
    assert np.abs(a.pixels - b.pixels).mean() < 0.03


def test_normalisation_uses_the_dataset_statistics():
    rule = pp.rule_for("mnist")
    out = pp.prepare(strokes(SHAPES["seven"]), rule)
    mean, std = DATASETS["mnist"].mean[0], DATASETS["mnist"].std[0]
    assert torch.allclose(out.x[0, 0], torch.from_numpy((out.pixels - mean) / std), atol=1e-6)
    assert np.allclose(out.pixels * 255, np.round(out.pixels * 255), atol=1e-3)  # uint8 levels, like the sets


def test_steps_are_shown_in_order():
    out = pp.prepare(strokes(SHAPES["four"], canvas=True), pp.rule_for("mnist"))
    assert list(out.steps) == ["input", "grayscale", "inverted", "ink only", "cropped", "fitted 20×20",
                               "centred (mass)", "normalised"]
    assert all(np.isfinite(v).all() for v in out.steps.values())
    fig = steps_strip(out.steps)
    assert len(fig.data) == 1 and len(fig.layout.annotations) == len(out.steps)


def test_canvas_rgba_equals_the_same_drawing_on_white():
    rule = pp.rule_for("mnist")
    rgba = strokes(SHAPES["seven"], canvas=True)
    white = pp.prepare(strokes(SHAPES["seven"]), rule)
    assert np.abs(pp.prepare(rgba, rule).pixels - white.pixels).max() < 0.1


@pytest.mark.parametrize("lighting", ["gradient", "vignette"])
def test_photo_with_uneven_light_noise_and_dust_gives_the_clean_input(lighting):
    rule = pp.rule_for("digits")
    clean = strokes(SHAPES["seven"], size=(640, 480), width=24).astype(np.float32) / 255
    rows, cols = np.indices(clean.shape)
    vignette = 1 - 0.5 * ((cols - 200) ** 2 + (rows - 100) ** 2) / 640**2
    light = 1 - 0.45 * cols / 640 if lighting == "gradient" else vignette
    rng = np.random.default_rng(0)
    photo = clean * light + rng.normal(0, 0.03, clean.shape)  # a darker corner, sensor grain
    photo[rng.integers(0, 480, 30), rng.integers(0, 640, 30)] = 0.1  # dust
    out = pp.prepare(np.round(np.clip(photo, 0, 1) * 255).astype(np.uint8), rule)
    ref = pp.prepare(np.round(clean * 255).astype(np.uint8), rule)
    assert "paper" in out.steps and any("lighting" in n for n in out.notes) and "paper" not in ref.steps
    assert out.steps["cropped"].shape == pytest.approx(ref.steps["cropped"].shape, abs=4)
    assert np.abs(out.pixels - ref.pixels).mean() < 0.02


def test_digits_rule_centres_the_box_like_its_training_images():
    out = pp.prepare(strokes(SHAPES["seven"]), pp.rule_for("digits"))
    h, w, row, col = ink_box(out.pixels)
    assert h == 20 and abs(row - CENTRE) <= 0.5 and abs(col - CENTRE) <= 0.5
    assert "centred (box)" in out.steps


def test_only_digits_models_carry_a_caution_about_drawings():
    assert "8×8" in pp.rule_for("digits").caution and "may misread drawings" in pp.rule_for("digits").caution
    assert pp.rule_for("mnist").caution == pp.rule_for("mnist_sample").caution == ""


@pytest.mark.parametrize("dataset", ["fashion_mnist", "fashion_mnist_sample"])
def test_fashion_rule_fills_the_frame(dataset):
    out = pp.prepare(strokes([[(50, 100), (350, 120)]], width=40), pp.rule_for(dataset))
    h, w, _, _ = ink_box(out.pixels)
    assert w >= 27


def test_cifar_rule_keeps_colour_and_the_whole_picture():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    photo[:, :, 0] = 250  # a red cast: must survive (no grayscale, no inversion)
    rule = pp.rule_for("cifar10")
    out = pp.prepare(photo, rule)
    assert out.x.shape == (1, 3, 32, 32) and out.pixels.shape == (32, 32, 3) and not out.inverted
    assert out.pixels[..., 0].mean() > 0.95
    mean, std = np.array(rule.mean), np.array(rule.std)
    assert np.allclose(out.x[0].numpy().transpose(1, 2, 0), (out.pixels - mean) / std, atol=1e-5)
    assert list(out.steps) == ["input", "square crop", "resized", "normalised"]


def test_rule_follows_the_checkpoint_and_refuses_non_images():
    assert pp.rule_for("something_new", (3, 32, 32)).colour
    assert pp.rule_for("digits", (1, 28, 28), (0.2,), (0.3,)).mean == (0.2,)
    with pytest.raises(pp.ImageError):
        pp.rule_for("moons", (2,))


@pytest.fixture(scope="module")
def cnn():
    ckpt = checkpoints.load(SHIPPED_CNN)
    return ckpt, ckpt.model()


def _redraw(img: np.ndarray, scale: float, canvas: tuple[int, int], at: tuple[int, int]) -> np.ndarray:
    """A 28x28 test digit (light on black, [0, 1]) re-drawn as dark ink on paper, `scale` times larger at `at`."""
    side = round(28 * scale)
    big = np.asarray(Image.fromarray(img.astype(np.float32)).resize((side, side), Image.Resampling.BILINEAR))
    page = np.full(canvas, 255, np.uint8)
    page[at[0]:at[0] + side, at[1]:at[1] + side] = np.round(255 * (1 - np.clip(big, 0, 1))).astype(np.uint8)
    return page


def test_redrawn_test_digits_keep_their_prediction(cnn):
    """Digits from the test set, re-drawn larger and elsewhere on a page, are classified as the originals."""
    ckpt, model = cnn
    rule = pp.rule_for("digits", ckpt.input_shape, ckpt.mean, ckpt.std)
    _, _, x_test, _ = _load_digits()
    pixels = x_test[:80, 0].float().numpy() / 255  # (80, 28, 28)
    x = (torch.from_numpy(pixels)[:, None] - ckpt.mean[0]) / ckpt.std[0]
    with torch.no_grad():
        probs = torch.softmax(model(x), 1)
    confident = torch.nonzero(probs.max(1).values > 0.95)[:40, 0]  # clear digits: the answer must not flip
    assert len(confident) >= 30
    agree = []
    for j, i in enumerate(confident.tolist()):
        for scale, canvas, at in ((4.4, (300, 420), (7, 200 + j)), (9.0, (400, 300), (120, 40))):
            redrawn = pp.prepare(_redraw(pixels[i], scale, canvas, at), rule)
            with torch.no_grad():
                agree.append(int(model(redrawn.x).argmax()) == int(probs[i].argmax()))
    assert np.mean(agree) >= 0.97, f"{np.mean(agree):.1%} of redrawn digits kept their prediction"
    first = pp.prepare(_redraw(pixels[int(confident[0])], 6.0, (500, 500), (33, 91)), rule)
    with torch.no_grad():
        assert int(model(first.x).argmax()) == int(probs[int(confident[0])].argmax())


def test_classify_matches_a_manual_forward_and_captum(cnn):
    ckpt, model = cnn
    x = pp.prepare(strokes(SHAPES["seven"], canvas=True), pp.rule_for("digits", ckpt.input_shape)).x
    result = pp.classify(model, x, mean=ckpt.mean, std=ckpt.std, method="saliency")
    with torch.no_grad():
        ref = torch.softmax(model(x), 1)[0].numpy()
        act1 = model.act1(model.bn1(model.conv1(x)))[0].numpy()  # the first conv layer's maps, by hand
    assert result.layer == "act1" and result.maps.shape == (16, 28, 28)
    assert np.allclose(result.probs, ref, atol=1e-6) and np.allclose(result.maps, act1, atol=1e-5)
    direct = explain.to_maps(explain.attribute(model, x, "saliency", int(ref.argmax()), mean=ckpt.mean, std=ckpt.std))
    assert np.allclose(result.attribution, direct[0], atol=1e-6)
    assert inspect.count_hooks(model) == 0 and not model.training  # the shared model is left as it was
    assert pp.classify(model, x, method=None).attribution is None


def test_first_layer_of_an_mlp_is_its_first_dense_activation():
    ckpt = checkpoints.load(SHIPPED_MLP)
    model = ckpt.model()
    layer = pp.first_layer(model)
    assert layer is not None and layer.startswith("act")
    x = pp.prepare(strokes(SHAPES["one"]), pp.rule_for("digits")).x
    result = pp.classify(model, x, mean=ckpt.mean, std=ckpt.std, method="input_x_gradient")
    assert result.maps.ndim == 1 and result.attribution.shape == (28, 28)
