import time
for step in range(10000):
    print(f"step {step} loss {3.0 / (1 + step):.4f}", flush=True)
    time.sleep(1)
