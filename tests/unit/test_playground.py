"""The Playground library: its points, settings and links, numpy training against torch, the job, frames."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch

from nnviz.playground import export, frames, job, network, store
from nnviz.playground.config import PlaygroundConfig, SettingError, from_dict, from_query, to_dict
from nnviz.playground.data import DATASETS, DataError, generate, read_csv, split
from tests.waiting import wait_until


@pytest.fixture(autouse=True)
def _no_job_left():
    yield
    job.stop_all(timeout=10)


@pytest.mark.parametrize("name", list(DATASETS))
def test_each_set_is_seeded_two_class_and_on_the_plane(name):
    x, y = generate(name, 200, 0.1, seed=3)
    x2, y2 = generate(name, 200, 0.1, seed=3)
    assert x.shape == (200, 2) and y.shape == (200,)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert set(np.unique(y)) == {0.0, 1.0}
    assert np.abs(x).max() < 8
    assert not np.array_equal(x, generate(name, 200, 0.1, seed=4)[0])


def test_split_keeps_the_ratio_and_every_point():
    x, y = generate("spiral", 500, 0.0, 1)
    p = split(x, y, 0.8, 1)
    assert len(p.x_train) == 400 and len(p.x_test) == 100
    assert sorted(map(tuple, np.concatenate([p.x_train, p.x_test]).tolist())) == sorted(map(tuple, x.tolist()))


def test_csv_points_are_read_and_scaled():
    rows = "x1,x2,label\n" + "".join(f"{i},{-i * 2},{'a' if i % 2 else 'b'}\n" for i in range(20))
    x, y = read_csv(rows.encode())
    assert x.shape == (20, 2) and set(y.tolist()) == {0.0, 1.0}
    assert np.isclose(np.abs(x).max(), 5.0)


@pytest.mark.parametrize("raw, words", [
    (b"x1,x2,label\n", "no data rows"),
    (b"1,2\n" * 20, "exactly 3"),
    (b"1,zz,0\n" * 20, "must be numbers"),
    (b"1,nan,0\n" * 20, "finite"),
    (b"1,2,0\n" * 20, "1 distinct value"),
    (b"".join(f"{i},1,{i % 3}\n".encode() for i in range(30)), "3 distinct values"),
    (b"1,2,0\n1,3,1\n", "10 to 2000"),
    (b"\xff\xfe\x00bad", "not text"),
])
def test_bad_csv_gets_one_sentence(raw, words):
    with pytest.raises(DataError, match=words) as err:
        read_csv(raw)
    assert str(err.value).count(". ") == 0 and str(err.value).endswith(".")


def test_config_round_trips_through_a_link_and_json():
    cfg = PlaygroundConfig(dataset="spiral", points=300, noise=0.2, train_ratio=0.7, seed=9,
                           features=("x1", "sinx2"), hidden=(8, 3, 1), activation="relu", regularization="l2",
                           reg_rate=0.003, lr=0.1, batch_size=25, optimizer="adam", epochs=500)
    back, problems = from_query(cfg.to_query())
    assert back == cfg and problems == []
    assert from_dict(to_dict(cfg)) == cfg
    assert from_query(PlaygroundConfig(hidden=()).to_query())[0].hidden == ()


def test_bad_link_parameters_are_named_and_left_at_their_defaults():
    cfg, problems = from_query({"ds": "moons", "n": "lots", "hidden": "4,99", "lr": "-1", "act": "swish"})
    assert cfg.dataset == "moons" and cfg.points == 500 and cfg.hidden == (4, 2) and cfg.lr == 0.03
    assert len(problems) == 4 and all(p.startswith("Link parameter") for p in problems)
    assert any("neuron count" in p for p in problems)


def test_settings_out_of_range_are_refused():
    for bad in ({"hidden": (1,) * 7}, {"features": ()}, {"batch_size": 0}, {"noise": 0.9}, {"features": ("x3",)}):
        with pytest.raises(SettingError):
            PlaygroundConfig(**bad)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear"])
def test_numpy_gradients_and_forward_match_torch(activation):
    cfg = PlaygroundConfig(features=("x1", "x2", "x1x2", "sinx1"), hidden=(5, 3), activation=activation, seed=2)
    weights = network.init_weights(cfg)
    x, y = generate("circle", 40, 0.0, 0)
    inputs = network.features(x, cfg.features)
    loss, grads = network.gradients(weights, activation, inputs, y.astype(np.float64)[:, None])
    model = network.to_torch(weights, cfg).double()
    logits = model(torch.from_numpy(inputs))
    ref = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.from_numpy(y).double()[:, None])
    ref.backward()
    assert np.isclose(loss, float(ref.detach()))
    for (dw, db), layer in zip(grads, network.linear_layers(model)):
        assert np.allclose(dw, layer.weight.grad.numpy()) and np.allclose(db, layer.bias.grad.numpy())
    probs = network.forward(weights, activation, inputs)[-1]
    assert np.allclose(probs, torch.sigmoid(logits).detach().numpy())
    assert np.allclose(network.from_torch(model)[0][0], weights[0][0])


def _points(cfg):
    return split(*generate(cfg.dataset, cfg.points, cfg.noise, cfg.seed), cfg.train_ratio, cfg.seed)


def test_same_config_same_weights_and_resuming_changes_nothing():
    cfg = PlaygroundConfig(dataset="xor", points=100, hidden=(4,), optimizer="sgd", regularization="l1", reg_rate=0.001)
    a, b = network.Trainer(cfg, _points(cfg)), network.Trainer(cfg, _points(cfg))
    for _ in range(4):
        a.epoch()
        b.epoch()
    assert all(np.array_equal(wa, wb) for (wa, _), (wb, _) in zip(a.weights, b.weights))
    c = network.Trainer(cfg, _points(cfg))
    c.epoch()
    c.epoch()
    resumed = network.Trainer(cfg, _points(cfg), c.weights, epoch=2)
    resumed.epoch()
    resumed.epoch()
    assert all(np.array_equal(wa, wr) for (wa, _), (wr, _) in zip(a.weights, resumed.weights))


def test_adam_matches_torch_adam():
    cfg = PlaygroundConfig(dataset="gauss", points=60, hidden=(3,), optimizer="adam", lr=0.05, batch_size=100)
    t = network.Trainer(cfg, _points(cfg))
    model = network.to_torch(t.weights, cfg).double()
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(3):
        t.epoch()  # one full batch per epoch: the same steps as torch's
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(model(torch.from_numpy(t.x_train)),
                                                             torch.from_numpy(t.y_train)).backward()
        opt.step()
    assert np.allclose(network.from_torch(model)[0][0], t.weights[0][0], atol=1e-10)


def test_maps_have_one_byte_per_cell_and_the_output_separates_a_trained_xor():
    cfg = PlaygroundConfig(dataset="xor", points=200, hidden=(4,), lr=0.1)
    t = network.Trainer(cfg, _points(cfg))
    for _ in range(150):
        t.epoch()
    assert t.scores().test_acc >= 0.9
    out = np.frombuffer(network.output_map(t.weights, cfg), np.uint8).reshape(network.OUTPUT_CELLS, -1)
    quarter = network.OUTPUT_CELLS // 4
    assert out[quarter, -quarter] > 200 and out[-quarter, quarter] > 200  # x1*x2 > 0: class 1 (blue)
    assert out[quarter, quarter] < 55 and out[-quarter, -quarter] < 55
    hidden = network.neuron_maps(t.weights, cfg)
    assert [len(layer) for layer in hidden] == [4] and len(hidden[0][0]) == network.NEURON_CELLS ** 2
    assert len(network.feature_maps(cfg)) == 2
    fired = network.point_activations(t.weights, cfg, 3.0, 3.0)
    assert fired["output"] > 0.9 and len(fired["hidden"][0]) == 4


def test_a_job_steps_plays_pauses_resets_and_serves_frames():
    cfg = PlaygroundConfig(dataset="circle", points=100, hidden=(3,), epochs=50)
    j = job.start(cfg, _points(cfg), play=False)
    wait_until(lambda: j.view()["epoch"] == 0 and j.view()["history_len"] == 1, what="the untrained scores")
    j.step(3)
    wait_until(lambda: j.view()["epoch"] == 3 and j.status == "paused", what="three steps")
    first = frames.frame(j)
    assert len(base64.b64decode(first["maps"]["output"])) == network.OUTPUT_CELLS ** 2
    assert [r[0] for r in first["history"]["rows"]] == [0, 1, 2, 3]
    assert "maps" not in frames.frame(j, have_version=first["version"])  # nothing new: no maps resent
    j.play()
    wait_until(lambda: j.status == "finished", what="the last epoch")
    assert j.view()["epoch"] == 50 and (j.dir / "final.pt").is_file()
    replayed = frames.frame(j, replay=2)
    assert replayed["replay"]["epoch"] == 2 and replayed["maps"]["output"] != frames.frame(j)["maps"]["output"]
    j.reset()
    wait_until(lambda: j.view()["epoch"] == 0, what="the reset")
    again = frames.frame(j, history_from=51)  # the browser's rows are from before the reset: all resent
    assert again["history"]["from"] == 0 and len(again["history"]["rows"]) == 1
    assert again["maps"]["output"] == frames.frame(j, replay=0)["maps"]["output"]
    assert frames.frame(j, point=(1.0, 2.0))["point"]["at"] == [1.0, 2.0]


def test_exported_code_predicts_what_the_network_does(tmp_path):
    cfg = PlaygroundConfig(dataset="xor", features=("x1", "x2", "x1x2", "sinx2"), hidden=(3, 2), activation="relu")
    weights = network.init_weights(cfg)
    source = export.pytorch_source(cfg, weights, epoch=7)
    namespace: dict = {}
    exec(compile(source, "exported.py", "exec"), namespace)  # noqa: S102  (our own generated code)
    model = namespace["PlaygroundNet"]()
    model.net.load_state_dict({k: torch.tensor(v) for k, v in namespace["STATE"].items()})
    pts = np.array([[1.0, 2.0], [-3.0, 4.5], [5.0, -0.5]], np.float32)
    expected = network.forward(weights, "relu", network.features(pts, cfg.features))[-1][:, 0]
    assert np.allclose(model(torch.from_numpy(pts)).detach().numpy(), expected, atol=1e-5)


def test_checkpoints_round_trip_and_bad_files_get_one_sentence():
    cfg = PlaygroundConfig(dataset="moons", hidden=(2,), seed=5)
    weights = network.init_weights(cfg)
    back_cfg, back_weights, epoch, points = store.load_checkpoint(store.checkpoint_bytes(cfg, weights, 12))
    assert back_cfg == cfg and epoch == 12 and points is None
    assert np.allclose(back_weights[0][0], weights[0][0], atol=1e-7)
    other = PlaygroundConfig(dataset="moons", hidden=(3,))
    payload = store.checkpoint_payload(cfg, weights, 1)
    payload["config"] = to_dict(other)  # edited: the weights no longer fit the settings
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    for raw, words in ((b"not a torch file", "not a Playground checkpoint"), (buffer.getvalue(), "do not fit")):
        with pytest.raises(store.CheckpointError, match=words):
            store.load_checkpoint(raw)


def test_uploaded_points_are_stored_by_content_and_travel_in_checkpoints():
    rows = "".join(f"{i % 7},{i // 7},{int(i % 7 > 3)}\n" for i in range(49)).encode()
    name = store.store_upload(rows)
    cfg = PlaygroundConfig(dataset="upload", upload=name, hidden=(2,))
    pts = store.points_for(cfg)
    assert len(pts.x_train) + len(pts.x_test) == 49
    _, _, _, back = store.load_checkpoint(store.checkpoint_bytes(cfg, network.init_weights(cfg), 0, pts))
    assert np.array_equal(back.x_test, pts.x_test)
    with pytest.raises(DataError, match="not on this server"):
        store.points_for(cfg.with_(upload="0123456789abcdef"))
