"""The drawing suite on Draw & predict with its default model: digits 0-9 drawn with the mouse in three styles,
and real MNIST test digits uploaded as they are and as photos of ink on paper. Floors, never timings
(the figures and the latency are printed by benchmarks/drawing_suite.py)."""
from __future__ import annotations

import pytest

from nnviz.data.images import load_raw
from tests.e2e import drawing_suite as suite
from tests.e2e.conftest import assert_no_exception, screenshot, wait_idle

pytestmark = pytest.mark.e2e


def _misreads(rows: list[dict], truth: str) -> list[str]:
    return [f"{r.get('style', r.get('variant'))}: {r[truth]} read as {r['answer']}" for r in rows
            if r["answer"] != str(r[truth])]


@pytest.mark.timeout(900)  # 70 drawings and uploads, each a rerun: ~2 min on an idle machine, more on a busy one
def test_default_model_reads_drawn_digits_and_real_uploads(page, app_url, tmp_path):
    page.goto(f"{app_url}/draw")
    wait_idle(page)
    page.wait_for_selector(suite.CANVAS, timeout=60_000)
    assert "mnist_cnn" in page.get_by_role("combobox", name="Model").input_value(), "the default model"

    drawn = suite.run_drawings(page)
    assert len(drawn) == 30
    wrong = _misreads(drawn, "digit")
    assert len(wrong) <= 1, f"{30 - len(wrong)}/30 drawn digits read right; misread: {wrong}"
    assert_no_exception(page)

    _, _, x_test, y_test = load_raw("mnist_sample")
    cases = suite.upload_cases(x_test[:, 0].numpy(), y_test.numpy())
    uploads = suite.run_uploads(page, tmp_path, cases)
    for variant in ("as it is", "photo"):
        rows = [r for r in uploads if r["variant"] == variant]
        wrong = _misreads(rows, "label")
        assert len(rows) == 20 and len(wrong) <= 1, f"uploads {variant}: {20 - len(wrong)}/20 right; {wrong}"
    assert_no_exception(page)
    screenshot(page, "draw_suite_last_photo")
