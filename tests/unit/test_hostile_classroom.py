"""A hostile classroom, library and CLI side: crafted checkpoints, disk trouble and odd numbers and names.

Each failure must give one sentence (the CLI: one line on stderr and exit status 2), leave no
half-written file behind, and never reach a user as a traceback.
"""
from __future__ import annotations

import errno
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nnviz import cli, security
from nnviz.config import ConfigError, DataConfig, ModelConfig, RunConfig, TrainConfig
from nnviz.data import DATASETS
from nnviz.jobs import runs, storage
from nnviz.model import checkpoints
from nnviz.model.checkpoint_meta import MetaError, check_meta
from tests.unit.test_bad_checkpoints import DIGITS, META, _good_bytes
from tests.unit.test_bad_checkpoints import edited_meta as _with_meta

ROOT = Path(__file__).resolve().parents[2]
REGRESSION = RunConfig(data=DataConfig(dataset="regression", n_train=32, n_test=16), model=ModelConfig(hidden=(4,)),
                       train=TrainConfig(device="cpu", epochs=2, snapshot_every=0))


CRAFTED = {  # the three, and their cousins
    "accuracy as text": (lambda m: m["metrics"].update(test_acc="97%"), "metrics.test_acc must be a number"),
    "negative outputs": (lambda m: m.update(n_outputs=-3), "output count must be in 1..10,000, not -3"),
    "text history epoch": (lambda m: m["history"].update(epochs=[{"epoch": "one", "loss": 1.0}]),
                           "history row 0.epoch must be a number"),
    "text snapshot key": (lambda m: m["history"].update(snapshots={"last": {"test_pred": [], "test_conf": []}}),
                          "is not an epoch number"),
    "classes for another set": (lambda m: m.update(classes=["cat"] * 10, n_outputs=11), "output count is 11"),
    "huge input": (lambda m: m.update(input_shape=[1, 10**9, 28]), "input shape must be in 1..4,096"),
    "nan mean": (lambda m: m.update(mean=[float("nan")]), "mean must be a finite number"),
    "zero std": (lambda m: m.update(std=[0.0]), "std must be positive"),
    "extra key": (lambda m: m.update(owner="me"), "unknown field(s) 'owner'"),
    "missing task": (lambda m: m.pop("task"), "lacks task"),
    "task mismatch": (lambda m: m.update(task="regression"), "task is 'regression' but its settings"),
}


