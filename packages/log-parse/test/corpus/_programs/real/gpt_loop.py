#!/usr/bin/env python3
"""A plain PyTorch loop in nanoGPT's print format (`iter N: loss X, time Yms`) with torch.optim.AdamW
and a tensorboardX SummaryWriter in out_dir/tb (log-parse reads its event file from the run's dir).
    python gpt_loop.py LR STEPS OUT_DIR [SLEEP]
A tiny MLP language model on counting sequences; LR=1e-3 converges, LR=1e3 diverges to NaN.
"""
import sys, time
import torch
from torch import nn
from tensorboardX import SummaryWriter

lr, steps, out_dir = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
pause = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
torch.set_num_threads(1)
torch.manual_seed(0)
V, T = 32, 16
model = nn.Sequential(nn.Embedding(V, 32), nn.Flatten(), nn.Linear(32 * (T - 1), 64), nn.GELU(), nn.Linear(64, V))
opt = torch.optim.AdamW(model.parameters(), lr=lr)
writer = SummaryWriter(f"{out_dir}/tb")
for it in range(steps):
    t0 = time.time()
    start = torch.randint(0, V, (64, 1))
    seq = (start + torch.arange(T)) % V
    loss = nn.functional.cross_entropy(model(seq[:, :-1]), seq[:, -1])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if pause:
        time.sleep(pause)
    writer.add_scalar("train/loss", loss.item(), it)
    if it % 10 == 0:
        print(f"iter {it}: loss {loss.item():.4f}, time {(time.time() - t0) * 1000:.2f}ms", flush=True)
writer.close()
