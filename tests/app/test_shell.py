"""AppTest: the shell and every page render on the embedded defaults without an exception."""
from __future__ import annotations

import pytest

from nnviz.jobs import sweeps
from tests.app.conftest import live_data

PAGES = ["app_pages/home.py", "app_pages/regression.py", "app_pages/classification.py", "app_pages/inside.py",
         "app_pages/explain.py", "app_pages/draw.py", "app_pages/experiments.py"]


def test_home_lists_device_datasets_and_shipped_checkpoints(app):
    assert not app.exception
    assert any("nnviz" in t.value for t in app.title)
    labels = [m.label for m in app.metric]
    assert labels == ["Device", "Datasets present", "Checkpoints"]
    assert app.metric[1].value.startswith("4 of")  # only the embedded sets and the class set in an empty data dir
    tables = [df.value for df in app.dataframe]
    assert "digits_cnn" in set(tables[1]["name"])
    assert "Device:" in app.sidebar.caption[0].value


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(app, page):
    app.switch_page(page).run()
    assert not app.exception, app.exception
    assert app.title, f"{page} has no title"


def test_sidebar_shows_a_sweep_training(app):
    job = sweeps.start_sweep("optimizers", "digits", epochs=50)  # long enough to be training when the page runs
    try:
        app.run()
        items = live_data(app.sidebar, "nnviz-live-activity")["frame"]["items"]
        assert any(sweeps.SWEEPS["optimizers"].title in i["text"] and f"0/{job.total} points" in i["text"]
                   and i["fraction"] == 0 for i in items), items
    finally:
        job.stop()
        job.wait(10)
