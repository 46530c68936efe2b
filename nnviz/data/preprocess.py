"""Free-form image (a drawing, an upload, a photo) -> model input, with every step kept for display.

MNIST was made so (LeCun et al.): the ink box scaled, anti-aliased and keeping its aspect
ratio, to fit 20x20, then placed in the 28x28 frame with its centre of mass on pixel (14, 14).
A drawing looks like training data only after the same steps, so `prepare` shows each:
grayscale -> auto-invert (dark ink on light paper -> light on black) -> ink only (paper and
uneven lighting removed, contrast stretched) -> crop to the ink box -> fit -> centre ->
normalise with the dataset's statistics. Per-dataset `Rule`s (`rule_for`): `digits` centres
the ink box (its images are 8x8 originals upsampled into a centred 20x20 box); Fashion-MNIST
fills 28 px; CIFAR-10 keeps colour and the whole picture (square crop, 32x32).

`decode` opens untrusted bytes safely and turns every failure into an `ImageError` with a
sentence for the user. `classify` is the Draw page's fast path: one forward for the
probabilities and the first conv layer's maps, plus one fast attribution.
"""
from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage
from torch import nn

from nnviz.analysis import explain
from nnviz.data.images import DATASETS
from nnviz.analysis.inspect import ACTIVATIONS, capture
from nnviz.training.threads import capped

FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")  # decoders allowed for uploads (smaller attack surface)
FORMAT_NAMES = "PNG, JPEG, WebP, BMP or GIF"
MAX_BYTES = 25 * 2**20  # an upload larger than this is refused before opening it
MAX_PIXELS = 50_000_000  # ~50 megapixels: any phone photo; checked from the header, before decoding
WORK_SIDE = 1024  # px: larger images are reduced first (the model sees 28 or 32 px; keeps every step fast)
INK_FLOOR = 0.1  # stretched ink fainter than this is paper noise (0.25 would eat anti-aliased stroke edges)
MIN_CONTRAST = 0.08  # ink and paper closer than this (in [0, 1] grey) means nothing was drawn
LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601, what PIL's convert('L') uses
# Live on a 28x28 input, the default first: Input x Gradient costs what Saliency costs (one backward) but lights
# up the strokes that mattered, where Saliency's raw gradient speckles the whole empty background.
FAST_METHODS = ("input_x_gradient", "saliency", "grad_cam", "integrated_gradients")
DEFAULT_METHOD = FAST_METHODS[0]


class ImageError(ValueError):
    """The image cannot be used; the message says why in plain words and what to do instead."""


class NoInkError(ImageError):
    """The image is blank (or 1x1): there is nothing to classify."""


# --- per-dataset rules --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """How a free-form image becomes an input of one dataset's models."""

    dataset: str
    shape: tuple[int, int, int]  # (C, H, W) of the model input
    mean: tuple[float, ...]
    std: tuple[float, ...]
    colour: bool = False  # CIFAR-like: keep RGB and the whole picture (no inversion, no ink crop)
    box: int = 20  # px: the ink box's longer side in the frame (MNIST: 20 of 28)
    centre: str = "mass"  # 'mass' (MNIST) or 'box' (sets that centred the bounding box)
    caution: str = ""  # one line shown next to the answer: why this model may misread a drawing
    note: str = ""  # one line for the page: what this rule does and why

    @property
    def frame(self) -> int:
        return self.shape[-1]


