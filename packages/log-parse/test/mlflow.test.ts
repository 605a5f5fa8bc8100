import { spawnSync } from "node:child_process";
import { appendFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { reportForRecord } from "../src/index.ts";

/**
 * MLflow's file store, written here as FileStore._log_run_metric writes it: for each logged value,
 * `append_to(metric_path, f"{metric.timestamp} {metric.value} {metric.step}\n")` under
 * mlruns/<experiment id>/<run id>/metrics/<key> (a key with `/` is a nested path), with Python's
 * own str() of the float (`nan`, `inf`).
 */
const WRITER = String.raw`
import math, os, sys, time
root = sys.argv[1]
run = os.path.join(root, "mlruns", "0", "5f1c0a9e2b7d4c3a8e6f00112233aabb")
os.makedirs(run, exist_ok=True)
open(os.path.join(run, "meta.yaml"), "w").write("run_id: 5f1c0a9e2b7d4c3a8e6f00112233aabb\nstatus: 1\n")
def log_metric(key, value, step):
    path = os.path.join(run, "metrics", key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as f:
        f.write(f"{int(time.time() * 1000)} {value} {step}\n")
for step in range(0, 50, 5):
    loss = math.nan if step >= 35 else 4.0 - step * 0.05
    log_metric("train/loss", loss, step)
    log_metric("lr", 3e-4, step)
print(run)
`;

describe("MLflow file store metrics (issue #15)", () => {
  it("reads mlruns/<exp>/<run>/metrics/<key> lines, nested keys and Python's nan", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lp-mlflow-"));
    const w = spawnSync("python3", ["-c", WRITER, dir], { encoding: "utf8" });
    expect(w.status, w.stderr).toBe(0);
    const r = await reportForRecord({ id: "r", name: "r", dir });
    expect(r.files?.find((f) => f.role === "mlflow")).toMatchObject({ path: w.stdout.trim(), exists: true, points: 20 });
    expect(r.loss).toMatchObject({ metric: "train/loss", first: 4, points: 10, trend: "NAN", first_nonfinite: { step: 35, raw: "nan" } });
    expect(r.series?.lr?.length).toBe(10);
    expect(r.failures?.[0]).toMatchObject({ class: "NAN_LOSS", message: "train/loss became nan at step 35" });

    // A value being written (no newline yet) is left for the next read, with a note.
    appendFileSync(join(w.stdout.trim(), "metrics", "lr"), "1764700000000 0.0003");
    const again = await reportForRecord({ id: "r", name: "r", dir });
    expect(again.series?.lr?.length).toBe(10);
    const entry = again.files?.find((f) => f.role === "mlflow") as { note?: string } | undefined;
    expect(entry?.note).toMatch(/metrics\/lr: last line incomplete/);
  });
});
