import os, time
rank = int(os.environ.get("SLURM_PROCID", "0"))
for step in range(0, 30, 5):
    if rank == 0:
        print(f"step {step} loss {2.0 - step * 0.05:.4f}", flush=True)
    time.sleep(0.2)
    if rank == 1 and step == 15:
        raise ValueError(f"rank {rank}: batch {step} has 0 tokens")
