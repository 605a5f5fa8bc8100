import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { records, runCli } from "../support/cli.ts";
import { useSshd } from "./support/use-sshd.ts";

// log-parse --remote reads the metric files under a run's dir on HOST (trainer_state.json,
// TensorBoard event files, metrics.csv, MLflow's file store) as a local read does. HOST is this
// machine (a real sshd on 127.0.0.1, a non-root user), so the remote report must equal log-parse's
// own local report of the same record. The files are those real runs wrote: the corpus's HF
// Trainer, Lightning CSVLogger and tensorboardX runs, and an MLflow store in its writer's format.
const fx = useSshd();
const corpus = fileURLToPath(new URL("../../packages/log-parse/test/corpus/", import.meta.url));

type Rec = { name: string; report?: { files?: { path: string; role: string; exists: boolean; note?: string; read_error?: string }[]; loss?: { metric?: string; points?: number } }; error?: { code: string } };

async function remoteParse(input: string, state: string) {
  const before = fx.sshd.accepted();
  const r = await runCli("log-parse", ["--remote", fx.sshd.host, "--remote-batch-mode", "--state", state, "-v"], { input, env: fx.env() });
  return { ...r, out: records(r.stdout) as Rec[], connections: fx.sshd.accepted() - before };
}

const localParse = async (input: string) => records((await runCli("log-parse", [], { input })).stdout) as Rec[];

const MLFLOW = String.raw`
import os, sys
run = os.path.join(sys.argv[1], "mlruns", "0", "5f1c0a9e2b7d4c3a8e6f00112233aabb")
for key, values in (("train/loss", [4.0, 3.5, 3.1, 2.9]), ("lr", [3e-4] * 4)):
    path = os.path.join(run, "metrics", key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as f:
        for step, v in enumerate(values):
            f.write(f"{1764700000000 + step} {v} {step * 10}\n")
`;

describe("log-parse --remote: the metric files under a run's dir on HOST", () => {
  it("reads trainer_state.json, event files, metrics.csv and mlruns/ there: the same report as a local read", async () => {
    const base = mkdtempSync(join(tmpdir(), "sp-remote-metrics-"));
    const cases = ["real-hf-dir", "real-pl-csv", "real-torch-tbx-ok"];
    const lines: string[] = [];
    for (const c of cases) {
      cpSync(join(corpus, c), join(base, c), { recursive: true });
      lines.push(JSON.stringify({ id: c, name: c, logs: { stdout: join(base, c, "out"), stderr: join(base, c, "err") }, dir: join(base, c, "run") }));
    }
    // An MLflow store, a symlink to a metric file (not followed: as locally) and a FIFO.
    const ml = join(base, "mlflow-run");
    mkdirSync(ml);
    writeFileSync(join(ml, "out"), "training\n");
    const w = spawnSync("python3", ["-c", MLFLOW, join(ml, "run")], { encoding: "utf8" });
    expect(w.status, w.stderr).toBe(0);
    symlinkSync(join(base, "real-pl-csv", "run", "logs", "csv", "version_0", "metrics.csv"), join(ml, "run", "metrics.csv"));
    spawnSync("mkfifo", [join(ml, "run", "trainer_state.json")]);
    lines.push(JSON.stringify({ id: "ml", name: "ml", logs: { stdout: join(ml, "out") }, dir: join(ml, "run") }));
    spawnSync("chmod", ["-R", "a+rX", base]);
    chmodSync(base, 0o755);
    const input = `${lines.join("\n")}\n`;

    const local = await localParse(input);
    const metricRoles = (out: Rec[]) => out.map((r) => (r.report?.files ?? []).map((f) => f.role).filter((role) => role !== "stdout" && role !== "stderr"));
    // (the local read itself: each run's files are found; the symlink and the FIFO are not read)
    expect(metricRoles(local)).toEqual([["trainer_state", "tfevents"], ["metrics"], ["tfevents"], ["mlflow"]]);

    const state = fx.stateDir("sp-remote-metrics-state");
    const first = await remoteParse(input, state);
    expect(first.exitCode, String(first.stderr)).toBe(0);
    expect(first.connections).toBe(1);
    expect(first.out).toEqual(local);
    expect(metricRoles(first.out)).toEqual(metricRoles(local));

    // A second run (copies reused, the mirror rebuilt) after the HF run wrote a newer trainer_state.json.
    const hf = join(base, "real-hf-dir", "run", "hf");
    mkdirSync(join(hf, "checkpoint-99"));
    cpSync(join(hf, "trainer_state.json"), join(hf, "checkpoint-99", "trainer_state.json"));
    spawnSync("chmod", ["-R", "a+rX", hf]);
    const second = await remoteParse(input, state);
    expect(second.exitCode, String(second.stderr)).toBe(0);
    const local2 = await localParse(input);
    expect(local2[0]?.report?.files?.find((f) => f.role === "trainer_state")?.path).toBe(join(hf, "checkpoint-99", "trainer_state.json"));
    expect(second.out).toEqual(local2);

    // The dir gone on HOST: no metric files, as locally.
    rmSync(join(base, "real-pl-csv", "run"), { recursive: true, force: true });
    const third = await remoteParse(input, state);
    expect(third.out).toEqual(await localParse(input));
  }, 180_000);
});
