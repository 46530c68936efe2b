"""The drawing suite's material: digits 0-9 as pen strokes in three styles, and real MNIST test digits as
uploads, as they are and as photos of ink on paper. Shared by tests/e2e/test_drawing_suite.py (floors) and
benchmarks/drawing_suite.py (accuracy figures and latency)."""
from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from playwright.sync_api import expect


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, n: int = 24) -> list:
    """Points on an ellipse from angle `start` to `end` (degrees; 0 = right, 90 = down: screen coordinates)."""
    return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in np.linspace(start, end, n)]


# Each digit in a unit box (x right, y down; about 0.6 wide, 1 tall), one list of points per stroke,
# in the order and direction most people write them.
DIGITS: dict[int, list[list[tuple[float, float]]]] = {
    0: [_arc(0.5, 0.5, 0.3, 0.5, -100, 265, 40)],
    1: [[(0.58, 0.0), (0.42, 1.0)]],
    2: [_arc(0.5, 0.28, 0.3, 0.28, 190, 385, 20) + [(0.22, 0.85), (0.12, 1.0), (0.88, 1.0)]],
    3: [_arc(0.48, 0.25, 0.3, 0.25, 200, 450, 20) + _arc(0.46, 0.73, 0.34, 0.27, -90, 160, 22)],
    4: [[(0.55, 0.0), (0.12, 0.65), (0.92, 0.65)], [(0.66, 0.3), (0.66, 1.0)]],
    5: [[(0.82, 0.0), (0.28, 0.0), (0.22, 0.45)] + _arc(0.48, 0.68, 0.34, 0.3, -130, 150, 22)],
    6: [[(0.72, 0.0), (0.45, 0.18), (0.26, 0.45)] + _arc(0.5, 0.72, 0.26, 0.28, 180, 540, 30)],
    7: [[(0.12, 0.0), (0.9, 0.0), (0.4, 1.0)]],
    8: [[(0.5 + 0.3 * math.sin(2 * t), 0.5 - 0.5 * math.cos(t)) for t in np.linspace(0, 2 * math.pi, 48)]],
    9: [_arc(0.5, 0.28, 0.28, 0.28, 0, -360, 30) + [(0.76, 0.55), (0.66, 1.0)]],
}


@dataclass(frozen=True)
class Style:
    height: float  # the digit's height as a share of the canvas
    centre: tuple[float, float]  # where its box's centre sits, in canvas fractions
    slant: float = 0.0  # x shifted right by slant * height at the top (an italic hand)
    pen: int = 20  # pen width in canvas px (the page's slider; 20 is its default)


STYLES: dict[str, Style] = {
    "large and centred": Style(0.72, (0.5, 0.5)),
    "small in a corner": Style(0.3, (0.2, 0.22)),
    "thick and slanted": Style(0.62, (0.5, 0.5), slant=0.3, pen=36),
}


def strokes(digit: int, style: Style, side: int, step_px: float = 5.0, seed: int = 0) -> list[list[tuple]]:
    """The digit's strokes in canvas px: densified to moves of <= step_px, with a hand's small wobble."""
    rng = np.random.default_rng(seed * 100 + digit)
    h = style.height * side
    out = []
    for line in DIGITS[digit]:
        pts = []
        for (x0, y0), (x1, y1) in zip(line[:-1], line[1:]):
            for t in np.linspace(0, 1, max(2, int(math.hypot(x1 - x0, y1 - y0) * h / step_px)), endpoint=False):
                pts.append((x0 + t * (x1 - x0), y0 + t * (y1 - y0)))
        pts.append(line[-1])
        wobble = np.cumsum(rng.normal(0, 0.15, (len(pts), 2)), 0) * 0.2  # px: a slow drift, not noise
        out.append([(style.centre[0] * side + (x - 0.5 + style.slant * (1 - y)) * h * 0.95 + dx,
                     style.centre[1] * side + (y - 0.5) * h + dy) for (x, y), (dx, dy) in zip(pts, wobble)])
    return out


def render(lines: list[list[tuple]], pen: int, side: int) -> np.ndarray:
    """What the canvas holds after these strokes: RGBA (side, side, 4), black round-capped ink, transparent paper."""
    im = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(im)
    for line in lines:
        draw.line(line, fill=(0, 0, 0, 255), width=pen, joint="curve")
        for x, y in (line[0], line[-1]):
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=(0, 0, 0, 255))
    return np.asarray(im)


def upload_cases(x_test: np.ndarray, y_test: np.ndarray, per_class: int = 2) -> list[tuple[int, np.ndarray]]:
    """The first `per_class` test images of each class, in label order 0..9, 0..9: (label, uint8 (28, 28))."""
    picks = [np.flatnonzero(y_test == c)[:per_class] for c in range(10)]
    return [(int(y_test[i]), x_test[i]) for k in range(per_class) for i in (p[k] for p in picks)]


def as_png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def as_photo(image: np.ndarray, seed: int = 0, side: int = 400) -> bytes:
    """A 28x28 MNIST digit as a photo of ink on paper: inverted, upscaled, on grey paper with grain and a
    lighting gradient, saved as JPEG."""
    rng = np.random.default_rng(seed)
    ink = np.asarray(Image.fromarray(image).resize((side, side), Image.Resampling.BICUBIC), np.float32) / 255
    ink = np.clip(ink, 0, 1)
    rows, cols = np.indices((side, side)) / side
    light = 0.95 - 0.35 * (0.6 * cols + 0.4 * rows)  # brighter top left, darker bottom right
    paper = 0.78 * light + rng.normal(0, 0.025, (side, side))  # grey paper, sensor grain
    photo = paper * (1 - 0.8 * ink)  # the ink absorbs most of the light
    buf = io.BytesIO()
    Image.fromarray(np.round(np.clip(photo, 0, 1) * 255).astype(np.uint8)).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


