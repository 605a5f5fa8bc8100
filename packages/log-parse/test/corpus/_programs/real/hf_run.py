#!/usr/bin/env python3
"""HF Trainer on a tiny GPT-2 from a config (random weights, nothing downloaded), trained on
counting sequences; adapted from examples/real/hf_trainer.py. One mode per corpus case:
    ok        train 60 steps, logging every 5 (no eval)
    eval      the same with eval_strategy=steps: `{'eval_loss': ...}` lines
    nan       logits scaled by inf from step 30 in the model's forward (the loss is really NaN),
              logging_nan_inf_filter=False so the console shows it
    nanfilter the same with HF's default NaN filter (the console shows the filtered loss)
    shape     the model's forward reshapes its input wrongly at step 20 (a real RuntimeError)
    resume    train(resume_from_checkpoint=<a dir that does not exist>)
    dir       like eval, with report_to=tensorboard and save_state: files under out_dir/hf
"""
import os, sys
import torch
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
out_dir = sys.argv[2] if len(sys.argv) > 2 else "."
torch.set_num_threads(1)
torch.manual_seed(0)
VOCAB, LENGTH = 64, 32


class Counting(torch.utils.data.Dataset):
    def __init__(self, n, seed):
        self.starts = torch.randint(0, VOCAB, (n,), generator=torch.Generator().manual_seed(seed))

    def __len__(self):
        return len(self.starts)

    def __getitem__(self, i):
        ids = (self.starts[i] + torch.arange(LENGTH)) % VOCAB
        return {"input_ids": ids, "labels": ids}


class Model(GPT2LMHeadModel):
    calls = 0

    def forward(self, input_ids=None, labels=None, **kw):
        if self.training:
            Model.calls += 1
        if mode == "shape" and self.training and Model.calls > 20:
            input_ids = input_ids.view(-1, 5)  # 8x32 tokens do not split into rows of 5
        out = super().forward(input_ids=input_ids, **kw)
        logits = out.logits
        if mode in ("nan", "nanfilter") and self.training and Model.calls > 30:
            logits = logits * float("inf")
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, VOCAB), labels[:, 1:].reshape(-1))
        return {"loss": loss, "logits": logits}


model = Model(GPT2Config(vocab_size=VOCAB, n_positions=LENGTH, n_embd=32, n_layer=2, n_head=2))
evals = mode in ("eval", "dir")
args = TrainingArguments(
    output_dir=os.path.join(out_dir, "hf"),
    max_steps=60,
    learning_rate=1e-3,
    per_device_train_batch_size=8,
    per_device_eval_batch_size=8,
    logging_steps=5,
    eval_strategy="steps" if evals else "no",
    eval_steps=20,
    save_strategy="no",
    report_to=["tensorboard"] if mode == "dir" else [],
    use_cpu=True,
    seed=0,
    dataloader_num_workers=0,
    disable_tqdm=True,
    logging_nan_inf_filter=mode != "nan",
)
trainer = Trainer(model=model, args=args, train_dataset=Counting(512, 0), eval_dataset=Counting(32, 1) if evals else None)
trainer.train(resume_from_checkpoint=os.path.join(out_dir, "hf", "checkpoint-40") if mode == "resume" else None)
if mode == "dir":
    trainer.save_state()
print("Finished Training", flush=True)
