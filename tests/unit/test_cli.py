"""nnviz.cli: `python -m nnviz train | eval | download`, as a user runs it (subprocess) and in-process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nnviz import cli
from nnviz.config import DataConfig, RunConfig
from nnviz.model import checkpoints
from nnviz.model.models import PRESETS
from tests.unit.fixtures_data import write_mnist_like

REPO = Path(__file__).resolve().parents[2]


def nnviz(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    """Run `python -m nnviz ARGS` from the repository root with the test's NNVIZ_* folders."""
    full_env = {**os.environ, **env, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "nnviz", *args], cwd=REPO, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def env(nnviz_dirs) -> dict[str, str]:
    return {"NNVIZ_RUNS_DIR": str(nnviz_dirs["runs"]), "NNVIZ_DATA_DIR": str(nnviz_dirs["data"]),
            "NNVIZ_CHECKPOINT_DIR": str(nnviz_dirs["checkpoints"])}


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_train_regression_json(env, nnviz_dirs):
    result = nnviz("train", "--dataset", "regression", "--epochs", "3", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = json_lines(result.stdout)
    epochs, final = lines[:-1], lines[-1]
    assert [row["epoch"] for row in epochs] == [0, 1, 2, 3]
    assert all({"train_loss", "val_loss", "test_loss", "lr"} <= set(row) for row in epochs)
    assert final["status"] == "finished" and final["epochs"] == 3
    run_dir = Path(final["run_dir"])
    assert run_dir.parent == nnviz_dirs["runs"] and run_dir.is_dir()
    assert Path(final["checkpoint"]) == run_dir / "final.pt"
    ckpt = checkpoints.load(final["checkpoint"])
    assert ckpt.task == "regression" and ckpt.config.preset == "regressor" and ckpt.config.train.epochs == 3
    assert isinstance(final["seconds"], float) and final["seconds"] >= 0
    assert final["test_mse"] == epochs[-1]["test_loss"]
    assert final["test_mse"] < epochs[0]["test_loss"]


def test_eval_reproduces_the_training_test_accuracy(env, nnviz_dirs):
    trained = nnviz("train", "--dataset", "digits", "--max-steps", "5", "--epochs", "1", "--json", env=env)
    assert trained.returncode == 0, trained.stderr
    final = json_lines(trained.stdout)[-1]
    assert final["status"] == "finished" and 0 <= final["test_accuracy"] <= 1
    evaluated = nnviz("eval", final["checkpoint"], "--json", env=env)
    assert evaluated.returncode == 0, evaluated.stderr
    out = json.loads(evaluated.stdout)
    assert out["dataset"] == "digits" and out["n_test"] == 359
    assert out["test_accuracy"] == pytest.approx(final["test_accuracy"], abs=1e-9)
    assert out["test_loss"] == pytest.approx(final["test_loss"], rel=1e-5)


def test_missing_image_set_is_one_clear_paragraph(env, nnviz_dirs, tmp_path):
    empty = tmp_path / "empty-data"
    empty.mkdir()
    result = nnviz("train", "--dataset", "mnist", "--data-dir", str(empty), env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stdout == ""
    message = result.stderr.strip()
    assert message.startswith("nnviz: ") and "\n" not in message
    assert str(empty.resolve()) in message and "python -m nnviz download mnist" in message
    assert not nnviz_dirs["runs"].exists() or not any(nnviz_dirs["runs"].iterdir())  # failed before a run folder


# --- in-process: argument errors and small paths, without a new interpreter each ---

def test_unknown_preset_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--dataset", "regression", "--model", "no-such-preset"])
    assert info.value.code == 2
    assert "no-such-preset" in capsys.readouterr().err


def test_preset_for_the_other_task_exits_2(capsys):
    assert cli.main(["train", "--dataset", "regression", "--model", "lenet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnviz: ") and "classification" in err


@pytest.mark.parametrize("args, needle", [
    (["--dataset", "regression", "--lr", "nan"], "finite"),
    (["--dataset", "regression", "--epochs", "-1"], "epochs"),
    (["--dataset", "no_such_set"], "unknown dataset"),
    (["--dataset", "missing.csv"], "Cannot read the CSV file"),
])
def test_bad_train_arguments_exit_2_with_a_message(capsys, args, needle):
    assert cli.main(["train", *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_train_on_a_csv_file(capsys, tmp_path):
    csv = tmp_path / "points.csv"
    csv.write_text("x,y\n" + "".join(f"{i / 10},{(i / 10) ** 2}\n" for i in range(-20, 21)))
    code = cli.main(["train", "--dataset", str(csv), "--epochs", "2", "--json", "--runs-dir", str(tmp_path / "r")])
    assert code == 0
    lines = json_lines(capsys.readouterr().out)
    assert [row["epoch"] for row in lines[:-1]] == [0, 1, 2]
    assert Path(lines[-1]["run_dir"]).parent == tmp_path / "r"
    assert checkpoints.load(lines[-1]["checkpoint"]).config.data.csv_path == str(csv)


def test_eval_of_a_broken_checkpoint_exits_2(capsys, tmp_path):
    good = checkpoints.save(tmp_path / "good.pt", torch.nn.Sequential(torch.nn.Linear(1, 1)),
                            RunConfig(data=DataConfig(dataset="regression")), task="regression", input_shape=(1,),
                            n_outputs=1)
    broken = tmp_path / "broken.pt"
    broken.write_bytes(good.read_bytes()[:300])
    assert cli.main(["eval", str(broken)]) == 2
    assert "truncated" in capsys.readouterr().err
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    assert cli.main(["eval", str(junk)]) == 2
    assert "Only checkpoints saved by nnviz" in capsys.readouterr().err
    assert cli.main(["eval", str(tmp_path / "absent.pt")]) == 2
    assert "No checkpoint" in capsys.readouterr().err


def test_download_of_a_present_set_needs_no_network(capsys, tmp_path):
    write_mnist_like(tmp_path, "mnist")
    assert cli.main(["download", "mnist", "--data-dir", str(tmp_path)]) == 0
    assert str(tmp_path.resolve()) in capsys.readouterr().err


def test_build_config_applies_overrides():
    args = cli.parser().parse_args(["train", "--dataset", "regression", "--epochs", "7", "--lr", "0.5",
                                    "--optimizer", "sgd", "--seed", "4", "--max-steps", "2", "--device", "cpu"])
    cfg = cli.build_config(args)
    assert cfg.preset == "regressor" and cfg.model == PRESETS["regressor"].model
    t = cfg.train
    assert (t.epochs, t.lr, t.optimizer, t.seed, t.max_steps, t.device) == (7, 0.5, "sgd", 4, 2, "cpu")
    assert t.batch_size == PRESETS["regressor"].train.batch_size  # not overridden: the preset's
    assert cfg.data.dataset == "regression" and cfg.data.seed == 4