def rule_for(dataset: str, input_shape: Sequence[int] | None = None, mean: Sequence[float] = (),
             std: Sequence[float] = ()) -> Rule:
    """The rule for a model trained on `dataset`; `input_shape` / `mean` / `std` (from its checkpoint) win.

    Unknown sets are treated as MNIST-like (1 channel) or CIFAR-like (3 channels).
    """
    info = DATASETS.get(dataset)
    shape = tuple(input_shape) if input_shape else (info.shape if info else (1, 28, 28))
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise ImageError(f"This model takes inputs of shape {shape}; drawings need an image classifier "
                         "with 1 (grey) or 3 (colour) channels.")
    mean = tuple(mean) or (info.mean if info else (0.5,) * shape[0])
    std = tuple(std) or (info.std if info else (0.5,) * shape[0])
    frame = shape[-1]
    if shape[0] == 3:
        return Rule(dataset, shape, mean, std, colour=True, box=frame,
                    note=f"Colour photos: the whole picture, cropped to a square and resized to {frame}×{frame}.")
    if (info.sample_of if info else "") == "fashion_mnist" or dataset == "fashion_mnist":  # a sample: its set's rule
        return Rule(dataset, shape, mean, std, box=frame, centre="box",
                    note="Fashion-MNIST: the object's box scaled so its longer side fills the 28 px frame, centred.")
    if dataset == "digits":
        return Rule(dataset, shape, mean, std, box=round(frame * 20 / 28), centre="box",
                    note="scikit-learn digits: the ink box scaled to fit 20×20 (aspect kept) and centred by its "
                         "box in 28×28, as the training images (8×8 originals upsampled into a 20×20 box).",
                    caution="This model was trained on scikit-learn's 8×8 digits (blurry, upsampled to 28×28), not "
                            "on pen strokes: it may misread drawings. The MNIST models read handwriting.")
    return Rule(dataset, shape, mean, std, box=round(frame * 20 / 28), centre="mass",
                note="MNIST convention: the ink box scaled to fit 20×20 (aspect kept), its centre of mass "
                     "moved to pixel (14, 14) of the 28×28 frame.")


# --- safe decoding ------------------------------------------------------------------------------------------

def decode(data: bytes) -> tuple[Image.Image, list[str]]:
    """Untrusted bytes -> a loaded PIL image (mode RGB, RGBA or F) of at most WORK_SIDE px, and notes.

    Raises ImageError for empty, oversized, unknown, truncated or damaged files.
    """
    if not data:
        raise ImageError("The file is empty. Upload a PNG, JPEG, WebP, BMP or GIF image.")
    if len(data) > MAX_BYTES:
        raise ImageError(f"The file is {len(data) / 2**20:.0f} MB; images are limited to "
                         f"{MAX_BYTES / 2**20:.0f} MB. Use a smaller photo or a screenshot of the digit.")
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # PIL's own limit: an error here
            im = Image.open(io.BytesIO(data), formats=FORMATS)  # reads the header only
            _check_size(*im.size)
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)
                notes.append(f"animated image: the first of its {im.n_frames} frames is used")
            if im.format == "JPEG":
                im.draft(None, (WORK_SIDE, WORK_SIDE))  # decode big photos at 1/2 .. 1/8 scale directly
            im.load()
            im = ImageOps.exif_transpose(im)  # phone photos: upright as the camera was held
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # PIL: "Image size (N pixels)"
        size = "".join(f" ({int(n) / 1e6:,.0f} megapixels)" for n in re.findall(r"\((\d+) pixels\)", str(exc))[:1])
        raise ImageError(f"The image has too many pixels{size}; the limit is {MAX_PIXELS / 1e6:.0f} megapixels. "
                         "Use a smaller image.") from None
    except UnidentifiedImageError:
        raise ImageError(f"This file is not an image nnviz can read. Upload a {FORMAT_NAMES} file.") from None
    except MemoryError:
        raise ImageError("The image is too large to decode here. Use a smaller image.") from None
    except Exception as exc:  # noqa: BLE001 - OSError (truncated), SyntaxError, ValueError, struct.error, ...
        if "truncated" in str(exc).lower() or isinstance(exc, EOFError):
            raise ImageError("The image file is truncated (incomplete). Upload it again or save a new copy.") from None
        raise ImageError(f"The image file is damaged or incomplete and cannot be decoded ({type(exc).__name__}). "
                         f"Save it again as PNG or JPEG.") from None
    return _standard(im, notes), notes


