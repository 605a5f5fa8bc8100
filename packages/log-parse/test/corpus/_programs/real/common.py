"""What the three real trainers share: Hydra-style overrides, the ways a run is made to fail for
real, and the checkpoint-on-SIGTERM that slurm-render's --requeue-on-signal relies on.

Overrides are key=value (Hydra's command-line form, as sweep-gen's `args: hydra` writes them):
    lr=0.05 seed=1 max_steps=60 out_dir=. fail=shape
fail=...:
    shape   a real shape error in the model's forward pass at step fail_at (RuntimeError traceback)
    oom     allocates oom_mb MiB (default 4096) in 64 MiB tensors at fail_at: past a cgroup --mem
            the kernel kills the job (OUT_OF_MEMORY); where nothing limits memory it goes on
    slow    each step sleeps step_time seconds (default 1.0) from fail_at on, so a short --time
            kills the job (TIMEOUT)
A learning rate that diverges needs no fail mode: plain_loop.py lr=5 goes to inf, then NaN.
"""
import os
import signal
import sys
import time

import torch


def overrides(argv, defaults):
    params = dict(defaults)
    for arg in argv:
        if "=" not in arg:
            sys.exit(f"{os.path.basename(sys.argv[0])}: expected key=value, got {arg!r}")
        key, value = arg.split("=", 1)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        key = key.lstrip("+")
        default = defaults.get(key)
        params[key] = type(default)(value) if isinstance(default, (int, float)) and not isinstance(default, bool) else value
    return params


class Stop:
    """SIGTERM (slurm-render forwards Slurm's --signal to the trainer) or SIGUSR1 asks the run to
    checkpoint and exit; the requeued job resumes from that checkpoint."""

    def __init__(self):
        self.requested = None
        for sig in (signal.SIGTERM, signal.SIGUSR1):
            signal.signal(sig, self._handle)

    def _handle(self, signum, _frame):
        self.requested = signal.Signals(signum).name
        print(f"received {self.requested}: checkpointing, then exiting for the requeue", flush=True)


def owns_checkpoints(ckpt_dir):
    """Whether this run may resume from the checkpoints in ckpt_dir: only the job that wrote them
    may (a requeued job keeps its id), or a run outside Slurm after one outside Slurm. A new attempt
    is another job, often with other parameters (a retry with a lower lr after a NaN): resuming the
    diverged weights of the first attempt would repeat its failure, so it starts fresh."""
    job = os.environ.get("SLURM_JOB_ID", "")
    marker = os.path.join(ckpt_dir, "JOB_ID")
    try:
        with open(marker) as f:
            previous = f.read().strip()
    except FileNotFoundError:
        previous = None
    os.makedirs(ckpt_dir, exist_ok=True)
    with open(marker, "w") as f:
        f.write(job)
    return previous == job


_hog = []


def maybe_fail(params, step, model=None):
    """Fails the run the way params['fail'] says, at step fail_at."""
    fail, at = params.get("fail", "none"), int(params.get("fail_at", 10))
    if step < at:
        return
    if fail == "shape" and model is not None:
        wrong = torch.randn(4, 3)
        model(wrong)
    if fail == "oom" and not _hog:
        for _ in range(int(params.get("oom_mb", 4096)) // 64):
            _hog.append(torch.ones(64 * 1024 * 1024 // 4))
        print(f"allocated {len(_hog) * 64} MiB", flush=True)
    if fail == "slow":
        time.sleep(float(params.get("step_time", 1.0)))


def setup_torch(seed):
    torch.set_num_threads(1)
    torch.manual_seed(seed)
