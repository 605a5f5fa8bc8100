#!/usr/bin/env python3
"""A HF Accelerate loop (Accelerator, prepare, accelerator.backward), run by `accelerate launch`:
    accel_loop.py MODE     ok: 200 steps; raise: a ValueError from the data at step 120;
                           nan: lr 0.6 with momentum, the loss overflows to inf, then NaN
Prints `epoch E step S loss X` every 10 steps through accelerator.print (the main process only).
"""
import sys
import torch
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
torch.set_num_threads(1)
torch.manual_seed(0)
acc = Accelerator(cpu=True)
x = torch.randn(1600, 8)
y = torch.tanh(x @ torch.randn(8) / 2).unsqueeze(1)
model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.6 if mode == "nan" else 0.05, momentum=0.9)
loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
model, opt, loader = acc.prepare(model, opt, loader)
step = 0
for epoch in range(2):
    for xb, yb in loader:
        if mode == "raise" and step == 120:
            raise ValueError(f"batch {step}: labels out of range [{yb.min().item():.3f}, {yb.max().item():.3f}]")
        loss = nn.functional.mse_loss(model(xb), yb)
        opt.zero_grad()
        acc.backward(loss)
        opt.step()
        step += 1
        if step % 10 == 0:
            acc.print(f"epoch {epoch} step {step} loss {loss.item():.4f}")
acc.print("done")
