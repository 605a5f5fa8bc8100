#!/usr/bin/env python3
"""An HF Trainer on a tiny GPT-2 built from a config (random weights: nothing is downloaded),
trained on a synthetic token sequence it can learn.

    python hf_trainer.py lr=0.001 seed=0 max_steps=60 out_dir=.
    python hf_trainer.py fail=shape           # see common.py for the fail modes

The Trainer writes out_dir/hf/trainer_state.json (and one in each checkpoint-N/) and TensorBoard
files under out_dir/hf/runs/. On SIGTERM/SIGUSR1 it saves a checkpoint and stops; started again
(by the same job: a requeue, see common.owns_checkpoints) it resumes with the Trainer's own `train(resume_from_checkpoint=True)`.
"""
import os
import sys

import torch
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_utils import get_last_checkpoint

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Stop, maybe_fail, overrides, owns_checkpoints, setup_torch  # noqa: E402

p = overrides(sys.argv[1:], {"lr": 0.001, "seed": 0, "max_steps": 60, "batch_size": 8, "out_dir": ".", "fail": "none",
                             "fail_at": 30, "oom_mb": 4096, "step_time": 1.0, "log_every": 5, "save_every": 20})
setup_torch(p["seed"])
stop = Stop()
VOCAB, LENGTH = 64, 32


class Counting(torch.utils.data.Dataset):
    """Sequences counting up modulo the vocabulary from a random start: learnable in a few steps."""

    def __init__(self, n, seed):
        self.starts = torch.randint(0, VOCAB, (n,), generator=torch.Generator().manual_seed(seed))

    def __len__(self):
        return len(self.starts)

    def __getitem__(self, i):
        ids = (self.starts[i] + torch.arange(LENGTH)) % VOCAB
        return {"input_ids": ids, "labels": ids}


class FailAndStop(TrainerCallback):
    def on_step_begin(self, args, state, control, model=None, **_):
        if p["fail"] == "shape" and state.global_step >= p["fail_at"]:
            maybe_fail(p, state.global_step, model.lm_head)
        else:
            maybe_fail(p, state.global_step)

    def on_step_end(self, args, state, control, **_):
        if stop.requested:
            control.should_save = True
            control.should_training_stop = True


config = GPT2Config(vocab_size=VOCAB, n_positions=LENGTH, n_embd=32, n_layer=2, n_head=2)
model = GPT2LMHeadModel(config)
out = os.path.join(p["out_dir"], "hf")
args = TrainingArguments(
    output_dir=out,
    max_steps=p["max_steps"],
    learning_rate=p["lr"],
    per_device_train_batch_size=p["batch_size"],
    per_device_eval_batch_size=p["batch_size"],
    logging_steps=p["log_every"],
    eval_strategy="steps",
    eval_steps=p["save_every"],
    save_strategy="steps",
    save_steps=p["save_every"],
    report_to=["tensorboard"],
    use_cpu=True,
    seed=p["seed"],
    dataloader_num_workers=0,
    disable_tqdm=True,
)
trainer = Trainer(model=model, args=args, train_dataset=Counting(512, p["seed"]), eval_dataset=Counting(32, p["seed"] + 1),
                  callbacks=[FailAndStop()])
last = get_last_checkpoint(out) if owns_checkpoints(out) else None
if last:
    print(f"resuming from {last}", flush=True)
trainer.train(resume_from_checkpoint=last)
if stop.requested:
    sys.exit(0)
trainer.save_state()
print("Finished Training", flush=True)
