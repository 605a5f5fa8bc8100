#!/usr/bin/env python3
"""A Lightning regressor (adapted from examples/real/lightning_module.py). One mode per corpus case:
    ok         4 epochs x 30 batches, Lightning's default progress bar (RichProgressBar, since rich
               is installed), train_loss and val_loss on the bar
    bar        the same with TQDMProgressBar: on a non-TTY, tqdm's `\r` bar on stderr
    csv        the same without the bar, a CSVLogger under out_dir/logs (log-parse reads metrics.csv)
    anomaly    Trainer(detect_anomaly=True); training_step takes sqrt of a negative number at step 40:
               autograd's anomaly mode raises in backward
    earlystop  lr=50: the loss overflows; EarlyStopping(check_finite=True) on train_loss stops the run
    raise      training_step raises a KeyError at step 50 (a batch dict without its key)
    requeue    step_time 0.6 s (first attempt), 200 steps, run under srun with sbatch --signal=USR1@..: Lightning's
               SLURMEnvironment(auto_requeue=True) saves an hpc checkpoint and requeues the job; the
               requeued attempt resumes from it (Lightning's own SLURM handling)
    slow       step_time 0.5 s, 400 steps (for a time limit or a cancel)
"""
import os, sys, time
import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
out_dir = sys.argv[2] if len(sys.argv) > 2 else "."
torch.set_num_threads(1)
L.seed_everything(0)
lr = 50.0 if mode == "earlystop" else 0.05
# requeue: only the first attempt is slow (SLURM_RESTART_COUNT is set in a requeued job), so the
# requeued one finishes within its --time
step_time = {"requeue": 0.6 if os.environ.get("SLURM_RESTART_COUNT", "0") == "0" else 0.0, "slow": 0.5}.get(mode, 0.0)


class Regressor(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))

    def training_step(self, batch, _idx):
        if step_time:
            time.sleep(step_time)
        x, y = batch
        loss = nn.functional.mse_loss(self.net(x), y)
        if mode == "anomaly" and self.global_step >= 40:
            loss = loss + torch.sqrt(loss - 10.0)
        if mode == "raise" and self.global_step >= 50:
            loss = {"x": x}["loss"]
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, _idx):
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self.net(x), y), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=lr, momentum=0.9)


def data(n, seed):
    x = torch.randn(n, 8, generator=torch.Generator().manual_seed(seed))
    w = torch.randn(8, generator=torch.Generator().manual_seed(1234))
    return TensorDataset(x, torch.sin(x @ w).unsqueeze(1))


batches = {"requeue": 50, "slow": 100}.get(mode, 30)
train = DataLoader(data(batches * 32, 0), batch_size=32, shuffle=True)
val = DataLoader(data(128, 1), batch_size=32)
kw = {}
if mode == "requeue":
    import signal
    from lightning.pytorch.plugins.environments import SLURMEnvironment
    kw["plugins"] = [SLURMEnvironment(auto_requeue=True, requeue_signal=signal.SIGUSR1)]
trainer = L.Trainer(
    max_epochs=4,
    accelerator="cpu",
    devices=1,
    logger=CSVLogger(os.path.join(out_dir, "logs"), name="csv", version=0) if mode == "csv" else False,
    enable_checkpointing=mode == "requeue",
    default_root_dir=out_dir,
    callbacks=[EarlyStopping("train_loss", check_finite=True, patience=1000, verbose=True)] if mode == "earlystop"
    else [TQDMProgressBar()] if mode in ("bar", "requeue", "slow") else [],
    log_every_n_steps=5,
    enable_progress_bar=mode != "csv",
    detect_anomaly=mode == "anomaly",
    **kw,
)
trainer.fit(Regressor(), train, val)
print("Finished Training", flush=True)
