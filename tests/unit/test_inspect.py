"""nnviz.analysis.inspect: hook captures against a manual forward, hook hygiene, filters, statistics, weight history."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from torch import nn

from nnviz.analysis import inspect
from nnviz.config import ModelConfig
from nnviz.jobs.run_folder import RunFolder, of_checkpoint
from nnviz.model.models import PRESETS, build_model, summarize

SHAPE = (1, 28, 28)


def _model(preset: str = "fast_cnn", seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    model = build_model(PRESETS[preset].model, SHAPE, 10)
    for m in model.modules():  # non-trivial BN statistics, so eval vs train mode would differ
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def _manual(model: nn.Sequential, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The trusted reference: run the children one by one and keep every intermediate output."""
    out = {}
    with torch.no_grad():
        for name, module in model.named_children():
            x = module(x)
            out[name] = x.clone()
    return out


@pytest.mark.parametrize("preset", ["fast_cnn", "lenet", "mlp_dropout"])
def test_capture_matches_a_manual_forward_through_the_sub_modules(preset):
    model = _model(preset)
    x = torch.randn(5, *SHAPE)
    names = [n for n, _ in model.named_children()]
    reference = _manual(model, x)
    with inspect.capture(model, x, names) as cap:
        for name in names:
            torch.testing.assert_close(cap[name], reference[name], rtol=1e-5, atol=1e-6)
            assert cap[name].device.type == "cpu" and not cap[name].requires_grad
        torch.testing.assert_close(cap.output, reference[names[-1]])
    maps = inspect.feature_maps(model, x, ["conv1", "act1"] if preset != "mlp_dropout" else ["fc1", "act_fc1"])
    for name, value in maps.items():
        np.testing.assert_allclose(value, reference[name].numpy(), rtol=1e-5, atol=1e-6)


def test_capture_without_input_records_the_callers_forward():
    model = _model()
    x = torch.randn(2, *SHAPE)
    with inspect.capture(model, layer_names=["pool2"]) as cap:
        assert cap.outputs == {}
        with torch.no_grad():
            model(x)
    torch.testing.assert_close(cap["pool2"], _manual(model, x)["pool2"])


def test_captured_outputs_are_copies():
    model = _model()
    x = torch.randn(1, *SHAPE)
    with inspect.capture(model, x, ["act1"]) as cap:
        cap["act1"].fill_(123.0)
    with inspect.capture(model, x, ["act1"]) as again:
        assert again["act1"].max() < 123.0


def test_no_hooks_are_left_after_100_captures():
    model = _model()
    x = torch.randn(2, *SHAPE)
    names = [n for n, _ in model.named_children()]
    for i in range(100):
        with inspect.capture(model, x, names[i % len(names):]) as cap:
            assert inspect.count_hooks(model) == len(names[i % len(names):])
            assert cap.outputs
    assert inspect.count_hooks(model) == 0
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())  # noqa: SLF001


def test_hooks_are_removed_when_the_forward_raises_or_a_name_is_unknown():
    model = _model()
    with pytest.raises(RuntimeError):
        with inspect.capture(model, torch.randn(2, 3, 28, 28), ["conv1", "act3"]):  # wrong channel count
            pass
    assert inspect.count_hooks(model) == 0
    with pytest.raises(ValueError, match="boom"):
        with inspect.capture(model, torch.randn(1, *SHAPE), ["conv1"]):
            raise ValueError("boom")
    assert inspect.count_hooks(model) == 0
    with pytest.raises(KeyError, match="nope"):
        inspect.capture(model, None, ["conv1", "nope"])
    assert inspect.count_hooks(model) == 0


def test_capture_keeps_train_mode_and_batch_norm_statistics():
    model = _model().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(4, *SHAPE)
    with inspect.capture(model, x, ["bn1"]) as cap:
        pass
    assert model.training
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k])
    torch.testing.assert_close(cap["bn1"], _manual(model.eval(), x)["bn1"])  # the eval-mode output


def test_capture_ignores_forwards_from_other_threads():
    model = _model()
    mine, theirs = torch.zeros(1, *SHAPE), torch.ones(3, *SHAPE)
    with inspect.capture(model, layer_names=["conv1"]) as cap:
        t = threading.Thread(target=lambda: model(theirs))
        with torch.no_grad():
            t.start()
            t.join()
            assert "conv1" not in cap.outputs
            model(mine)
    assert cap["conv1"].shape[0] == 1


def test_layers_kinds_and_shapes_agree_with_summarize():
    model = _model()
    infos = inspect.layers(model, SHAPE)
    rows = summarize(model, SHAPE)
    assert [(i.name, i.output_shape) for i in infos] == [(r.name, r.output_shape) for r in rows]
    kinds = {i.name: i.kind for i in infos}
    assert kinds["conv1"] == "conv" and kinds["bn1"] == "bn" and kinds["act1"] == "act"
    assert kinds["pool1"] == "pool" and kinds["out"] == "dense" and kinds["flatten"] == "other"
    assert "flatten" not in [i.name for i in inspect.inspectable(infos)]
    assert inspect.count_hooks(model) == 0


