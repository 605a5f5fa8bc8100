import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseLogFile } from "../src/index.ts";

/**
 * Exceptions whose type hides their class (classify.ts BY_MESSAGE), in the shapes the corpus's
 * real runs printed (real-pl-deepspeed-missing, real-torchrun-gloo-timeout, real-torchrun-kill9).
 */
const dir = mkdtempSync(join(tmpdir(), "lp-exc-"));
const tb = (lines: string[]) => ["Traceback (most recent call last):", '  File "/opt/run/train.py", line 7, in <module>', "    main()", ...lines].join("\n") + "\n";

const cases: [string, string, string, string][] = [
  [
    "missing package in a framework's own exception",
    tb(["lightning.fabric.utilities.exceptions.MisconfigurationException: To use the `FooStrategy`, you must have foo-lib installed. Install it by running `pip install -U foo-lib`."]),
    "IMPORT_ERROR",
    "lightning.fabric.utilities.exceptions.MisconfigurationException",
  ],
  ["an error telling to pip install", tb(["RuntimeError: this optimizer needs the bitsfoo kernels: pip install bitsfoo"]), "IMPORT_ERROR", "RuntimeError"],
  [
    "gloo collective timeout",
    tb(["RuntimeError: [/src/third_party/gloo/gloo/transport/tcp/unbound_buffer.cc:81] Timed out waiting 30000ms for send operation to complete"]),
    "NCCL",
    "RuntimeError",
  ],
  // a peer died: its death is the failure, this is its consequence
  ["gloo connection reset", tb(["RuntimeError: [/src/third_party/gloo/gloo/transport/tcp/pair.cc:534] Read error [10.0.0.2]:4242: Connection reset by peer"]), "PYTHON_EXCEPTION", "RuntimeError"],
  ["a plain error", tb(["ValueError: batch 3 has no labels; installed packages are fine"]), "PYTHON_EXCEPTION", "ValueError"],
];

describe("a peer's death over what the other ranks see", () => {
  const resetByPeer = "[rank0]: RuntimeError: [/src/third_party/gloo/gloo/transport/tcp/pair.cc:534] Read error [10.0.0.2]:4242: Connection reset by peer";
  const summary = ["torch.distributed.elastic.multiprocessing.errors.ChildFailedError: ", "Failures:", "[1]:", "  rank      : 1 (local_rank: 1)", "  exitcode  : -9 (pid: 4321)  (SIGKILL)"];
  it("gloo's connection reset, then torchrun's summary of a rank killed by SIGKILL: the SIGKILL", async () => {
    const file = join(dir, "peer-killed.err");
    writeFileSync(file, ["[rank0]: Traceback (most recent call last):", '[rank0]:   File "/opt/run/train.py", line 9, in <module>', "[rank0]:     loss.backward()", resetByPeer, ...summary].join("\n") + "\n");
    const f = (await parseLogFile(file)).failures?.[0];
    expect(f?.class).toBe("UNKNOWN");
    expect(f?.message).toMatch(/SIGKILL/);
  });
  it("without a death in the logs the reset stays the failure", async () => {
    const file = join(dir, "peer-reset.err");
    writeFileSync(file, tb([resetByPeer.replace("[rank0]: ", "")]));
    expect((await parseLogFile(file)).failures?.[0]?.class).toBe("PYTHON_EXCEPTION");
  });
});

describe("exception classes told by the message", () => {
  it.each(cases)("%s", async (name, text, cls, type) => {
    const file = join(dir, `${name.replace(/\W+/g, "-")}.err`);
    writeFileSync(file, text);
    const f = (await parseLogFile(file)).failures?.[0];
    expect(f?.class).toBe(cls);
    expect(f?.exception).toMatchObject({ type });
  });
});