def _check_size(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise ImageError(f"The image has too many pixels: {width:,}×{height:,} ({width * height / 1e6:,.0f} "
                         f"megapixels); the limit is {MAX_PIXELS / 1e6:.0f} megapixels. Use a smaller image.")


def _standard(im: Image.Image, notes: list[str]) -> Image.Image:
    """Any decoded mode -> RGB, RGBA (transparency kept for compositing) or F (high bit depth grey in [0, 1])."""
    if im.mode.startswith("I") or im.mode == "F":  # 16- or 32-bit grey: PIL's convert('L') would clip at 255
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or (im.mode == "I" and a.max() > 255) else 255.0
        if im.mode == "F":
            top = max(float(np.nanmax(a)), 1.0) if a.size else 1.0
        notes.append(f"{'16' if top == 65535.0 else 'high'}-bit grey image scaled to [0, 1]")
        im = Image.fromarray(np.clip(np.nan_to_num(a / top), 0, 1).astype(np.float32))  # mode F
    elif im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        im = im.convert("RGBA")
    elif im.mode != "RGB":
        if im.mode == "CMYK":
            notes.append("CMYK image converted to RGB")
        im = im.convert("RGB")
    if max(im.size) > WORK_SIDE:
        notes.append(f"reduced from {im.size[0]}×{im.size[1]} px")
        im.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
    return im


def to_rgb(image: Image.Image | np.ndarray) -> np.ndarray:
    """A PIL image or an array (H, W), (H, W, 3) or (H, W, 4) -> float32 RGB (H, W, 3) in [0, 1].

    Transparent pixels are composited on white paper (a canvas's empty background, a
    transparent PNG). uint8 arrays are read as 0-255, uint16 as 0-65535, floats as 0-1.
    """
    if isinstance(image, Image.Image) and image.mode not in ("RGB", "RGBA", "F"):
        image = _standard(image, [])
    a = np.asarray(image)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)) or min(a.shape[:2], default=0) < 1:
        raise ImageError(f"Expected an image array (H, W), (H, W, 3) or (H, W, 4); got shape {a.shape}.")
    scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(a.dtype, 1.0)
    x = np.clip(np.nan_to_num(a.astype(np.float32) / scale), 0, 1)
    if x.ndim == 2:
        x = x[..., None]
    if x.shape[2] == 4:  # straight alpha over white: c * a + 1 * (1 - a)
        alpha = x[..., 3:]
        x = x[..., :3] * alpha + (1.0 - alpha)
    return np.repeat(x, 3, axis=2) if x.shape[2] == 1 else x


# --- the pipeline -------------------------------------------------------------------------------------------

@dataclass
class Prepared:
    """A model input and how it was made."""

    x: torch.Tensor  # (1, C, H, W) normalised, float32
    pixels: np.ndarray  # (H, W) or (H, W, 3) in [0, 1]: the input before normalisation
    steps: dict[str, np.ndarray]  # step title -> image, in order ((h, w) grey or (h, w, 3) RGB)
    inverted: bool = False
    notes: list[str] = field(default_factory=list)


def prepare(image: Image.Image | np.ndarray | bytes, rule: Rule) -> Prepared:
    """Run the rule's steps on a drawing (RGBA array), a PIL image or uploaded bytes.

    Raises ImageError (bad file) or NoInkError (nothing drawn) with a message for the user.
    """
    notes: list[str] = []
    if isinstance(image, (bytes, bytearray, memoryview)):
        image, notes = decode(bytes(image))
    rgb = to_rgb(image)  # (H, W, 3)
    if max(rgb.shape[:2]) > 4 * WORK_SIDE:  # arrays skip decode(): bound the work here too
        rgb = rgb[:: max(rgb.shape[:2]) // WORK_SIDE, :: max(rgb.shape[:2]) // WORK_SIDE]
    out = _colour(rgb, rule) if rule.colour else _ink(rgb, rule)
    out.notes = notes + out.notes
    return out


def _colour(rgb: np.ndarray, rule: Rule) -> Prepared:
    if float(rgb.max() - rgb.min()) < MIN_CONTRAST:
        raise NoInkError("The picture is blank. Draw something, or upload a photo.")
    h, w = rgb.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = rgb[top:top + side, left:left + side]
    u8 = Image.fromarray((np.clip(square, 0, 1) * 255).round().astype(np.uint8))
    pixels = np.asarray(u8.resize((rule.frame,) * 2, Image.Resampling.BILINEAR), np.float32) / 255  # uint8 levels
    x = _normalise(pixels.transpose(2, 0, 1), rule)
    steps = {"input": rgb, "square crop": square, "resized": pixels,
             "normalised": x[0].numpy().transpose(1, 2, 0)}
    return Prepared(x, pixels, steps)


def _ink(rgb: np.ndarray, rule: Rule) -> Prepared:
    gray = rgb @ LUMA  # (H, W)
    inverted = float(np.median(gray)) > 0.5  # dark ink on light paper: MNIST is light ink on black
    light = 1.0 - gray if inverted else gray
    ink, paper = _ink_only(light)
    steps = {"input": rgb, "grayscale": gray, "inverted" if inverted else "not inverted": light}
    notes = []
    if float(paper.max() - paper.min()) > 0.05:  # a photo's shadows and gradients: show what was removed
        steps["paper"] = paper
        notes.append("uneven lighting evened out: the estimated paper is subtracted")
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]  # (h, w): the ink box
    steps.update({"ink only": ink, "cropped": crop})  # short titles: they caption small tiles
    if rule.box != rule.frame:
        steps[f"fitted {rule.box}×{rule.box}"] = _place(crop, rule.box, rule.box, "box")
    pixels = _place(crop, rule.box, rule.frame, rule.centre)  # (H, W)
    pixels = np.round(pixels * 255).astype(np.float32) / 255  # quantised like the uint8 training images
    steps[f"centred ({rule.centre})"] = pixels
    x = _normalise(pixels[None], rule)
    steps["normalised"] = x[0, 0].numpy()
    return Prepared(x, pixels, steps, inverted, notes)


