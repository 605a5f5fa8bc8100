#!/usr/bin/env python3
"""A tiny stand-in for a real training program, for slurmpipe's demo and tests.

Runs in seconds, prints loss lines in nanoGPT's format (one of the formats log-parse reads),
writes a small checkpoint and a Lightning-style metrics.csv, and honours Hydra-style overrides:

    python3 train.py lr=0.1 weight_decay=1e-4 seed=0 optimizer=adamw max_steps=200

Failure modes for testing a pipeline (fail=...):
    oom        a CUDA out-of-memory traceback at fail_at, exit 1 (what PyTorch prints)
    exception  a Python exception (ValueError) at fail_at, exit 1
    nan        the loss turns NaN at fail_at and stays NaN; the run still finishes (exit 0)
    timeout    hangs at fail_at until Slurm's time limit kills it
    import     an ImportError at start-up (an environment problem)
Only the standard library is used, so it runs on any machine with python3.
"""
import csv
import math
import os
import random
import sys
import time


def parse_overrides(argv):
    params = {}
    for arg in argv:
        if "=" not in arg:
            sys.exit(f"train.py: expected key=value, got {arg!r}")
        key, value = arg.split("=", 1)
        # Hydra strips one level of quotes: fail='nan' means the string nan.
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        params[key.lstrip("+")] = value
    return params


def num(params, key, default):
    return float(params.get(key, default))


def main():
    p = parse_overrides(sys.argv[1:])
    lr = num(p, "lr", 0.1)
    wd = num(p, "weight_decay", p.get("wd", 1e-4))
    seed = int(num(p, "seed", 0))
    max_steps = int(num(p, "max_steps", 200))
    step_time = num(p, "step_time", 0.01)
    log_every = int(num(p, "log_every", 10))
    fail = p.get("fail", "")
    fail_at = int(num(p, "fail_at", max_steps // 2))
    width = num(p, "width_multiplier", 1.0)
    clip = num(p, "grad_clip_norm", 0.0)
    out_dir = p.get("out_dir", ".")
    rng = random.Random(seed)

    print(f"Global seed set to {seed}", flush=True)
    print("GPU available: False (cuda), used: False", flush=True)
    print(f"config: lr={lr} weight_decay={wd} optimizer={p.get('optimizer', 'sgd')} "
          f"batch_norm={p.get('batch_norm', 'true')} width_multiplier={width} max_steps={max_steps}", flush=True)
    print("/usr/lib/python3/dist-packages/torch/nn/modules/module.py:1: UserWarning: "
          "TypedStorage is deprecated.", file=sys.stderr, flush=True)
    if fail == "import":
        raise ModuleNotFoundError("No module named 'torchvision'")

    os.makedirs(os.path.join(out_dir, "checkpoints"), exist_ok=True)
    metrics = open(os.path.join(out_dir, "metrics.csv"), "w", newline="")
    writer = csv.writer(metrics)
    writer.writerow(["step", "epoch", "train_loss", "val_loss"])

    # Loss falls faster with a larger lr; too large an lr diverges. Weight decay and width move the floor.
    rate = 0.02 * lr / 0.1
    floor = 0.35 + 2.0 * wd + 0.1 / max(width, 0.1)
    diverge = lr > 1.0 and clip == 0.0
    loss = 2.3
    for step in range(max_steps + 1):
        t0 = time.time()
        if fail == "timeout" and step == fail_at:
            print(f"iter {step}: waiting for data loader worker...", flush=True)
            while True:
                time.sleep(1)
        if fail == "oom" and step == fail_at:
            tb = (
                "Traceback (most recent call last):\n"
                '  File "train.py", line 212, in <module>\n'
                "    main()\n"
                '  File "train.py", line 188, in main\n'
                "    logits, loss = model(X, Y)\n"
                "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. "
                "GPU 0 has a total capacity of 63.98 GiB of which 1.12 GiB is free."
            )
            print(tb, file=sys.stderr, flush=True)
            sys.exit(1)
        if fail == "exception" and step == fail_at:
            raise ValueError(f"target size (torch.Size([64])) must be the same as input size at step {step}")
        if diverge:
            loss = loss * 1.08 + rng.random() * 0.05
        else:
            loss = floor + (2.3 - floor) * math.exp(-rate * step) + rng.gauss(0, 0.02)
        shown = float("nan") if fail == "nan" and step >= fail_at else loss
        if step % log_every == 0:
            mfu = -100.0 if step < 5 * log_every else 12.0 + rng.random()
            print(f"iter {step}: loss {shown:.4f}, time {(time.time() - t0 + step_time) * 1000:.2f}ms, mfu {mfu:.2f}%", flush=True)
            writer.writerow([step, step // 100, f"{shown:.6f}", ""])
        if step > 0 and step % 100 == 0:
            val = shown + 0.05
            print(f"step {step}: train loss {shown:.4f}, val loss {val:.4f}", flush=True)
            writer.writerow([step, step // 100, "", f"{val:.6f}"])
        time.sleep(step_time)
    metrics.close()
    ckpt = os.path.join(out_dir, "checkpoints", "last.ckpt")
    with open(ckpt, "wb") as f:
        f.write(rng.randbytes(int(num(p, "ckpt_kb", 64)) * 1024))
    print(f"saving checkpoint to {os.path.join(out_dir, 'checkpoints')}", flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main()
