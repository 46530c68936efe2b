"""The lean fused Adam/AdamW step makes exactly torch's update, and falls back where it must."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from nnviz.optim_step import step_function


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 3))


def _train(model: nn.Module, optimizer: torch.optim.Optimizer, step, steps: int = 12,  # noqa: ANN001
           scheduler=None, skip_grad_at: int = -1) -> None:  # noqa: ANN001
    gen = torch.Generator().manual_seed(1)
    for i in range(steps):
        x, y = torch.randn(8, 12, generator=gen), torch.randint(0, 3, (8,), generator=gen)
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        if i == skip_grad_at:
            model[2].bias.grad = None  # a parameter without a gradient this step
        step()
        if scheduler is not None:
            scheduler.step()


@pytest.mark.parametrize("make", [
    lambda p: torch.optim.Adam(p, lr=1e-2, fused=True),
    lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=1e-3, betas=(0.8, 0.99), eps=1e-6, fused=True),
    lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1, fused=True),
    lambda p: torch.optim.Adam(p, lr=1e-2, maximize=True, fused=True),
])
@pytest.mark.parametrize("with_schedule", [False, True])
def test_same_parameters_and_state_as_torch_step(make, with_schedule):
    ref, lean = _model(), _model()
    ref_opt, lean_opt = make(ref.parameters()), make(lean.parameters())
    sched = (lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5)) if with_schedule else (lambda o: None)
    _train(ref, ref_opt, ref_opt.step, scheduler=sched(ref_opt), skip_grad_at=5)
    _train(lean, lean_opt, step_function(lean_opt), scheduler=sched(lean_opt), skip_grad_at=5)
    for a, b in zip(ref.parameters(), lean.parameters()):
        assert torch.equal(a, b)
    ref_state, lean_state = ref_opt.state_dict()["state"], lean_opt.state_dict()["state"]
    for key in ref_state:
        for name in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(ref_state[key][name], lean_state[key][name]), (key, name)
    assert ref_state[3]["step"].item() == 11  # the bias skipped once


def test_other_optimizers_and_amsgrad_use_torchs_own_step():
    params = list(_model().parameters())
    for opt in (torch.optim.SGD(params, lr=0.1), torch.optim.Adam(params, lr=0.1),  # not fused
                torch.optim.Adam(params, lr=0.1, amsgrad=True, fused=True)):
        assert step_function(opt) == opt.step


def test_after_the_first_step_torchs_step_is_not_called():
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, fused=True)
    calls = []
    original = opt.step
    opt.step = lambda *a, **k: (calls.append(1), original(*a, **k))[1]
    _train(model, opt, step_function(opt), steps=6)
    assert len(calls) == 1  # the first, which creates the state


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_same_update_as_torch_on_cuda():
    ref, lean = _model().cuda(), _model().cuda()
    ref_opt = torch.optim.AdamW(ref.parameters(), lr=1e-2, weight_decay=0.1, fused=True)
    lean_opt = torch.optim.AdamW(lean.parameters(), lr=1e-2, weight_decay=0.1, fused=True)
    lean_step = step_function(lean_opt)
    gen = torch.Generator().manual_seed(1)
    for _ in range(6):
        x, y = torch.randn(8, 12, generator=gen).cuda(), torch.randint(0, 3, (8,), generator=gen).cuda()
        for model, opt, step in ((ref, ref_opt, ref_opt.step), (lean, lean_opt, lean_step)):
            opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(model(x), y).backward()
            step()
    for a, b in zip(ref.parameters(), lean.parameters()):
        assert torch.equal(a, b)