def _ink_only(light: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Light-on-dark grey (H, W) -> (ink in [0, 1] with the paper at exactly 0, the estimated paper (H, W)).

    The paper (lighting included, so a photo's gradient or vignette is not taken for ink)
    is the image smoothed around the ink; on a clean drawing it is flat. Its grain is
    measured (median absolute deviation) and kept under the floor, and specks holding
    < 1% of the ink (dust, stray dots) are dropped before the ink box is taken.
    """
    paper = _paper(light)
    residual = light - paper
    level = float(np.median(residual))  # where the paper sits above its smooth estimate
    noise = 1.4826 * float(np.median(np.abs(residual - level)))  # robust sigma of the paper's grain
    peak = float(residual.max()) - level
    if peak < max(MIN_CONTRAST, 6 * noise):
        raise NoInkError("Nothing to classify yet: draw a digit, or upload a photo of one "
                         "(dark ink on light paper, or light on dark).")
    ink = np.clip((residual - level) / peak, 0, 1)
    ink[ink < max(INK_FLOOR, 4 * noise / peak)] = 0.0
    labels, n = ndimage.label(ink > 0)
    if n > 1:
        mass = ndimage.sum(ink, labels, index=np.arange(1, n + 1))
        ink[np.isin(labels, 1 + np.flatnonzero(mass < 0.01 * mass.sum()))] = 0.0
    return ink.astype(np.float32), np.clip(paper + level, 0, 1).astype(np.float32)


def _paper(light: np.ndarray) -> np.ndarray:
    """The paper's brightness under the ink, (H, W), estimated on <= 256 px (lighting is smooth).

    A grey opening 30% of the image wide lies under every stroke (exact on linear
    ramps, too low on curved lighting). Flat: the paper is that level. Otherwise what
    rises well above it is ink, and the paper is the Gaussian average of the other
    pixels (normalised convolution), which follows a vignette and ignores the strokes.
    """
    h, w = light.shape
    shrink = max(1, max(h, w) // 256)
    small = np.asarray(Image.fromarray(light.astype(np.float32)).reduce(shrink)) if shrink > 1 else light
    size = max(3, int(0.3 * max(small.shape))) | 1
    rough = ndimage.grey_opening(small, size=(size, size))
    ring = np.concatenate([rough[0], rough[-1], rough[:, 0], rough[:, -1]])
    # evenly lit: a flat paper, so clean images stay untouched; uneven light also shows along the border, where
    # a clean image's opening stays flat even when a thick digit's filled loops survive it in the middle
    if float(rough.max() - rough.min()) < 0.03 or float(ring.max() - ring.min()) < 0.03:
        return np.full_like(light, float(np.median(rough)))
    rise = small - rough
    ink = ndimage.binary_dilation(rise > 0.5 * float(rise.max()), iterations=2)  # strokes and their soft edges
    sigma = 0.06 * max(small.shape)
    weight = ndimage.gaussian_filter((~ink).astype(np.float32), sigma)
    smooth = ndimage.gaussian_filter(np.where(ink, 0.0, small).astype(np.float32), sigma)
    paper = np.where(weight > 0.05, smooth / np.maximum(weight, 1e-6), rough)  # deep inside ink: the opening
    return np.asarray(Image.fromarray(paper.astype(np.float32)).resize((w, h), Image.Resampling.BILINEAR))


def _place(crop: np.ndarray, box: int, frame: int, centre: str,
           resample: Image.Resampling = Image.Resampling.BILINEAR) -> np.ndarray:
    """The ink crop scaled so its longer side spans `box` px, placed in a frame x frame image.

    One anti-aliased resample (PIL's resize of a sub-pixel source window): the centre of
    mass (or of the box) lands exactly where the set puts it, with no second blur from a
    separate shift. The window is clamped so the ink is never cut off.
    """
    h, w = crop.shape
    scale = box / max(h, w)  # output px per source px
    span = frame / scale  # the frame's side in source px
    if centre == "mass":  # MNIST: centre of mass on pixel (14, 14), i.e. at 14.5 px in continuous coords
        total = float(crop.sum())
        cy = float((crop.sum(1) * (np.arange(h) + 0.5)).sum()) / total  # continuous coords: pixel i is [i, i+1)
        cx = float((crop.sum(0) * (np.arange(w) + 0.5)).sum()) / total
        target = frame / 2 + 0.5
    else:
        cy, cx, target = h / 2, w / 2, frame / 2
    y0 = min(max(cy - target / scale, h - span), 0.0)  # keep [0, h] inside the window
    x0 = min(max(cx - target / scale, w - span), 0.0)
    pad = int(np.ceil(span)) + 1
    padded = np.pad(crop.astype(np.float32), pad)
    window = (x0 + pad, y0 + pad, x0 + pad + span, y0 + pad + span)
    out = Image.fromarray(padded).resize((frame, frame), resample, box=window)
    return np.clip(np.asarray(out, dtype=np.float32), 0, 1)


def _normalise(pixels: np.ndarray, rule: Rule) -> torch.Tensor:
    """(C, H, W) in [0, 1] -> (1, C, H, W) normalised with the dataset's mean / std."""
    mean = np.asarray(rule.mean, np.float32).reshape(-1, 1, 1)
    std = np.asarray(rule.std, np.float32).reshape(-1, 1, 1)
    return torch.from_numpy(((pixels - mean) / std).astype(np.float32))[None]


# --- the fast path: probabilities, first-layer maps and an attribution -----------------------------------

@dataclass
class Result:
    probs: np.ndarray  # (K,)
    maps: np.ndarray | None  # (C, H, W) first conv layer's feature maps, or (D,) a first dense layer's outputs
    layer: str | None  # the layer the maps come from
    attribution: np.ndarray | None  # (H, W), towards the predicted class
    method: str


def first_layer(model: nn.Module) -> str | None:
    """The layer whose output shows the first conv layer's feature maps: the activation right after the
    first Conv2d (conv -> bn -> act), else the conv itself; for an MLP the first dense layer's activation."""
    names = [(n, m) for n, m in model.named_modules() if n]
    for kind in (nn.Conv2d, nn.Linear):
        first = next((i for i, (_, m) in enumerate(names) if isinstance(m, kind)), None)
        if first is None:
            continue
        for name, module in names[first + 1:first + 4]:
            if isinstance(module, ACTIVATIONS):
                return name
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                break
        return names[first][0]
    return None


def classify(model: nn.Module, x: torch.Tensor, *, mean: Sequence[float] = (), std: Sequence[float] = (),
             method: str | None = DEFAULT_METHOD, layer: str | None = "auto", threads: int | None = 1) -> Result:
    """One forward (probabilities + the first layer's maps through a hook), then one attribution.

    `method` None skips the attribution; `layer` 'auto' picks `first_layer(model)`, None none;
    `threads` caps torch's intra-op threads during the call (None: leave them).
    The shared model is only read: hooks are removed, Captum works on a private copy.
    """
    layer = first_layer(model) if layer == "auto" else layer
    # one tiny forward: on a busy 2-core CPU two OpenMP threads stall each other (~4x slower)
    with capped(threads), capture(model, x, [layer] if layer else []) as cap:  # eval mode, no_grad
        probs = torch.softmax(cap.output.float(), 1)[0].numpy()  # (K,)
        maps = cap.outputs[layer][0].float().numpy() if layer in cap.outputs else None
    attribution = None
    if method:
        target = int(probs.argmax())
        attribution = explain.to_maps(explain.attribute(model, x, method, target, mean=mean, std=std,
                                                        threads=threads))[0]  # (H, W)
    return Result(probs, maps, layer, attribution, method or "")
