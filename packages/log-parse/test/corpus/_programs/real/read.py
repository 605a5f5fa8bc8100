#!/usr/bin/env python3
"""The independent reader of the real-* cases' loss facts (test/corpus/README.md): one regex (or
file reader) per print format, written from the logs themselves, not from log-parse.
    read.py FORMAT FILE [BATCHES]
Prints {first_loss, last_loss, first_nonfinite_step, steps_seen, points}: the first and last loss
(null when non-finite), the step of the first inf/nan, the highest step printed with a loss.
FORMAT:
  hf       HF Trainer console dicts {'loss': '4.082', ...} (no step printed: steps_seen omitted)
  hfstate  HF trainer_state.json log_history entries with "loss" (exact, with step)
  tqdm     Lightning's TQDMProgressBar frames `Epoch E:  P%|...| b/N [..., train_loss=X, ...]`
           (split on \\r; step = E x N + b, the loss of a step its last frame's; validation frames
           carry no train step; a requeued run's resumed frames follow the first attempt's)
  rich     Lightning's RichProgressBar final frames `Epoch E/M ━━ b/N ... train_loss: X`
  classic  `Epoch [e/E], Step [s/S], Loss: X` (step = (e-1) x S + s)
  iter     nanoGPT's `iter N: loss X`
  step     `step N loss X`
  accel    accel_loop.py's `epoch E step S loss X` (S counts all steps)
  keras    Keras 3's progbar (verbose=1: ANSI colours, `\b` and `\r` redraws) and verbose=2 lines,
           `b/N ... - loss: X` after `Epoch E/M` (step = (E-1) x N + b; ANSI codes and backspaces
           removed first; a callback's message may follow the number, unseparated)
  csv      Lightning CSVLogger metrics.csv, column train_loss, with its step column
  tfevents TensorBoard event files in FILE (a directory), tag TAG (argv[3], default train/loss), read
           with tensorboard's own EventAccumulator (run with the venv's python); float32 values as
           the shortest decimal that rounds to them (numpy's repr)
"""
import json, math, re, sys

fmt, path = sys.argv[1], sys.argv[2]
text = "" if fmt == "tfevents" else open(path, encoding="utf-8", errors="replace").read()
pts = []  # (step or None, value)
num = r"([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf))"
if fmt == "hf":
    for m in re.finditer(r"^\{'loss': '?" + num + r"'?,", text, re.M):
        pts.append((None, float(m.group(1))))
elif fmt == "hfstate":
    for e in json.loads(text)["log_history"]:
        if "loss" in e:
            pts.append((e["step"], float(e["loss"])))
elif fmt == "tqdm":
    for frame in re.split(r"[\r\n]", text):
        m = re.match(r"Epoch (\d+):\s+\d+%\|[^|]*\|\s*(\d+)/(\d+) \[.*train_loss=" + num, frame)
        if m:
            step = int(m.group(1)) * int(m.group(3)) + int(m.group(2))
            # a frame shows the new batch count before the new postfix: a step's loss is its last frame's
            if pts and pts[-1][0] == step:
                pts[-1] = (step, float(m.group(4)))
            else:
                pts.append((step, float(m.group(4))))
elif fmt == "rich":
    for m in re.finditer(r"^Epoch (\d+)/\d+\s+\S+\s+(\d+)/(\d+) .*train_loss: " + num, text, re.M):
        pts.append((int(m.group(1)) * int(m.group(3)) + int(m.group(2)), float(m.group(4))))
elif fmt == "classic":
    for m in re.finditer(r"^Epoch \[(\d+)/\d+\], Step \[(\d+)/(\d+)\], Loss: " + num, text, re.M):
        pts.append(((int(m.group(1)) - 1) * int(m.group(3)) + int(m.group(2)), float(m.group(4))))
elif fmt == "iter":
    for m in re.finditer(r"^iter (\d+): loss " + num, text, re.M):
        pts.append((int(m.group(1)), float(m.group(2))))
elif fmt == "step":
    for m in re.finditer(r"^step (\d+) loss " + num, text, re.M):
        pts.append((int(m.group(1)), float(m.group(2))))
elif fmt == "accel":
    for m in re.finditer(r"^epoch \d+ step (\d+) loss " + num, text, re.M):
        pts.append((int(m.group(1)), float(m.group(2))))
elif fmt == "keras":
    clean = re.sub(r"\x1b\[[0-9;]*m", "", text).replace("\b", "")
    epoch = None
    for frame in re.split(r"[\r\n]", clean):
        e = re.match(r"^Epoch (\d+)/\d+\s*$", frame)
        if e:
            epoch = int(e.group(1))
            continue
        m = re.match(r"^\s*(\d+)/(\d+) .*? - loss: " + num, frame)
        if m and epoch is not None:
            step = (epoch - 1) * int(m.group(2)) + int(m.group(1))
            if pts and pts[-1][0] == step:
                pts[-1] = (step, float(m.group(3)))
            else:
                pts.append((step, float(m.group(3))))
elif fmt == "csv":
    lines = text.splitlines()
    cols = lines[0].split(",")
    for line in lines[1:]:
        row = dict(zip(cols, line.split(",")))
        if row.get("train_loss"):
            pts.append((int(row["step"]), float(row["train_loss"])))
elif fmt == "tfevents":
    import numpy as np
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(path, size_guidance={"scalars": 0})
    acc.Reload()
    for e in acc.Scalars(sys.argv[3] if len(sys.argv) > 3 else "train/loss"):
        pts.append((e.step, float(repr(np.float32(e.value)).removeprefix("np.float32(").rstrip(")"))))
else:
    sys.exit(f"unknown format {fmt}")

fin = lambda v: v if math.isfinite(v) else None
out = {"points": len(pts)}
if pts:
    out["first_loss"] = fin(pts[0][1])
    out["last_loss"] = fin(pts[-1][1])  # the last printed (a resumed run's steps may go back)
    bad = [s for s, v in pts if not math.isfinite(v)]
    out["first_nonfinite_step"] = bad[0] if bad else None
    if pts[0][0] is not None:
        out["steps_seen"] = max(s for s, _ in pts)
print(json.dumps(out))
