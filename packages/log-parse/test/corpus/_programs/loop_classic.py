# the print of the classic PyTorch tutorial loops: Epoch [e/E], Step [s/S], Loss: x
import numpy as np, sys
rng = np.random.default_rng(1)
X = rng.normal(size=(4000, 16)); y = X @ rng.normal(size=16)
w = np.zeros(16); lr = float(sys.argv[1]); epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 2; bs = 10; steps = len(X) // bs
with np.errstate(all="ignore"):
    for epoch in range(epochs):
        for s in range(steps):
            xb, yb = X[s*bs:(s+1)*bs], y[s*bs:(s+1)*bs]
            err = xb @ w - yb
            loss = float(np.mean(err ** 2))
            w -= lr * 2 * xb.T @ err / bs
            if (s + 1) % 25 == 0:
                print('Epoch [{}/{}], Step [{}/{}], Loss: {:.4f}'.format(epoch + 1, epochs, s + 1, steps, loss), flush=True)
