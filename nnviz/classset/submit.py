"""One student's drawing -> the class set: cheap checks first, then Draw & predict's preprocessing, then the store."""
from __future__ import annotations

import numpy as np

from nnviz.classset.store import ClassStore, Refused
from nnviz.data.preprocess import ImageError, NoInkError, prepare, rule_for

MAX_POST_BYTES = 512 * 1024  # a 280 px canvas PNG is ~5-20 kB; anything near this is not a drawing
RULE = rule_for("mnist")  # the class set is read by the MNIST models: the same steps as Draw & predict


def to_pixels(data: bytes) -> np.ndarray:
    """A drawing's image bytes (PNG from the canvas) -> (28, 28) uint8, exactly as Draw & predict prepares
    it for an MNIST model. Refused for an empty drawing or a file that is not an image."""
    try:
        prepared = prepare(data, RULE)
    except NoInkError:
        raise Refused("The drawing is empty: draw a digit first.") from None
    except ImageError as exc:
        raise Refused(str(exc)) from None
    return np.round(prepared.pixels * 255).astype(np.uint8)  # (28, 28): prepare already quantised to /255


def submit(store: ClassStore, submitter: str, label: object, data: bytes) -> int:
    """Store one drawing; its id. Refused (with a sentence for the student, nothing stored) otherwise."""
    if len(data) > MAX_POST_BYTES:
        raise Refused(f"The drawing is too large ({len(data) / 1024:.0f} kB; at most "
                      f"{MAX_POST_BYTES // 1024} kB). Reload the page and draw again.")
    text = str(label).strip() if isinstance(label, (int, str)) and not isinstance(label, bool) else ""
    if not (len(text) == 1 and text.isdigit()):  # one of 0-9, as a number or the text the page posts
        raise Refused("Pick the digit you drew (0-9).")
    digit = int(text)
    store.check_submitter(submitter)  # closed, flooding, full: refused before any image work
    return store.add(submitter, digit, to_pixels(data))
