"""The HTML report in a real browser with no network: every figure renders from the inline plotly.js."""
from __future__ import annotations

import pytest

from nnviz.analysis import report
from nnviz.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from nnviz.jobs import runs

from .conftest import SCREENSHOTS

pytestmark = pytest.mark.e2e

VIEWPORTS = [(1280, 720), (1920, 1080)]


@pytest.fixture(scope="module")
def report_files(tmp_path_factory) -> dict[str, tuple]:
    """A one-run report (regression) and a comparison report (two digits runs), written to files."""
    root = tmp_path_factory.mktemp("report_runs")
    configs = [RunConfig(DataConfig(dataset="regression"), ModelConfig(hidden=(16, 16), activation="tanh"),
                         TrainConfig(device="cpu", epochs=20), name="regression, tanh"),
               RunConfig(DataConfig(dataset="digits"), ModelConfig(hidden=(32,), activation="relu"),
                         TrainConfig(device="cpu", epochs=3, max_steps=6), name="digits, adam"),
               RunConfig(DataConfig(dataset="digits"), ModelConfig(hidden=(32,), activation="relu"),
                         TrainConfig(device="cpu", epochs=3, max_steps=6, optimizer="sgd", lr=1.0), name="digits, sgd 1.0")]
    started = [runs.start(c, root) for c in configs]
    for run in started:
        assert run.wait(180) and run.status == "finished", run.message
    out = tmp_path_factory.mktemp("reports")
    single = report.write_report([started[0].dir], out / "single.html")
    compare = report.write_report([r.dir for r in started[1:]], out / "compare.html")
    return {"single": (single, 5), "compare": (compare, 2 + 6 + 6)}


@pytest.mark.parametrize("name", ["single", "compare"])
@pytest.mark.parametrize("viewport", VIEWPORTS, ids=lambda v: f"{v[0]}x{v[1]}")
def test_report_renders_offline(browser, report_files, name, viewport):
    path, n_figures = report_files[name]
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, offline=True)
    requested: list[str] = []

    def only_the_file(route) -> None:  # anything but the file itself would need a network
        requested.append(route.request.url)
        route.continue_() if route.request.url.startswith("file:") else route.abort()

    context.route("**/*", only_the_file)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(path.as_uri())
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {n_figures}",
                               timeout=30_000)
        assert page.locator(".js-plotly-plot").count() == n_figures
        assert page.locator(".js-plotly-plot .scatterlayer .trace, .js-plotly-plot .heatmaplayer image").count() > 0
        assert errors == [] and [u for u in requested if not u.startswith("file:")] == []
        assert page.locator(".finding").count() >= 1  # the diagnostics are there
        assert page.locator("pre code", has_text="class Net(nn.Module)").count() >= 1
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"report_{name}_{viewport[0]}x{viewport[1]}.png"))
        page.screenshot(path=str(SCREENSHOTS / f"report_{name}_{viewport[0]}x{viewport[1]}_full.png"), full_page=True)
    finally:
        context.close()
