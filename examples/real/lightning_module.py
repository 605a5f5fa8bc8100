#!/usr/bin/env python3
"""A Lightning module with Lightning's own CSVLogger and TensorBoardLogger and checkpointing.

    python lightning_module.py lr=0.05 seed=0 max_epochs=4 out_dir=.
    python lightning_module.py fail=shape        # see common.py for the fail modes

Writes out_dir/logs/csv/version_0/metrics.csv, out_dir/logs/tb/version_0/events.out.tfevents.*
and out_dir/checkpoints/last.ckpt. On SIGTERM/SIGUSR1 it saves last.ckpt through the trainer and
exits; started again by the same job (a requeue, see common.owns_checkpoints) it resumes with Lightning's own `fit(ckpt_path=...)`.
"""
import os
import sys

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Stop, maybe_fail, overrides, owns_checkpoints, setup_torch  # noqa: E402

p = overrides(sys.argv[1:], {"lr": 0.05, "seed": 0, "max_epochs": 4, "batches": 30, "batch_size": 32, "out_dir": ".",
                             "fail": "none", "fail_at": 30, "oom_mb": 4096, "step_time": 1.0, "log_every": 5})
setup_torch(p["seed"])
L.seed_everything(p["seed"])
stop = Stop()


class Regressor(L.LightningModule):
    def __init__(self, lr):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))

    def training_step(self, batch, _idx):
        maybe_fail(p, self.global_step, self.net)
        x, y = batch
        loss = nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, _idx):
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self.net(x), y), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9)


class CheckpointOnSignal(Callback):
    """Ends training at the next batch once a signal came, with a checkpoint to resume from."""

    def on_train_batch_end(self, trainer, *_):
        if stop.requested:
            trainer.save_checkpoint(os.path.join(p["out_dir"], "checkpoints", "last.ckpt"))
            print(f"saved checkpoint at step {trainer.global_step}", flush=True)
            trainer.should_stop = True


def data(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    w = torch.randn(8, generator=torch.Generator().manual_seed(1234))
    return TensorDataset(x, torch.sin(x @ w).unsqueeze(1))


train = DataLoader(data(p["batches"] * p["batch_size"], p["seed"]), batch_size=p["batch_size"], shuffle=True)
val = DataLoader(data(4 * p["batch_size"], p["seed"] + 1), batch_size=p["batch_size"])
logs = os.path.join(p["out_dir"], "logs")
trainer = L.Trainer(
    max_epochs=p["max_epochs"],
    accelerator="cpu",
    devices=1,
    logger=[CSVLogger(logs, name="csv", version=0), TensorBoardLogger(logs, name="tb", version=0)],
    callbacks=[ModelCheckpoint(dirpath=os.path.join(p["out_dir"], "checkpoints"), save_last=True), CheckpointOnSignal()],
    log_every_n_steps=p["log_every"],
    enable_progress_bar=True,
)
last = os.path.join(p["out_dir"], "checkpoints", "last.ckpt")
resume = last if owns_checkpoints(os.path.dirname(last)) and os.path.exists(last) else None
if resume:
    print(f"resuming from {resume}", flush=True)
trainer.fit(Regressor(p["lr"]), train, val, ckpt_path=resume)
if stop.requested:
    sys.exit(0)
print("Finished Training", flush=True)
