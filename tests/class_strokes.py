"""Digit-like pen strokes for the Class canvas tests and benchmark: one polyline set per digit, jittered per writer.

Coordinates are fractions of the drawing box; `png` renders them as the Collect page posts a drawing
(black ink, 20 px pen, on a white 280 px square), `points` gives them in a box on screen for touch strokes.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

DIGITS: dict[int, list[list[tuple[float, float]]]] = {
    0: [[(.5, .15), (.75, .3), (.78, .7), (.5, .88), (.25, .7), (.22, .3), (.5, .15)]],
    1: [[(.4, .28), (.55, .15), (.55, .88)]],
    2: [[(.25, .3), (.5, .15), (.75, .3), (.7, .5), (.25, .85), (.8, .85)]],
    3: [[(.25, .2), (.7, .2), (.45, .48), (.75, .65), (.5, .88), (.22, .8)]],
    4: [[(.6, .88), (.6, .15), (.2, .62), (.82, .62)]],
    5: [[(.75, .15), (.3, .15), (.28, .45), (.7, .5), (.7, .8), (.25, .85)]],
    6: [[(.7, .15), (.35, .45), (.28, .75), (.5, .88), (.72, .72), (.5, .55), (.3, .65)]],
    7: [[(.22, .18), (.8, .18), (.42, .88)]],
    8: [[(.5, .5), (.28, .3), (.5, .13), (.72, .3), (.5, .5), (.25, .7), (.5, .88), (.75, .7), (.5, .5)]],
    9: [[(.7, .35), (.5, .15), (.3, .32), (.5, .5), (.7, .35), (.68, .88)]],
}


def jittered(digit: int, writer: int, nth: int, amount: float = 0.04) -> list[list[tuple[float, float]]]:
    """The digit's strokes as one writer draws it the nth time (same writer, same n: same strokes)."""
    rng = np.random.default_rng(1000 * writer + 10 * nth + digit)
    slant = rng.uniform(-0.12, 0.12)
    return [[(float(np.clip(x + slant * (0.5 - y) + rng.normal(0, amount), .03, .97)),
              float(np.clip(y + rng.normal(0, amount), .03, .97))) for x, y in line] for line in DIGITS[digit]]


def png(lines: list[list[tuple[float, float]]], side: int = 280, pen: int = 20) -> bytes:
    im = Image.new("RGB", (side, side), "white")
    draw = ImageDraw.Draw(im)
    for line in lines:
        draw.line([(x * side, y * side) for x, y in line], fill="black", width=pen, joint="curve")
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def points(line: list[tuple[float, float]], box: dict, steps: int = 6) -> list[tuple[float, float]]:
    """A stroke in screen coordinates inside `box` (x, y, width, height), with `steps` points per segment."""
    out = []
    for (x0, y0), (x1, y1) in zip(line, line[1:]):
        for t in np.linspace(0, 1, steps, endpoint=False):
            out.append((box["x"] + (x0 + t * (x1 - x0)) * box["width"], box["y"] + (y0 + t * (y1 - y0)) * box["height"]))
    out.append((box["x"] + line[-1][0] * box["width"], box["y"] + line[-1][1] * box["height"]))
    return out
