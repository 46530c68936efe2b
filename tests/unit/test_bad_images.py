"""Safe decoding of uploads: every bad file gives an ImageError with a clear sentence; odd but valid files work."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from nnviz.data import preprocess as pp

RULE = pp.rule_for("digits")


def header_only_png(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (8-bit grey) with one tiny IDAT: a decompression-bomb lookalike."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _digit(mode: str = "L", size: tuple[int, int] = (120, 160)) -> Image.Image:
    """A dark '1'-like stroke on light paper."""
    im = Image.new("L", size, 245)
    stroke = [(size[0] // 2, 20), (size[0] // 2 + 8, size[1] - 20)]
    ImageDraw.Draw(im).line(stroke, fill=10, width=max(12, size[1] // 10))
    return im.convert(mode) if mode != "L" else im


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _ok(data: bytes) -> pp.Prepared:
    out = pp.prepare(data, RULE)
    assert out.x.shape == (1, 1, 28, 28) and np.isfinite(out.x.numpy()).all()
    assert out.pixels.max() > 0.6 and out.pixels[:3].max() == 0  # ink inside, empty border (light on black)
    return out


@pytest.mark.parametrize("fmt,ext", [("PNG", {}), ("JPEG", {"quality": 90}), ("WEBP", {}), ("BMP", {}), ("GIF", {})])
def test_every_supported_format_decodes(fmt, ext):
    out = _ok(_save(_digit("RGB" if fmt in ("JPEG", "WEBP") else "L"), fmt, **ext))
    assert out.inverted  # dark ink on light paper was inverted


def test_not_an_image():
    with pytest.raises(pp.ImageError, match="not an image"):
        pp.prepare(b"%PDF-1.4 these are my lecture notes" * 10, RULE)
    with pytest.raises(pp.ImageError, match="empty"):
        pp.prepare(b"", RULE)


def test_formats_outside_the_allow_list_are_refused():
    with pytest.raises(pp.ImageError, match="not an image"):
        pp.prepare(_save(_digit(), "TIFF"), RULE)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_file(fmt):
    data = _save(_digit("RGB", (400, 400)), fmt)
    with pytest.raises(pp.ImageError, match="truncated|damaged") as info:
        pp.prepare(data[: len(data) // 2], RULE)
    assert "Traceback" not in str(info.value)


def test_20000_by_20000_pixels_is_refused_before_decoding():
    with pytest.raises(pp.ImageError, match=r"too many pixels \(400 megapixels\)"):
        pp.prepare(header_only_png(20000, 20000), RULE)  # 400 MP: PIL's own bomb limit
    with pytest.raises(pp.ImageError, match="too many pixels: 8,000×8,000"):
        pp.prepare(header_only_png(8000, 8000), RULE)  # 64 MP: under PIL's limit, over nnviz's


def test_too_many_bytes(monkeypatch):
    monkeypatch.setattr(pp, "MAX_BYTES", 1000)
    with pytest.raises(pp.ImageError, match="MB"):
        pp.prepare(_save(_digit("RGB", (400, 400)), "BMP"), RULE)


def test_16_bit_grey_png_is_scaled_not_clipped():
    a = (np.asarray(_digit(), np.float64) / 255 * 65535).astype(np.uint16)
    data = _save(Image.fromarray(a), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    out = _ok(data)
    ref = pp.prepare(_save(_digit(), "PNG"), RULE)
    assert np.abs(out.pixels - ref.pixels).max() < 0.02  # same result as the 8-bit file
    assert any("16-bit" in n for n in out.notes)


def test_cmyk_jpeg():
    out = _ok(_save(_digit("CMYK"), "JPEG"))
    assert any("CMYK" in n for n in out.notes)


def test_transparent_png_is_composited_on_white():
    im = Image.new("RGBA", (200, 200), (0, 0, 0, 0))  # transparent *black*: must read as paper, not ink
    ImageDraw.Draw(im).line([(100, 20), (100, 180)], fill=(0, 0, 0, 255), width=24)
    out = _ok(_save(im, "PNG"))
    assert out.inverted
    la = _ok(_save(im.convert("LA"), "PNG"))
    assert np.abs(la.pixels - out.pixels).max() < 0.02


def test_palette_with_transparency():
    im = Image.new("P", (100, 140), 0)
    im.putpalette([0, 0, 0, 255, 255, 255, 20, 20, 20] + [0] * 759)
    ImageDraw.Draw(im).line([(50, 10), (55, 130)], fill=2, width=9)
    for fmt in ("PNG", "GIF"):
        data = _save(im, fmt, transparency=0)  # index 0 (black) is transparent -> white paper
        assert Image.open(io.BytesIO(data)).mode == "P"
        _ok(data)


def test_animated_gif_uses_the_first_frame():
    first, others = _digit(), [Image.new("L", (120, 160), 245) for _ in range(2)]
    for i, frame in enumerate(others):  # a horizontal bar: a different shape in every later frame
        ImageDraw.Draw(frame).line([(10, 40 + 60 * i), (110, 40 + 60 * i)], fill=10, width=16)
    data = _save(first, "GIF", save_all=True, append_images=others, duration=100, loop=0)
    out = _ok(data)
    assert any("first of its 3 frames" in n for n in out.notes)
    rows, cols = np.flatnonzero(out.pixels.any(1)), np.flatnonzero(out.pixels.any(0))
    assert len(rows) > 2 * len(cols)  # the tall stroke of frame 1, not a bar


@pytest.mark.parametrize("image", [
    Image.new("RGB", (1, 1), (255, 255, 255)), Image.new("L", (1, 1), 0), Image.new("RGB", (300, 300), "white"),
    Image.new("RGBA", (280, 280), (0, 0, 0, 0)),
])
def test_blank_or_1x1_images_ask_for_a_drawing(image):
    with pytest.raises(pp.NoInkError, match="draw"):
        pp.prepare(_save(image, "PNG"), RULE)
    with pytest.raises(pp.NoInkError):
        pp.prepare(np.asarray(image), RULE)


def test_blank_image_for_a_colour_model():
    with pytest.raises(pp.NoInkError, match="blank"):
        pp.prepare(np.full((50, 50, 3), 128, np.uint8), pp.rule_for("cifar10"))


def test_big_photo_is_reduced_before_processing():
    data = _save(_digit("RGB", (3000, 2000)), "JPEG")
    image, notes = pp.decode(data)
    assert max(image.size) <= pp.WORK_SIDE
    _ok(data)


def test_weird_arrays_are_refused_clearly():
    with pytest.raises(pp.ImageError, match="shape"):
        pp.prepare(np.zeros((4, 4, 5), np.uint8), RULE)
    with pytest.raises(pp.ImageError, match="shape"):
        pp.prepare(np.zeros((0, 4), np.uint8), RULE)
