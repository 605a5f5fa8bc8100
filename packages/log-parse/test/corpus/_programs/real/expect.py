#!/usr/bin/env python3
"""Writes the `expect` of the real-* cases: the loss facts from read.py (the reader of each print
format, independent of log-parse) and the verdict read from the logs by hand (class, exception,
trend), listed here with the line that decides it. Run with the venv's python (tfevents):
    $PY expect.py [CASE...]
"""
import json, os, subprocess, sys

here = os.path.dirname(os.path.abspath(__file__))
corpus = os.path.dirname(os.path.dirname(here))
D, N = "DECREASING", "NAN"
# case: (reader format, file in the case dir, loss facts to keep, class, exception, trend, run dir)
CASES = {
    # HF console dicts print no step: steps_seen and the first non-finite step are left out
    "real-hf-ok": ("hf", "out", "first last", None, None, D, None),
    "real-hf-eval": ("hf", "out", "first last", None, None, D, None),
    "real-hf-nan": ("hf", "out", "first last", "NAN_LOSS", None, N, None),  # {'loss': 'nan', 'grad_norm': 'nan', ...}
    # HF's NaN filter prints loss '0' where the loss was NaN; grad_norm 'nan' shows it
    "real-hf-nan-filtered": ("hf", "out", "first", "NAN_LOSS", None, N, None),
    "real-hf-shape": ("hf", "out", "first last", "PYTHON_EXCEPTION", "RuntimeError", None, None),
    "real-hf-resume-missing": (None, None, "", "PYTHON_EXCEPTION", "ValueError", None, None),
    "real-hf-dir": ("hfstate", "run/hf/trainer_state.json", "first last steps", None, None, D, "run"),
    # RichProgressBar on a non-TTY prints one frame per epoch
    "real-pl-ok": ("rich", "out", "last steps", None, None, None, None),
    "real-pl-bar": ("tqdm", "out", "first last steps", None, None, D, None),
    "real-pl-csv": ("csv", "run/logs/csv/version_0/metrics.csv", "first last steps", None, None, D, "run"),
    # RuntimeError: Function 'SqrtBackward0' returned nan values in its 0th output (detect_anomaly)
    "real-pl-anomaly": ("rich", "out", "last", "NAN_LOSS", "RuntimeError", None, None),
    # Monitored metric train_loss = nan is not finite ... Signaling Trainer to stop.
    "real-pl-earlystop-nan": ("rich", "out", "last nonfinite", "NAN_LOSS", None, N, None),
    "real-pl-step-raise": ("rich", "out", "last", "PYTHON_EXCEPTION", "KeyError", None, None),
    # requeued by Lightning on USR1 (CANCELLED DUE TO JOB REQUEUE), resumed, COMPLETED
    "real-pl-slurm-requeue": ("tqdm", "out", "first last steps", None, None, D, None),
    "real-pl-scancel": ("tqdm", "out", "first last steps", "CANCELLED", None, None, None),
    # MisconfigurationException: To use the `DeepSpeedStrategy`, you must have DeepSpeed installed.
    "real-pl-deepspeed-missing": (None, None, "", "IMPORT_ERROR", "lightning.fabric.utilities.exceptions.MisconfigurationException", None, None),
    "real-torch-plain-ok": ("classic", "out", "first last steps nonfinite", None, None, D, None),
    "real-torch-plain-inf": ("classic", "out", "first last steps nonfinite", "NAN_LOSS", None, N, None),
    "real-torch-plain-timeout": ("classic", "out", "first last steps", "TIME_LIMIT", None, D, None),
    # slurmstepd: Detected 1 oom-kill event(s); sacct OUT_OF_MEMORY 0:125
    "real-torch-oom-cgroup": ("classic", "out", "first last steps", "HOST_OOM", None, None, None),
    # DefaultCPUAllocator: can't allocate memory ... Error code 12 (Cannot allocate memory)
    "real-torch-ulimit-oom": ("classic", "out", "first last steps", "HOST_OOM", "RuntimeError", None, None),
    # tensorboardX's event file (every step) has more points than the console (every 10th)
    "real-torch-tbx-ok": ("tfevents", "run/tb", "first last steps nonfinite", None, None, D, "run"),
    "real-torch-tbx-nan": ("tfevents", "run/tb", "first last steps nonfinite", "NAN_LOSS", None, N, "run"),
    # exitcode  : -11 (pid: ...)  (SIGSEGV) under ChildFailedError
    "real-torchrun-segv": ("step", "out", "first last steps", "SEGFAULT", None, None, None),
    "real-torchrun-raise": ("step", "out", "first last steps", "PYTHON_EXCEPTION", "ValueError", None, None),
    # rank 0: RuntimeError: [..gloo..] Timed out waiting 10000ms for recv operation to complete
    "real-torchrun-gloo-timeout": ("step", "out", "first last steps", "NCCL", "RuntimeError", None, None),
    # exitcode  : -9 (pid: ...)  (SIGKILL): nothing says why (no OOM event, no MaxRSS near a limit)
    "real-torchrun-kill9": ("step", "out", "first last steps", "UNKNOWN", None, None, None),
    "real-accelerate-ok": ("accel", "out", "first last steps nonfinite", None, None, D, None),
    # the child's ValueError, then accelerate launch's CalledProcessError
    "real-accelerate-raise": ("accel", "out", "first last steps", "PYTHON_EXCEPTION", "ValueError", None, None),
    "real-accelerate-nan": ("accel", "out", "first last steps nonfinite", "NAN_LOSS", None, N, None),
    # Keras 3.15.1 on the torch backend: the verbose=1 progbar, verbose=2 epoch lines
    "real-keras-ok": ("keras", "out", "first last steps", None, None, D, None),
    "real-keras-epochs": ("keras", "out", "first last steps", None, None, D, None),
    # TerminateOnNaN's `Batch 2: Invalid loss, terminating training` (0-based), glued onto the
    # progbar right after its first loss; then ` 3/29 ... loss: inf`
    "real-keras-nan": ("keras", "out", "first nonfinite", "NAN_LOSS", None, N, None),
    "real-timm-import-error": (None, None, "", "IMPORT_ERROR", "ModuleNotFoundError", None, None),
    # slurmstepd: error: execve(): pythn: No such file or directory (srun exits 2, not 127)
    "real-srun-pythn": (None, None, "", "IMPORT_ERROR", None, None, None),
}
KEYS = {"first": "first_loss", "last": "last_loss", "steps": "steps_seen", "nonfinite": "first_nonfinite_step"}
for name in sys.argv[1:] or CASES:
    fmt, file, keep, cls, exc, trend, run_dir = CASES[name]
    path = os.path.join(corpus, name, "case.json")
    spec = json.load(open(path))
    expect = {"class": cls}
    if exc:
        expect["exception"] = exc
    if trend:
        expect["trend"] = trend
    if fmt:
        facts = json.loads(subprocess.check_output([sys.executable, os.path.join(here, "read.py"), fmt, os.path.join(corpus, name, file)]))
        for k in keep.split():
            expect[KEYS[k]] = facts[KEYS[k]]
    spec["expect"] = expect
    if run_dir:
        spec["dir"] = run_dir
    spec["format"] = fmt or "none"
    json.dump(spec, open(path, "w"), indent=2)
    open(path, "a").write("\n")
    print(name, json.dumps(expect))
