#!/usr/bin/env python3
"""A DDP worker for torchrun (gloo, CPU): a small regression trained with DistributedDataParallel,
rank 0 printing `step N loss X`; at step 30 one rank fails the way argv[1] says:
    ok       no failure
    segv     rank 1 sends itself SIGSEGV            (torchrun: exitcode -11, ChildFailedError)
    raise    rank 1 raises ValueError               (torchrun: the worker's traceback, exitcode 1)
    kill9    rank 1 sends itself SIGKILL            (exitcode -9)
    timeout  rank 1 stops joining the collectives (sleeps); the process group's timeout is 10 s,
             so rank 0's allreduce times out inside gloo
"""
import datetime, os, signal, sys, time
import torch
import torch.distributed as dist
from torch import nn

mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
torch.set_num_threads(1)
dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=10))
rank = dist.get_rank()
torch.manual_seed(0)
model = nn.parallel.DistributedDataParallel(nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1)))
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
w = torch.randn(8, generator=torch.Generator().manual_seed(1))
g = torch.Generator().manual_seed(100 + rank)
for step in range(100):
    if step == 30 and rank == 1:
        if mode == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        if mode == "kill9":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "raise":
            raise ValueError(f"rank {rank}: batch {step} has no labels")
        if mode == "timeout":
            time.sleep(60)
    x = torch.randn(32, 8, generator=g)
    loss = nn.functional.mse_loss(model(x), torch.tanh(x @ w).unsqueeze(1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    if rank == 0 and step % 5 == 0:
        print(f"step {step} loss {loss.item():.4f}", flush=True)
dist.destroy_process_group()
