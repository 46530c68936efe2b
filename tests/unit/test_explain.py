"""nnviz.analysis.explain and nnviz.training.baselines: each wrapper against calling Captum directly, on tiny models.

Every wrapper must give Captum's own answer (shape, finiteness, values), and leave the
caller's model exactly as it was: weights, mode, requires_grad flags, hooks, attributes.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from captum.attr import (
    DeepLift,
    GradientShap,
    GuidedBackprop,
    InputXGradient,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    NoiseTunnel,
    Occlusion,
    Saliency,
)

from nnviz.analysis import explain
from nnviz.analysis.explain import ExplainError
from nnviz.config import ConvBlock, ModelConfig
from nnviz.model.models import build_model
from nnviz.training import baselines

MEAN, STD = (0.2,), (0.3,)
SHAPE = (1, 8, 8)
N_CLASSES = 3
TARGETS = [0, 2, 1]


def _randomise_bn(model: torch.nn.Module) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
    return model


@pytest.fixture
def cnn() -> torch.nn.Sequential:
    torch.manual_seed(0)
    cfg = ModelConfig(hidden=(8,), conv=(ConvBlock(4, 3, True, "max", batch_norm=True), ConvBlock(6, 3, True, "none")))
    return _randomise_bn(build_model(cfg, SHAPE, N_CLASSES)).eval()


@pytest.fixture
def mlp() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return build_model(ModelConfig(hidden=(16, 8), activation="tanh"), SHAPE, N_CLASSES).eval()


@pytest.fixture
def x() -> torch.Tensor:
    pixels = torch.rand((3, *SHAPE), generator=torch.Generator().manual_seed(2))
    return (pixels - MEAN[0]) / STD[0]  # (3, 1, 8, 8) normalised


def _black(x):
    return torch.full_like(x, (0 - MEAN[0]) / STD[0])


def _seed(seed: int = 0) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


def _direct(method: str, model, x, params) -> torch.Tensor:
    """The same attribution computed with Captum by hand (the trusted reference)."""
    m = copy.deepcopy(model).eval()
    xi, tgt, black = x.clone().requires_grad_(), TARGETS, _black(x)
    if method == "saliency":
        return Saliency(m).attribute(xi, target=tgt, abs=True)
    if method == "integrated_gradients":
        return IntegratedGradients(m).attribute(xi, baselines=black, target=tgt, n_steps=params.get("steps", 50))
    if method == "input_x_gradient":
        return InputXGradient(m).attribute(xi, target=tgt)
    if method == "deeplift":
        return DeepLift(m).attribute(xi, baselines=black, target=tgt)
    if method == "gradient_shap":
        dist = baselines.noise(x, MEAN, STD, seed=0, samples=baselines.NOISE_SAMPLES)
        _seed()
        return GradientShap(m).attribute(xi, baselines=dist, target=tgt, n_samples=20, stdevs=0.1)
    if method == "guided_backprop":
        return GuidedBackprop(m).attribute(xi, target=tgt)
    if method == "occlusion":
        return Occlusion(m).attribute(xi, sliding_window_shapes=(1, 3, 3), strides=(1, 1, 1), baselines=black,
                                      target=tgt)
    if method == "grad_cam":
        cam = LayerGradCam(m, m.get_submodule("act2")).attribute(xi, target=tgt, relu_attributions=True)
        return LayerAttribution.interpolate(cam, SHAPE[1:], "bilinear")
    raise AssertionError(method)


WRAPPER_PARAMS = {"occlusion": {"window": 3, "stride": 1}, "grad_cam": {"layer": "act2"}}


@pytest.mark.parametrize("method", list(explain.ATTRIBUTION_METHODS))
def test_wrapper_equals_captum_called_directly(cnn, x, method):
    params = WRAPPER_PARAMS.get(method, {})
    got = explain.attribute(cnn, x, method, TARGETS, mean=MEAN, std=STD, **params)
    want = _direct(method, cnn, x, params).detach()
    expected_shape = (3, 1, *SHAPE[1:])
    assert tuple(got.shape) == tuple(want.shape) == expected_shape
    assert torch.isfinite(got).all()
    assert got.abs().sum() > 0, "an all-zero map explains nothing"
    torch.testing.assert_close(got, want.float(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("method", ["saliency", "integrated_gradients", "guided_backprop"])
def test_smoothgrad_equals_noise_tunnel_called_directly(cnn, x, method):
    extra = {"steps": 10} if method == "integrated_gradients" else {}
    got = explain.attribute(cnn, x, method, TARGETS, mean=MEAN, std=STD, smoothgrad=True, sg_samples=4, sg_noise=0.15,
                            **extra)
    m = copy.deepcopy(cnn).eval()
    cls = {"saliency": Saliency, "integrated_gradients": IntegratedGradients, "guided_backprop": GuidedBackprop}[method]
    algo = cls(m)
    kwargs = {"saliency": {"abs": True}, "integrated_gradients": {"baselines": _black(x), "n_steps": 10},
              "guided_backprop": {}}[method]
    _seed()
    want = NoiseTunnel(algo).attribute(x.clone().requires_grad_(), nt_type="smoothgrad", nt_samples=4,
                                       stdevs=0.15 / STD[0], target=TARGETS, **kwargs).detach()
    assert got.shape == want.shape and torch.isfinite(got).all()
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_smoothgrad_works_on_every_gradient_method(cnn, x):
    for method, spec in explain.ATTRIBUTION_METHODS.items():
        if spec.gradient_based:
            out = explain.attribute(cnn, x, method, TARGETS, mean=MEAN, std=STD, smoothgrad=True, sg_samples=2,
                                    **WRAPPER_PARAMS.get(method, {}))
            assert out.shape == (3, 1, 8, 8) and torch.isfinite(out).all(), method


def _snapshot(model: torch.nn.Module) -> dict:
    return {
        "state": {k: v.clone() for k, v in model.state_dict().items()},
        "training": [m.training for m in model.modules()],
        "requires_grad": [p.requires_grad for p in model.parameters()],
        "grads": [p.grad for p in model.parameters()],
        "attrs": [sorted(vars(m)) for m in model.modules()],
    }


def _hooks(model: torch.nn.Module) -> int:
    names = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    return sum(len(getattr(m, n)) for m in model.modules() for n in names)


@pytest.mark.parametrize("train_mode", [False, True])
def test_shared_model_untouched_by_every_method(cnn, x, train_mode):
    """State dict, train/eval mode, flags, hooks and attributes are unchanged, DeepLift and GBP included."""
    cnn.train(train_mode)
    before, x_before = _snapshot(cnn), x.clone()
    rng_torch, rng_np, threads = torch.get_rng_state(), np.random.get_state()[1].copy(), torch.get_num_threads()
    for method, spec in explain.ATTRIBUTION_METHODS.items():
        for smooth in (False, True) if spec.gradient_based else (False,):
            explain.attribute(cnn, x, method, TARGETS, mean=MEAN, std=STD, smoothgrad=smooth, sg_samples=2,
                              **WRAPPER_PARAMS.get(method, {}))
            after = _snapshot(cnn)
            assert _hooks(cnn) == 0, f"{method} left hooks on the model"
            for key in ("training", "requires_grad", "grads", "attrs"):
                assert after[key] == before[key], f"{method} changed the model's {key}"
            for k, v in before["state"].items():
                assert torch.equal(after["state"][k], v), f"{method} changed {k}"
    assert torch.equal(x, x_before) and not x.requires_grad
    assert torch.equal(torch.get_rng_state(), rng_torch) and np.array_equal(np.random.get_state()[1], rng_np)
    assert torch.get_num_threads() == threads


def test_batched_call_equals_one_image_at_a_time(cnn, x):
    for method in ("saliency", "integrated_gradients", "deeplift", "occlusion", "grad_cam"):
        params = WRAPPER_PARAMS.get(method, {})
        batch = explain.attribute(cnn, x, method, TARGETS, mean=MEAN, std=STD, **params)
        for i in range(len(x)):
            one = explain.attribute(cnn, x[i:i + 1], method, TARGETS[i], mean=MEAN, std=STD, **params)
            torch.testing.assert_close(batch[i:i + 1], one, rtol=1e-4, atol=1e-5, msg=method)


def test_random_methods_are_seeded(cnn, x):
    a = explain.attribute(cnn, x, "gradient_shap", 1, mean=MEAN, std=STD, seed=3)
    b = explain.attribute(cnn, x, "gradient_shap", 1, mean=MEAN, std=STD, seed=3)
    c = explain.attribute(cnn, x, "gradient_shap", 1, mean=MEAN, std=STD, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_works_under_no_grad_and_inference_mode(cnn, x):
    want = explain.attribute(cnn, x, "saliency", 0)
    with torch.no_grad():
        assert torch.equal(explain.attribute(cnn, x, "saliency", 0), want)
    with torch.inference_mode():
        x_inf = x.clone()
        assert torch.equal(explain.attribute(cnn, x_inf, "saliency", 0), want)


def test_mlp_gets_every_method_but_grad_cam(mlp, x):
    assert explain.methods_for(mlp) == [k for k in explain.ATTRIBUTION_METHODS if k != "grad_cam"]
    for method in explain.methods_for(mlp):
        out = explain.attribute(mlp, x, method, TARGETS, mean=MEAN, std=STD, **WRAPPER_PARAMS.get(method, {}))
        assert out.shape == (3, 1, 8, 8) and torch.isfinite(out).all()
    with pytest.raises(ExplainError, match="needs a convolutional layer"):
        explain.attribute(mlp, x, "grad_cam", 0)


@pytest.mark.parametrize("params, message", [
    ({"window": 9}, "larger than the image"),
    ({"window": 3, "stride": 4}, "stride .* larger than the window"),
    ({"window": 40}, "between 1 and 32"),
    ({"frobnicate": 1}, "no parameter 'frobnicate'"),
    ({"baseline": "purple"}, "must be one of"),
    ({"smoothgrad": True}, "SmoothGrad averages gradients"),
])
def test_bad_occlusion_parameters_give_clear_errors(cnn, x, params, message):
    with pytest.raises(ExplainError, match=message):
        explain.attribute(cnn, x, "occlusion", 0, **params)


def test_other_bad_inputs_give_clear_errors(cnn, x):
    with pytest.raises(ExplainError, match="Unknown attribution method"):
        explain.attribute(cnn, x, "lime", 0)
    with pytest.raises(ExplainError, match="out of range"):
        explain.attribute(cnn, x, "saliency", 7)
    with pytest.raises(ExplainError, match="targets for 3 images"):
        explain.attribute(cnn, x, "saliency", [0, 1])
    with pytest.raises(ExplainError, match="batch of images"):
        explain.attribute(cnn, x[0], "saliency", 0)
    with pytest.raises(ExplainError, match="must be one of"):
        explain.attribute(cnn, x, "grad_cam", 0, layer="out")
    with pytest.raises(ExplainError, match="must be a number"):
        explain.attribute(cnn, x, "integrated_gradients", 0, steps="many")


def test_registry_fills_widgets(cnn):
    assert {"saliency", "integrated_gradients", "input_x_gradient", "deeplift", "gradient_shap", "guided_backprop",
            "occlusion", "grad_cam"} == set(explain.ATTRIBUTION_METHODS)
    for key, spec in explain.ATTRIBUTION_METHODS.items():
        assert spec.title and "\n" not in spec.explanation and 20 < len(spec.explanation) < 130, key
        defaults = explain.default_params(key, cnn)
        assert explain.resolve_params(key, {}, cnn) == defaults
        for p in explain.all_params(key):
            assert p.kind in ("int", "float", "choice", "bool", "layer")
            if p.kind in ("int", "float"):
                assert p.low <= p.default <= p.high and p.step
            if p.kind == "choice":
                assert p.default in p.choices
            if p.only_if:
                assert p.only_if[0] in defaults
    assert explain.ATTRIBUTION_METHODS["integrated_gradients"].params[0].default == 50
    assert set(explain.ATTRIBUTION_METHODS["integrated_gradients"].params[1].choices) == {"black", "blurred", "noise"}
    assert not explain.ATTRIBUTION_METHODS["occlusion"].gradient_based
    assert explain.ATTRIBUTION_METHODS["grad_cam"].needs_conv_layer
    assert set(explain.DEFAULT_GRID) <= set(explain.ATTRIBUTION_METHODS) and len(explain.DEFAULT_GRID) == 4


def test_conv_layers_and_default_layer(cnn, mlp):
    assert explain.conv_layers(cnn) == ["conv1", "act1", "pool1", "conv2", "act2"]
    assert explain.default_layer(cnn) == "act2"
    assert explain.conv_layers(mlp) == [] and explain.default_layer(mlp) is None


@pytest.mark.parametrize("kind", list(baselines.BASELINES))
def test_every_baseline_runs_with_ig_deeplift_and_occlusion(cnn, x, kind):
    for method in ("integrated_gradients", "deeplift", "occlusion"):
        out = explain.attribute(cnn, x, method, TARGETS, mean=MEAN, std=STD, baseline=kind,
                                **WRAPPER_PARAMS.get(method, {}))
        assert torch.isfinite(out).all()


def test_black_baseline_is_the_normalised_zero_pixel():
    x = torch.zeros(2, 3, 4, 4)
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
    b = baselines.black(x, mean, std)
    assert b.shape == x.shape
    pixels = b * torch.tensor(std).view(1, 3, 1, 1) + torch.tensor(mean).view(1, 3, 1, 1)
    torch.testing.assert_close(pixels, torch.zeros_like(pixels), atol=1e-6, rtol=0)
    torch.testing.assert_close(baselines.black(x), torch.zeros_like(x))  # no normalisation given


def test_blurred_baseline_keeps_flat_images_and_smooths_edges(x):
    flat = torch.full((1, 1, 10, 10), 0.7)
    torch.testing.assert_close(baselines.blurred(flat, 2.0), flat)
    edge = torch.zeros(1, 1, 10, 10)
    edge[..., 5:] = 1.0
    out = baselines.blurred(edge, 2.0)
    assert out.shape == edge.shape and 0 < out[0, 0, 5, 4] < 1 and out[0, 0, 5, 4] < out[0, 0, 5, 5]
    torch.testing.assert_close(baselines.blurred(x, 0), x)
    assert baselines.blurred(x, 50.0).shape == x.shape  # radius clipped to the image


def test_noise_baseline_is_seeded_and_in_the_pixel_range(x):
    a = baselines.noise(x, MEAN, STD, seed=5, samples=4)
    assert a.shape == (12, 1, 8, 8)
    assert torch.equal(a, baselines.noise(x, MEAN, STD, seed=5, samples=4))
    assert not torch.equal(a, baselines.noise(x, MEAN, STD, seed=6, samples=4))
    pixels = a * STD[0] + MEAN[0]
    assert pixels.min() >= 0 and pixels.max() <= 1
    with pytest.raises(ValueError, match="unknown baseline"):
        baselines.make("grey", x)


def test_randomized_copy_never_touches_the_original(cnn):
    before = {k: v.clone() for k, v in cnn.state_dict().items()}
    rand = explain.randomized_copy(cnn, seed=0)
    assert all(torch.equal(v, before[k]) for k, v in cnn.state_dict().items())
    assert not rand.training and rand is not cnn
    for name in ("conv1.weight", "conv2.weight", "fc1.weight", "out.weight", "out.bias"):
        assert not torch.equal(rand.state_dict()[name], before[name]), name
    assert torch.equal(rand.state_dict()["bn1.running_mean"], torch.zeros(4))
    again = explain.randomized_copy(cnn, seed=0)
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in rand.state_dict().items())
    other = explain.randomized_copy(cnn, seed=1)
    assert not torch.equal(other.state_dict()["conv1.weight"], rand.state_dict()["conv1.weight"])


def test_cascading_randomisation_keeps_the_layers_below(cnn):
    assert explain.parametric_layers(cnn) == ["conv1", "bn1", "conv2", "fc1", "out"]
    rand = explain.randomized_copy(cnn, seed=0, from_layer="fc1")
    before, after = cnn.state_dict(), rand.state_dict()
    for name in ("conv1.weight", "bn1.running_var", "conv2.weight", "conv2.bias"):
        assert torch.equal(after[name], before[name]), name
    for name in ("fc1.weight", "out.weight"):
        assert not torch.equal(after[name], before[name]), name
    with pytest.raises(ValueError, match="No layer with weights"):
        explain.randomized_copy(cnn, from_layer="act1")


def test_sanity_check_separates_weight_dependent_maps(cnn, x):
    trained = explain.to_maps(explain.attribute(cnn, x, "saliency", TARGETS, abs=False))
    rand = explain.to_maps(explain.attribute(explain.randomized_copy(cnn, 0), x, "saliency", TARGETS, abs=False))
    assert all(abs(explain.rank_correlation(a, b, absolute=False)) < 0.9 for a, b in zip(trained, rand))


def test_rank_correlation():
    a = np.arange(16.0).reshape(4, 4)
    assert explain.rank_correlation(a, a * 3) == pytest.approx(1.0)
    assert explain.rank_correlation(a, -a) == pytest.approx(1.0)  # absolute values by default
    assert explain.rank_correlation(a, -a, absolute=False) == pytest.approx(-1.0)
    assert math.isnan(explain.rank_correlation(a, np.zeros((4, 4))))


def test_resolve_targets_and_to_maps():
    probs = np.array([[0.1, 0.9, 0.0], [0.7, 0.2, 0.1]])
    labels = np.array([1, 2])
    assert explain.resolve_targets("predicted", probs, labels) == [1, 0]
    assert explain.resolve_targets("true", probs, labels) == [1, 2]
    assert explain.resolve_targets("chosen", probs, labels, 2) == [2, 2]
    with pytest.raises(ExplainError):
        explain.resolve_targets("chosen", probs, labels)
    attr = torch.ones(2, 3, 4, 5)
    maps = explain.to_maps(attr)
    assert maps.shape == (2, 4, 5) and np.all(maps == 3)


def test_quick_map_is_one_finite_map(cnn, x):
    out = explain.quick_map(cnn, x[:1], mean=MEAN, std=STD)
    assert out.shape == SHAPE[1:] and np.isfinite(out).all()
    with torch.no_grad():
        predicted = int(cnn(x[:1]).argmax(1))
    np.testing.assert_allclose(out, explain.quick_map(cnn, x[:1], predicted, mean=MEAN, std=STD))


def test_rgb_images_every_method():
    """3-channel inputs (CIFAR-like): per-channel baselines; maps sum the channels; Grad-CAM has one channel."""
    torch.manual_seed(0)
    cfg = ModelConfig(hidden=(), conv=(ConvBlock(4, 3, True, "max"),), global_pool=True)
    model = build_model(cfg, (3, 8, 8), 3).eval()
    mean, std = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)
    x = (torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(3)) - torch.tensor(mean).view(1, 3, 1, 1)) \
        / torch.tensor(std).view(1, 3, 1, 1)
    for method in explain.methods_for(model):
        params = {"layer": "act1"} if method == "grad_cam" else WRAPPER_PARAMS.get(method, {})
        out = explain.attribute(model, x, method, [0, 1], mean=mean, std=std, **params)
        assert out.shape == ((2, 1, 8, 8) if method == "grad_cam" else (2, 3, 8, 8)), method
        assert torch.isfinite(out).all(), method
        assert explain.to_maps(out).shape == (2, 8, 8)