# --- in the browser (Playwright) ------------------------------------------------------------------------------

CANVAS = '[data-testid^="stBidiComponent"] canvas.upper-canvas'
PREDICTION = '[data-testid="draw-prediction"]'
WAITING = '[data-testid="stAlert"]:has-text("{}")'
_WATCH = """(sel) => {  // counts script runs; times mouse-up -> the answer's first appearance
  if (!window.__suite) {
    const app = document.querySelector('[data-testid="stApp"]');
    window.__suite = {runs: 0};
    new MutationObserver(() => { if (app.getAttribute('data-test-script-state') === 'running') window.__suite.runs++; })
      .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  }
  const s = window.__suite;
  s.up = null; s.answer = null;
  window.addEventListener('mouseup', () => {
    s.up = performance.now();
    if (document.querySelector(sel)) return;  // an earlier stroke's answer is on screen: not timed
    const o = new MutationObserver(() => {
      if (document.querySelector(sel)) { s.answer = performance.now(); o.disconnect(); } });
    o.observe(document.body, {childList: true, subtree: true});
  }, {capture: true, once: true});
  return s.runs;
}"""


def _idle(page, timeout_ms: int = 60_000) -> None:
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)
    page.wait_for_function("!document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=timeout_ms)


def set_pen(page, width: int) -> None:
    """Move the Pen width slider to `width` with the keyboard, as a user would."""
    thumb = page.locator('[data-testid="stSlider"] input[type="range"][aria-label="Pen width"]')
    now = int(thumb.input_value())
    if now == width:
        return
    thumb.focus()
    for _ in range(abs(width - now)):
        thumb.press("ArrowRight" if width > now else "ArrowLeft")
    expect(thumb).to_have_value(str(width), timeout=30_000)
    _idle(page)


def draw(page, lines: list[list[tuple]]) -> float | None:
    """Draw the strokes (canvas px) with many small mouse moves; wait for the page's answer to the last one.

    Returns milliseconds from the last mouse-up to the answer appearing (None if an answer was already shown).
    """
    canvas = page.locator(CANVAS)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    scale = box["width"] / canvas.evaluate("c => c.width")  # CSS px per canvas px
    for line in lines:
        page.mouse.move(box["x"] + line[0][0] * scale, box["y"] + line[0][1] * scale)
        # Hovering moves the canvas's toolbar up out of the canvas (a 0.1 s transition); until then its
        # invisible box covers the canvas's top edge and would swallow a press there, as a hand never does.
        page.wait_for_timeout(400)
        page.mouse.down()
        for x, y in line[1:]:
            page.mouse.move(box["x"] + x * scale, box["y"] + y * scale)
        runs = page.evaluate(_WATCH, PREDICTION)
        page.mouse.up()
        page.wait_for_function(f"window.__suite.runs > {runs}", timeout=60_000)  # the rerun for this stroke
        _idle(page)
    page.wait_for_selector(PREDICTION, timeout=60_000)
    timing = page.evaluate("window.__suite")
    return timing["answer"] - timing["up"] if timing.get("answer") and timing.get("up") else None


def answer(page) -> str:
    """The class the page shows ('7' from 'the network says / 7 / 98% sure')."""
    lines = [s.strip() for s in page.locator(PREDICTION).inner_text().splitlines() if s.strip()]
    return lines[1]


def clear(page) -> None:
    page.locator('[data-testid="stButton"] button:has-text("Clear")').click()
    page.wait_for_selector(WAITING.format("Draw a digit"), timeout=60_000)
    _idle(page)


def upload(page, path) -> str:
    """Upload one image file (the previous one removed first) and return the page's answer."""
    remove = page.locator('[data-testid="stFileChipDeleteBtn"]')
    if remove.count():
        remove.first.click()
        page.wait_for_selector(WAITING.format("Upload an image"), timeout=60_000)
        _idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    page.wait_for_selector(PREDICTION, timeout=60_000)
    _idle(page)
    return answer(page)


def run_drawings(page, styles: dict[str, Style] = STYLES, seed: int = 0) -> list[dict]:
    """Every digit in every style on the open Draw page: [{'style', 'digit', 'answer', 'ms'}]."""
    side = page.locator(CANVAS).evaluate("c => c.width")
    rows = []
    for name, style in styles.items():
        set_pen(page, style.pen)
        for digit in range(10):
            ms = draw(page, strokes(digit, style, side, seed=seed))
            rows.append({"style": name, "digit": digit, "answer": answer(page), "ms": ms})
            clear(page)
    set_pen(page, STYLES["large and centred"].pen)
    return rows


def run_uploads(page, folder, cases: list[tuple[int, np.ndarray]]) -> list[dict]:
    """Each case as a PNG as it is and as a JPEG photo on the open Draw page's Upload tab:
    [{'variant', 'label', 'answer'}]."""
    page.get_by_role("tab", name="Upload").click()
    page.wait_for_selector('[data-testid="stFileUploaderDropzoneInput"]', state="attached", timeout=60_000)
    _idle(page)
    rows = []
    for variant, encode, ext in (("as it is", as_png, "png"), ("photo", as_photo, "jpg")):
        for i, (label, image) in enumerate(cases):
            path = folder / f"{variant.replace(' ', '_')}_{i:02d}_{label}.{ext}"
            path.write_bytes(encode(image) if encode is as_png else encode(image, seed=i))
            rows.append({"variant": variant, "label": label, "answer": upload(page, path)})
    return rows
