#!/usr/bin/env python3
"""A plain PyTorch training loop, printing the way most research code does (the classic PyTorch
examples' `Epoch [e/E], Step [s/S], Loss: x`), with nothing but the console as its log.

    python plain_loop.py lr=0.05 seed=0 epochs=3 steps_per_epoch=40 out_dir=.
    python plain_loop.py lr=5            # diverges: the loss overflows to inf, then NaN
    python plain_loop.py lr=2.5 grad_clip_norm=1   # clipped: log-parse's suggested fix for that
    python plain_loop.py fail=shape      # a real shape error (see common.py for fail modes)

It checkpoints to out_dir/checkpoints/last.pt at the end and when SIGTERM/SIGUSR1 arrives, and
resumes from there when started again by the same job (a requeue; see common.owns_checkpoints).
"""
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Stop, maybe_fail, overrides, owns_checkpoints, setup_torch  # noqa: E402

p = overrides(sys.argv[1:], {"lr": 0.05, "seed": 0, "epochs": 3, "steps_per_epoch": 40, "batch_size": 32,
                             "out_dir": ".", "fail": "none", "fail_at": 30, "oom_mb": 4096, "step_time": 1.0, "log_every": 5,
                             "grad_clip_norm": 0.0})
setup_torch(p["seed"])
stop = Stop()
ckpt_dir = os.path.join(p["out_dir"], "checkpoints")
ckpt = os.path.join(ckpt_dir, "last.pt")

# A regression target the network can learn: y = tanh(x . w / 2).
w_true = torch.randn(8)
model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))
opt = torch.optim.SGD(model.parameters(), lr=p["lr"], momentum=0.9)
loss_fn = nn.MSELoss()
start = 0
if owns_checkpoints(ckpt_dir) and os.path.exists(ckpt):
    state = torch.load(ckpt)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    start = state["step"]
    print(f"resumed from {ckpt} at step {start}", flush=True)


def save(step):
    os.makedirs(ckpt_dir, exist_ok=True)
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step}, ckpt + ".tmp")
    os.replace(ckpt + ".tmp", ckpt)
    print(f"saved checkpoint {ckpt} at step {step}", flush=True)


total = p["epochs"] * p["steps_per_epoch"]
for step in range(start, total):
    epoch, in_epoch = divmod(step, p["steps_per_epoch"])
    maybe_fail(p, step, model)
    x = torch.randn(p["batch_size"], 8)
    y = torch.tanh(x @ w_true / 2).unsqueeze(1)
    loss = loss_fn(model(x), y)
    opt.zero_grad()
    loss.backward()
    if p["grad_clip_norm"] > 0:
        nn.utils.clip_grad_norm_(model.parameters(), p["grad_clip_norm"])
    opt.step()
    if (step + 1) % p["log_every"] == 0:
        print(f"Epoch [{epoch + 1}/{p['epochs']}], Step [{in_epoch + 1}/{p['steps_per_epoch']}], Loss: {loss.item():.4f}", flush=True)
    if stop.requested:
        save(step + 1)
        sys.exit(0)
save(total)
print("Finished Training", flush=True)
