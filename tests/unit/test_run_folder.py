"""RunFolder: one owner of a run folder's names; K-fold runs read as fold 1 everywhere."""
from __future__ import annotations

from nnviz.analysis.report import _read
from nnviz.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from nnviz.jobs import runs
from nnviz.jobs.run_folder import RunFolder, of_checkpoint


def _run(kfold: int) -> runs.Run:
    cfg = RunConfig(data=DataConfig(dataset="regression", n_train=40, n_test=20),
                    model=ModelConfig(hidden=(8,)), train=TrainConfig(epochs=3, kfold=kfold, snapshot_every=1))
    run = runs.start(cfg)
    assert run.wait(300) and run.status == "finished", run.message
    return run


def test_a_plain_run_reads_its_own_files():
    run = _run(kfold=0)
    folder = RunFolder(run.dir)
    assert folder.shown_fold() == 0
    assert [r["epoch"] for r in folder.history()] == [0, 1, 2, 3] == [r["epoch"] for r in run.view().history]
    assert [e for e, _ in folder.epoch_files()] == [0, 1, 2, 3]
    assert folder.fold_checkpoints() == [] and folder.final_checkpoint == run.dir / "final.pt"
    assert of_checkpoint(folder.final_path).id == run.id


def test_a_kfold_run_is_read_as_fold_1_by_every_reader():
    run = _run(kfold=3)
    folder = RunFolder(run.dir)
    assert folder.shown_fold() == 1
    fold1 = folder.history(fold=1)
    assert fold1 and all(r["fold"] == 1 for r in fold1)
    assert folder.history() == fold1 == runs.read_view(run.dir).history  # the folder's view, as the live view
    assert [r["epoch"] for r in run.view().history] == [r["epoch"] for r in fold1]
    assert folder.history(fold=2) and folder.history(fold=2) != fold1
    assert [e for e, _ in folder.epoch_files()] == [0, 1, 2, 3]
    assert all("_f1_" in p.name for _, p in folder.epoch_files())
    assert folder.epoch_weights(0) is not None
    assert [k for k, _ in folder.fold_checkpoints()] == [1, 2, 3]
    assert folder.batch_losses() == folder.batch_losses(fold=1)
    report_run = _read(run.dir)
    assert report_run.view.batch_losses == folder.batch_losses() and set(report_run.view.snapshots) == set(folder.snapshots())
