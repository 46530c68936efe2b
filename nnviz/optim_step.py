"""A leaner `optimizer.step()` for torch's fused Adam and AdamW.

torch.optim.Adam(fused=True).step() wraps one fused kernel in Python: hook and profiler
bookkeeping, grad-mode switches, gathering each group's state. For the course MLP
(784-256-128-64-10, batch 64, ~1.3 ms steps on 2 cores) that was 7-8 % of training time.
`step_function(optimizer)` returns a callable making the same update with the same kernel
(torch._fused_adam_ / _fused_adamw_) on the optimizer's own state tensors and its current
hyper-parameters, so schedulers, state_dict() and every other use of the optimizer see no
difference. Everything else (other optimizers, a missing gradient, AMSGrad, tensor learning
rates, mixed devices) goes through optimizer.step().
"""
from __future__ import annotations

from typing import Callable

import torch


def step_function(optimizer: torch.optim.Optimizer) -> Callable[[], None]:
    """`optimizer.step`, or the same update for a fused Adam/AdamW without torch.optim's per-step Python."""
    if not isinstance(optimizer, torch.optim.Adam) or not all(_lean(g) for g in optimizer.param_groups):
        return optimizer.step
    groups: list[tuple[dict, list, list, list, list]] = []  # (group, params, exp_avgs, exp_avg_sqs, steps)

    def step() -> None:
        grads = [[p.grad for p in group["params"]] for group in optimizer.param_groups]
        if not groups or any(g is None for gs in grads for g in gs) or any(
                isinstance(group["lr"], torch.Tensor) for group in optimizer.param_groups):
            optimizer.step()  # the first step creates the state exactly as torch does
            lists = [_state_lists(optimizer, group) for group in optimizer.param_groups]
            groups[:] = lists if all(lists) else []  # a parameter without state yet: torch steps again
            return
        with torch.no_grad():
            for (group, params, avgs, sqs, steps), group_grads in zip(groups, grads):
                beta1, beta2 = group["betas"]
                torch._foreach_add_(steps, 1)
                kernel = torch._fused_adamw_ if group.get("decoupled_weight_decay") else torch._fused_adam_
                kernel(params, group_grads, avgs, sqs, [], steps, amsgrad=False, lr=group["lr"], beta1=beta1,
                       beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"],
                       maximize=group["maximize"], grad_scale=None, found_inf=None)

    return step


def _lean(group: dict) -> bool:
    params = group["params"]
    return (bool(group.get("fused")) and not group["amsgrad"] and not group.get("differentiable")
            and len({(p.device, p.dtype) for p in params}) <= 1)


def _state_lists(optimizer: torch.optim.Optimizer, group: dict) -> tuple[dict, list, list, list, list] | None:
    states = [optimizer.state.get(p, {}) for p in group["params"]]
    if not all("step" in s for s in states):
        return None
    return (group, list(group["params"]), [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
            [s["step"] for s in states])