@pytest.mark.parametrize("case", list(CRAFTED))
def test_a_crafted_meta_is_refused_by_upload_load_and_eval_with_one_sentence(case, tmp_path, capsys):
    change, needle = CRAFTED[case]
    raw = _with_meta(change)
    with pytest.raises(checkpoints.CheckpointError, match=None) as info:
        checkpoints.check_upload(raw, "classification", tuple(DATASETS))
    assert needle in str(info.value) and "\n" not in str(info.value)
    path = tmp_path / "crafted.pt"
    path.write_bytes(raw)
    with pytest.raises(checkpoints.CheckpointError):
        checkpoints.load(path)
    assert cli.main(["eval", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_a_bad_file_in_the_folder_is_listed_as_unreadable_and_skipped():
    folder = checkpoints.user_dir()
    folder.mkdir(parents=True)
    (folder / "good.pt").write_bytes(_good_bytes())
    (folder / "bad.pt").write_bytes(_with_meta(lambda m: m["metrics"].update(test_acc="97%")))
    (folder / "wrong_weights.pt").write_bytes(_good_bytes(model=torch.nn.Sequential(torch.nn.Linear(784, 10))))
    usable = {c.name for c in checkpoints.list_checkpoints()}
    assert "good" in usable and not usable & {"bad", "wrong_weights"}
    listed = {c.name: c.error for c in checkpoints.list_checkpoints(unreadable=True) if c.kind == "saved"}
    assert listed["good"] == "" and "metrics.test_acc" in listed["bad"] and "do not fit" in listed["wrong_weights"]


def test_nan_weights_are_refused_on_upload():
    model = torch.nn.Sequential()
    from nnviz.model.models import build_model
    model = build_model(DIGITS.model, (1, 28, 28), 10)
    with torch.no_grad():
        next(model.parameters()).fill_(math.nan)
    with pytest.raises(checkpoints.CheckpointError, match="NaN or infinite"):
        checkpoints.check_upload(_good_bytes(model=model), "classification", tuple(DATASETS))


def test_save_refuses_to_write_what_load_would_refuse(tmp_path):
    from nnviz.model.models import build_model
    model = build_model(DIGITS.model, (1, 28, 28), 10)
    with pytest.raises(checkpoints.CheckpointError, match="output count"):
        checkpoints.save(tmp_path / "x.pt", model, DIGITS, **{**META, "n_outputs": -3})
    assert not list(tmp_path.iterdir())


def test_deeply_nested_meta_is_refused_without_a_recursion_error():
    with pytest.raises(MetaError, match="not valid JSON"):
        from nnviz.model.checkpoint_meta import parse_meta
        parse_meta('{"config": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(MetaError, match="must be a mapping"):
        check_meta([1])


def test_free_names_keep_both():
    first = checkpoints.free_user_path("名前")
    assert first.name == "名前.pt"
    first.parent.mkdir(parents=True)
    first.write_bytes(b"x")
    assert checkpoints.free_user_path("名前").name == "名前_2.pt"


# --- messages of point 6 -----------------------------------------------------------------------

def test_cli_eval_of_a_text_file_says_it_is_not_a_checkpoint(capsys):
    assert cli.main(["eval", str(ROOT / "README.md")]) == 2
    err = capsys.readouterr().err
    assert "not a PyTorch checkpoint" in err and "run code" not in err


def test_cli_eval_json_of_a_nan_model_is_strict_json(tmp_path, capsys):
    from nnviz.model.models import build_model
    model = build_model(DIGITS.model, (1, 28, 28), 10)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(math.nan)
    path = checkpoints.save(tmp_path / "nan.pt", model, DIGITS, **META)
    assert cli.main(["eval", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"non-standard JSON: {c}"))
    assert out["test_loss"] is None


@pytest.mark.parametrize("args, needle", [
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--lr", "0"], "--lr must be a positive number"),
    (["--batch-size", "10000000"], "batch_size must be in 1..1000000; got 10000000"),
])
def test_cli_refuses_runs_that_train_nothing(args, needle, capsys, tmp_path):
    assert cli.main(["train", "--dataset", "regression", "--runs-dir", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())  # no run folder was made


def test_cli_runs_dir_that_is_a_file_gives_one_line(tmp_path, capsys):
    target = tmp_path / "not_a_folder"
    target.write_text("x")
    assert cli.main(["train", "--dataset", "regression", "--epochs", "1", "--runs-dir", str(target)]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and err.count("\n") == 1 and "Traceback" not in err


def test_path_name_errors_keep_their_backslash_when_shown_as_markdown():
    with pytest.raises(security.UnsafeName) as info:
        security.check_name("C:\\x", "checkpoint name")
    shown = security.markdown_safe(str(info.value))
    assert "'\\\\'" in shown and "C:\\\\x" in shown  # each backslash escaped once: Markdown shows one


def test_csv_values_that_overflow_float32_are_refused():
    from nnviz.data import CsvError
    from nnviz.data.regression import read_xy_csv
    with pytest.raises(CsvError, match="beyond"):
        read_xy_csv(b"x,y\n1,2\n2,1e308\n3,4\n4,5\n5,6\n")


# --- disk trouble --------------------------------------------------------------------------------

def _full_disk(fh, data):  # the seam every write goes through, as a disk with no space left
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp") or (p.is_file() and p.stat().st_size == 0)]


@pytest.mark.parametrize("code, says", [(errno.ENOSPC, "is full"), (errno.EROFS, "is read-only"),
                                         (errno.EACCES, "is read-only")])
def test_a_full_or_read_only_disk_at_start_leaves_no_run_folder_and_says_so(tmp_path, monkeypatch, code, says):
    def fails(fh, data):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(storage, "write_bytes", fails)
    with pytest.raises(OSError) as info:
        runs.start(REGRESSION, tmp_path)
    assert list(tmp_path.iterdir()) == []  # no 0-byte config.json, no phantom 'unknown' run
    assert says in storage.disk_problem(info.value, tmp_path)


def test_a_disk_that_fills_mid_run_fails_the_run_with_a_sentence_and_names_no_missing_file(tmp_path, monkeypatch,
                                                                                           capsys):
    real = storage.write_bytes

    def fills_at_checkpoints(fh, data):  # the small JSON lines fit, a checkpoint does not
        if len(data) > 4096:
            _full_disk(fh, data)
        real(fh, data)

    monkeypatch.setattr(storage, "write_bytes", fills_at_checkpoints)
    assert cli.main(["train", "--dataset", "regression", "--epochs", "2", "--json", "--runs-dir", str(tmp_path)]) == 1
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["status"] == "failed" and "is full" in summary["message"] and "enforce fail" not in summary["message"]
    assert summary["checkpoint"] is None and not list(tmp_path.rglob("final.pt"))
    assert _leftovers(tmp_path) == []


def test_cli_with_no_room_to_write_gives_one_line_and_leaves_nothing(tmp_path):
    """A real full disk, without root: the file-size limit set to 0 makes every write fail (EFBIG)."""
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0)); from nnviz import cli; "
            f"sys.exit(cli.main(['train', '--dataset', 'regression', '--epochs', '1', '--runs-dir', {str(tmp_path)!r}]))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1",
                                     PYTHONWARNINGS="ignore"))  # joblib warns that it cannot probe /dev/shm
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "is full" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_leftovers_are_cleaned_at_start_up(tmp_path):
    old = 1_000_000_000  # long ago
    half = tmp_path / "20250101-120000-digits-abcdef"  # config.json, never a status: a start that died
    half.mkdir()
    (half / "config.json").write_text("{}")
    whole = tmp_path / "20250101-120001-digits-123456"
    (whole / "weights").mkdir(parents=True)
    for name in ("config.json", "status.json"):
        (whole / name).write_text("{}")
    tmp = whole / "weights" / ".epoch_0001.pt.x1.tmp"
    tmp.write_bytes(b"half")
    uploads = tmp_path / "uploads"  # not a run folder: kept
    uploads.mkdir()
    for p in (half, half / "config.json", whole, tmp, uploads):
        os.utime(p, (old, old))
    assert runs.clean_leftovers(tmp_path) == 1
    assert not half.exists() and whole.exists() and not tmp.exists() and uploads.exists()


def test_passcode_guesses_are_counted_per_address_in_a_window():
    now = [0.0]
    ledger = security.ClientLedger(30.0, clock=lambda: now[0])
    for _ in range(5):
        ledger.add("10.0.0.7")
    assert ledger.wait_s("10.0.0.7", 5) == pytest.approx(30.0) and ledger.wait_s("10.0.0.8", 5) == 0
    now[0] = 31.0
    assert ledger.wait_s("10.0.0.7", 5) == 0 and ledger.count("10.0.0.7") == 0


def test_config_batch_size_message_names_the_real_cap():
    with pytest.raises(ConfigError, match=r"in 1\.\.1000000; got 10000000"):
        TrainConfig(batch_size=10_000_000)


def test_an_exclusive_write_never_replaces_a_file_that_appeared_meanwhile(tmp_path):
    target = tmp_path / "mine.pt"
    target.write_bytes(b"someone else's save")
    with pytest.raises(FileExistsError):
        storage.atomic_write_bytes(target, b"my save", exclusive=True)
    assert target.read_bytes() == b"someone else's save" and sorted(p.name for p in tmp_path.iterdir()) == ["mine.pt"]
    storage.atomic_write_bytes(tmp_path / "new.pt", b"my save", exclusive=True)
    assert (tmp_path / "new.pt").read_bytes() == b"my save"
