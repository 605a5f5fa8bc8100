import signal, time
signal.signal(signal.SIGTERM, lambda *a: print("got SIGTERM, ignoring it to finish the epoch", flush=True))
for step in range(10000):
    print(f"step {step} loss {3.0 / (1 + step):.4f}", flush=True)
    time.sleep(1)
