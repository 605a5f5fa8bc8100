"""A Keras 3 regression fit on the torch backend, as a researcher's script prints it.

    python keras_fit.py ok        # converges; Keras's progbar (verbose=1) on a non-TTY
    python keras_fit.py epochs    # verbose=2: one line per epoch
    python keras_fit.py nan       # lr 1e4: the loss overflows; TerminateOnNaN stops the fit
"""
import os, sys
os.environ.setdefault("KERAS_BACKEND", "torch")
import numpy as np
import keras

mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
rng = np.random.default_rng(0)
x = rng.normal(size=(2048, 16)).astype("float32")
w = rng.normal(size=(16, 1)).astype("float32")
y = x @ w + 0.1 * rng.normal(size=(2048, 1)).astype("float32")
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(1)])
lr = 1e4 if mode == "nan" else 1e-2
model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
callbacks = [keras.callbacks.TerminateOnNaN()] if mode == "nan" else []
model.fit(x, y, batch_size=64, epochs=4, validation_split=0.1, verbose=2 if mode == "epochs" else 1, callbacks=callbacks)
print("done")