def test_filters_parameters_and_first_layer_images():
    cnn, mlp = _model(), _model("mlp_dropout")
    w = inspect.conv_filters(cnn, "conv2")
    assert w.shape == (32, 16, 3, 3)
    np.testing.assert_array_equal(w, cnn.conv2.weight.detach().numpy())
    with pytest.raises(ValueError, match="not a conv layer"):
        inspect.conv_filters(cnn, "bn1")
    assert list(inspect.conv_layers(cnn)) == ["conv1", "conv2", "conv3"]
    params = inspect.layer_parameters(mlp)
    assert list(params) == ["fc1", "fc2", "fc3", "out"]
    assert set(params["fc1"]) == {"weight", "bias"} and params["fc1"]["weight"].shape == (256, 784)
    images = inspect.first_layer_images(mlp, SHAPE)
    assert images.shape == (256, 1, 28, 28)
    np.testing.assert_array_equal(images[7, 0], mlp.fc1.weight[7].detach().numpy().reshape(28, 28))
    assert inspect.first_layer_images(cnn, SHAPE) is None


def test_activation_statistics_dead_relus_and_saturation():
    model = nn.Sequential()
    model.add_module("fc", nn.Linear(2, 4))
    model.add_module("relu", nn.ReLU())
    model.add_module("fc2", nn.Linear(4, 2))
    model.add_module("sig", nn.Sigmoid())
    with torch.no_grad():
        model.fc.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        model.fc.bias.copy_(torch.tensor([-1.0, 0.0, 0.0, 0.0]))  # unit 0 is always -1: dead
        model.fc2.weight.copy_(torch.tensor([[100.0, 100, 100, 100], [0, 0, 0, 0]]))
        model.fc2.bias.copy_(torch.tensor([0.0, 0.0]))
    x = torch.rand(300, 2) + 0.1  # positive inputs: units 1-3 always fire
    rows = {r["layer"]: r for r in inspect.activation_stats(model.eval(), x, batch_size=64)}
    relu = rows["relu"]
    assert relu["units"] == 4 and relu["dead_fraction"] == pytest.approx(0.25)
    assert relu["zero_fraction"] == pytest.approx(0.25)
    ref = torch.relu(model.fc(x)).detach().numpy()
    assert relu["mean"] == pytest.approx(float(ref.mean()), rel=1e-5)
    assert relu["std"] == pytest.approx(float(ref.std()), rel=1e-4)
    sig = rows["sig"]
    assert sig["saturated_fraction"] == pytest.approx(0.5)  # output 0 is ~1, output 1 is exactly 0.5
    assert np.isnan(sig["dead_fraction"]) and np.isnan(relu["saturated_fraction"])
    assert inspect.count_hooks(model) == 0


def test_weight_history_from_a_run_folder(tmp_path):
    run = RunFolder(tmp_path / "run")
    folder = run.weights_dir
    folder.mkdir(parents=True)
    model = _model("lenet")
    for epoch in range(3):
        with torch.no_grad():
            model.out.weight.mul_(2.0)
        torch.save({k: v.clone() for k, v in model.state_dict().items()}, folder / f"epoch_{epoch:04d}.pt")
    torch.save(model.state_dict(), folder / "epoch_f1_0001.pt")  # K-fold snapshot: not this run's series
    (folder / "epoch_0009.pt").write_bytes(b"not a torch file")  # unreadable: skipped
    run.config_path.write_text("{}")
    assert of_checkpoint(run.final_path).path == run.path
    assert of_checkpoint(tmp_path / "elsewhere.pt") is None
    assert [e for e, _ in run.epoch_files()] == [0, 1, 2, 9] and [e for e, _ in run.epoch_files(fold=1)] == [1]
    assert run.epoch_weights(9) is None  # unreadable: no weights, no error
    history = inspect.weight_history(run.epoch_files(), bins=20)
    assert "out.weight" in history and "conv1.bias" in history
    h = history["out.weight"]
    assert h.epochs.tolist() == [0, 1, 2] and h.counts.shape == (3, 20) and len(h.edges) == 21
    assert (h.counts.sum(1) == model.out.weight.numel()).all()
    np.testing.assert_allclose(h.std[1:] / h.std[:-1], 2.0, rtol=1e-5)  # doubled each epoch
    assert h.edges[0] <= -abs(model.out.weight).max().item() * 0.99


def test_weight_history_skips_batch_norm_statistics(tmp_path):
    model = _model()
    run = RunFolder(tmp_path)
    run.weights_dir.mkdir()
    torch.save(model.state_dict(), run.weights_path(0))
    history = inspect.weight_history(run.epoch_files())
    assert "bn1.weight" in history
    assert not any(k.endswith(("running_mean", "running_var", "num_batches_tracked")) for k in history)


def test_unreadable_pickles_are_refused_by_weights_only(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    run = RunFolder(tmp_path)
    run.weights_dir.mkdir()
    torch.save({"w": Evil()}, run.weights_path(0))
    torch.save({"w": torch.ones(3)}, run.weights_path(1))
    assert run.epoch_weights(0) is None and run.epoch_weights(1) is not None
    history = inspect.weight_history(run.epoch_files())
    assert history["w"].epochs.tolist() == [1]


def test_a_model_without_conv_layers():
    mlp = build_model(ModelConfig(hidden=(8,)), (1, 4, 4), 3).eval()
    assert inspect.conv_layers(mlp) == {}
    infos = inspect.layers(mlp, (1, 4, 4))
    assert [i.kind for i in inspect.inspectable(infos)] == ["dense", "act", "dense"]


def test_a_small_capture_leaves_the_thread_count_as_it_was():
    model = _model()
    before = torch.get_num_threads()
    with inspect.capture(model, torch.randn(1, *SHAPE), ["conv1"]):
        pass
    with inspect.capture(model, torch.randn(40, *SHAPE), ["conv1"]):
        pass
    assert torch.get_num_threads() == before
