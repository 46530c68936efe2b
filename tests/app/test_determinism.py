"""Same config, same seed, same numbers from the dashboard and the command line: the Classification lab's
Start and `nnviz train` with the flags that rebuild its config write identical histories."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from nnviz.jobs import runs
from nnviz.jobs.run_folder import RunFolder
from tests.unit.test_determinism import numbers

REPO = Path(__file__).resolve().parents[2]


def cli_history(config: dict, runs_dir: Path) -> tuple[dict, list[dict]]:
    """(config, history) of `nnviz train` with flags rebuilt from a dashboard run's config."""
    train, data = config["train"], config["data"]
    cmd = [sys.executable, "-m", "nnviz", "train", "--dataset", data["dataset"], "--model", config["preset"],
           "--epochs", str(train["epochs"]), "--batch-size", str(train["batch_size"]), "--lr", repr(train["lr"]),
           "--optimizer", train["optimizer"], "--weight-decay", repr(train["weight_decay"]),
           "--device", train["device"], "--seed", str(train["seed"]), "--runs-dir", str(runs_dir), "--json"]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr
    folder = RunFolder(json.loads(out.stdout.splitlines()[-1])["run_dir"])
    return json.loads(folder.config_path.read_text()), numbers(folder.history())


def test_the_dashboard_and_the_command_line_train_the_same_numbers(app, nnviz_env):
    app.switch_page("app_pages/classification.py").run()
    app.number_input(key="cls_epochs").set_value(2).run()
    app.button(key="cls_start").click().run()
    assert not app.exception, app.exception
    run = runs.get(app.session_state["run_id:classification"])
    assert run is not None and run.wait(900) and run.status == "finished", run and run.message
    dashboard_config = json.loads(run.folder.config_path.read_text())
    config, history = cli_history(dashboard_config, nnviz_env / "cli_runs")
    assert {k: config[k] for k in ("data", "model", "train")} == \
        {k: dashboard_config[k] for k in ("data", "model", "train")}  # the flags rebuilt the same run
    assert history == numbers(run.folder.history())
    assert len(history) == 3
