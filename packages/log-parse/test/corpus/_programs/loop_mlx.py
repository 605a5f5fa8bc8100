# the report lines of mlx-lm's trainer (mlx_lm/tuner/trainer.py): "Iter N: Train loss ..., Learning Rate ..., It/sec ..."
import numpy as np, sys, time
rng = np.random.default_rng(3); lr = float(sys.argv[1]); X = rng.normal(size=(2000, 8)); y = X @ rng.normal(size=8)
w = np.zeros(8); tokens = 0
print("Starting training..., iters: 200", flush=True)
with np.errstate(all="ignore"):
    for it in range(1, int(sys.argv[2]) + 1 if len(sys.argv) > 2 else 201):
        t = time.perf_counter(); i = rng.integers(0, 2000, 16); err = X[i] @ w - y[i]; loss = float(np.mean(err**2))
        w -= lr * 2 * X[i].T @ err / 16; tokens += 331
        if it == 1 or it % 50 == 0:
            print(f"Iter {it}: Val loss {loss:.3f}, Val took {time.perf_counter()-t:.3f}s", flush=True)
        if it % 10 == 0:
            print(f"Iter {it}: Train loss {loss:.3f}, Learning Rate {lr:.3e}, It/sec {1/(time.perf_counter()-t+1e-3):.3f}, Tokens/sec {331/(time.perf_counter()-t+1e-3):.3f}, Trained Tokens {tokens}, Peak mem 0.012 GB", flush=True)
