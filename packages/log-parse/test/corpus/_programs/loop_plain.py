# a plain print loop: linear regression by SGD, printing "step N loss X"
import numpy as np, sys
rng = np.random.default_rng(0)
X = rng.normal(size=(512, 8)); w_true = rng.normal(size=8); y = X @ w_true + 0.1 * rng.normal(size=512)
w = np.zeros(8); lr = float(sys.argv[1]) if len(sys.argv) > 1 else 0.05
for step in range(0, int(sys.argv[2]) if len(sys.argv) > 2 else 201):
    i = rng.integers(0, 512, 32)
    err = X[i] @ w - y[i]
    loss = float(np.mean(err ** 2))
    w -= lr * 2 * X[i].T @ err / 32
    if step % 10 == 0:
        print(f"step {step} loss {loss:.4f}", flush=True)
