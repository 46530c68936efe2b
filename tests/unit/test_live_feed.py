"""nnviz.ui.live_feed: the JSON frames the live views poll while runs train."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
from starlette.requests import Request

from nnviz.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from nnviz.jobs import runs
from nnviz.ui import live_feed
from tests.waiting import GENEROUS_S, wait_until


def cls_config(epochs: int = 2) -> RunConfig:
    return RunConfig(data=DataConfig(dataset="digits"), model=ModelConfig(hidden=(16,)), name="feed",
                     train=TrainConfig(device="cpu", epochs=epochs, batch_size=64, snapshot_every=1))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished 2-epoch digits run of this process, with test-set snapshots."""
    run = runs.start(cls_config(), tmp_path_factory.mktemp("runs"))
    assert run.wait(120)
    return run


def _get(path: str, query: str = "") -> tuple[int, dict, dict]:
    run_id = path.removeprefix(live_feed.RUN_PATH)
    scope = {"type": "http", "method": "GET", "path": path, "query_string": query.encode(), "headers": [],
             "path_params": {"run_id": run_id} if path.startswith(live_feed.RUN_PATH) else {}}
    route = live_feed._run_route if path.startswith(live_feed.RUN_PATH) else live_feed._activity_route
    response = route(Request(scope))
    return response.status_code, json.loads(response.body), dict(response.headers)


def test_the_routes_are_the_feeds_the_views_poll():
    paths = {route.path for route in live_feed.ROUTES}
    assert paths == {live_feed.RUN_PATH + "{run_id:str}", live_feed.ACTIVITY_PATH}


def test_a_finished_run_has_its_curves_final_status_and_strip(finished):
    status, frame, headers = _get(live_feed.RUN_PATH + finished.id, "picks=0,5,9999,x")
    assert status == 200 and headers["cache-control"] == "no-store"  # a poll must never be served stale
    assert frame["status"] == "finished" and frame["active"] is False and frame["text"].startswith("Finished")
    assert frame["fraction"] == 1.0 and frame["epochs"] == 3  # epoch 0 (untrained) and two epochs
    for chart, title in (("loss", "Loss"), ("acc", "Accuracy")):
        assert frame[chart]["svg"].startswith("<svg") and f">{title}</text>" in frame[chart]["svg"]
    strip = frame["strip"]
    snap = finished.view().snapshots[2]
    assert strip["epoch"] == 2 and strip["picks"] == [0, 5]  # out-of-range and non-numeric picks dropped
    assert strip["pred"] == [snap["test_pred"][0], snap["test_pred"][5]]
    assert strip["conf"] == [snap["test_conf"][0], snap["test_conf"][5]]


def test_a_chart_the_client_holds_is_not_sent_again(finished):
    _, first, _ = _get(live_feed.RUN_PATH + finished.id)
    _, again, _ = _get(live_feed.RUN_PATH + finished.id, f"loss={first['loss']['key']}&acc=stale")
    assert again["loss"] == {"key": first["loss"]["key"]}
    assert again["acc"]["svg"] == first["acc"]["svg"]


def test_the_loss_chart_changes_with_every_logged_batch_the_accuracy_chart_per_epoch(finished):
    view = finished.view()
    more = dataclasses.replace(view, copied_batch_losses=view.batch_losses + [(2.5, 0.1)])
    before, after = live_feed.run_frame(view, {}, []), live_feed.run_frame(more, {}, [])
    assert before["loss"]["key"] != after["loss"]["key"] and before["acc"]["key"] == after["acc"]["key"]
    assert "strip" not in before  # no picks asked for


def test_a_run_this_server_does_not_know_ends_the_live_view():
    status, frame, _ = _get(live_feed.RUN_PATH + "20260101-000000-digits-000000")
    assert status == 404 and frame == {"status": "unknown", "active": False}


def test_a_run_that_has_not_finished_an_epoch_shows_progress_only(finished):
    view = dataclasses.replace(finished.view(), history=[], status="running", progress=runs.Progress())  # as it starts
    frame = live_feed.run_frame(view, {}, [0])
    assert frame["active"] is True and frame["epochs"] == 0 and frame["text"].startswith("Starting")
    assert not {"loss", "acc", "strip"} & set(frame)


def test_activity_lists_a_training_run_and_nothing_once_it_ends(tmp_path):
    run = runs.start(cls_config(epochs=200), tmp_path)
    try:
        mine = wait_until(lambda: [i for i in live_feed.activity() if i["text"].startswith("digits · custom: epoch")],
                          interval=0.01, what="the run in the activity list")
        assert mine and 0.0 <= mine[0]["fraction"] <= 1.0 and mine[0]["icon"] == "play_arrow"
        # its line links to the classification lab following it
        assert mine[0]["follow"] == {"slot": "classification", "run": run.id,
                                     "href": f"classification?classification_run={run.id}"}
    finally:
        run.stop()
        assert run.wait(GENEROUS_S)
    status, frame, _ = _get(live_feed.ACTIVITY_PATH)
    assert status == 200 and frame == {"items": [], "active": False}


def test_picks_are_capped():
    assert live_feed._picks(",".join(str(i) for i in range(500))) == list(range(live_feed.MAX_PICKS))
    assert live_feed._picks("3, 4,-1,2.5,,7") == [3, 4, 7]


def test_the_server_warms_the_first_runs_imports():
    code = ("import sys; from nnviz.training.train import warm_up; assert 'torch._dynamo' not in sys.modules; warm_up(); "
            "assert 'torch._dynamo' in sys.modules; import torch; assert torch.get_num_threads() > 0")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_a_diverging_run_raises_the_alarm_while_it_trains(finished, tmp_path):
    _, healthy, _ = _get(live_feed.RUN_PATH + finished.id)
    assert "alarm" not in healthy
    cfg = RunConfig(data=DataConfig(dataset="digits"), model=ModelConfig(hidden=(16,)), name="feed",
                    train=TrainConfig(device="cpu", epochs=50, batch_size=64, optimizer="adam", lr=100.0))
    run = runs.start(cfg, tmp_path, epochs_per_s=0.001)  # slow motion holds it after each epoch: still running
    wait_until(lambda: len(run.view().history) >= 2 or not run.active, what="epoch 1 at lr 100")
    _, frame, _ = _get(live_feed.RUN_PATH + run.id)
    assert frame["alarm"].startswith("Training diverged at epoch 1") and "(100)" in frame["alarm"]
    run.stop()
    assert run.wait(GENEROUS_S)
