import { readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { readLedgerAttempts } from "../src/attempts.ts";
import { archive, cleanup, fileSha, sha, tempDir, write } from "./helpers.ts";

afterAll(cleanup);

const NOW = "2025-01-01T00:00:00Z";
const T1 = "2024-12-31T10:00:00.000Z"; // attempt 1 submitted
const T2 = "2024-12-31T11:00:00.000Z"; // attempt 2 submitted (after attempt 1 failed)
const at = (iso: string, plusS: number) => new Date(Date.parse(iso) + plusS * 1000);

interface Sweep {
  root: string;
  final: Record<string, unknown>;
  first: Record<string, unknown>;
  input: (...records: Record<string, unknown>[]) => string;
}

/**
 * One run, lr0.2: attempt 1 (job 200, lr 0.2 as the sweep made it) printed loss lines and failed;
 * attempt 2 (job 201, lr changed to 0.1) succeeded. Logs outside the run directory; slurm-submit's
 * ledger in <root>/.slurmpipe has both attempts.
 */
function makeRetriedRun(options: { logs?: (dir: string) => { stdout: string; stderr?: string }; ledger?: boolean; scripts?: boolean } = {}): Sweep {
  const root = tempDir("sp-archive-attempts-");
  const dir = join(root, "runs", "lr0.2");
  const logs = options.logs?.(dir) ?? { stdout: join(root, "logs", "%x-%j.out"), stderr: join(root, "logs", "%x-%j.err") };
  const base = { kind: "run", id: "run-b", name: "lr0.2", group: "lr-sweep", sweep_params: { lr: 0.2, seed: 1 }, dir, outputs: ["metrics.csv"], logs };
  const job1 = { id: "200", name: "lr0.2.sprun-b", attempt: 1, submitted_at: T1 };
  const job2 = { id: "201", name: "lr0.2.sprun-br2", attempt: 2, submitted_at: T2 };
  const script = (n: number) => (options.scripts ? { script: { path: join(root, "scripts", `lr0.2.a${n}.sbatch`), sha256: "0".repeat(64) } } : {});
  const submitted1 = { ...base, params: { lr: 0.2, seed: 1 }, job: job1, ...script(1) };
  const submitted2 = { ...base, params: { lr: 0.1, seed: 1 }, job: job2, ...script(2) };
  if (options.scripts) for (const n of [1, 2]) write(join(root, "scripts", `lr0.2.a${n}.sbatch`), `#!/bin/bash\n#SBATCH --mem=${n}G\n`);
  if (options.ledger !== false) {
    const entry = (attempt: number, record: Record<string, unknown>, job: { id: string; name: string }, when: string) =>
      JSON.stringify({ t: "submitted", run_id: "run-b", attempt, job_id: job.id, job_name: job.name, at: when, via: "sbatch", record });
    const intent = JSON.stringify({ t: "intent", run_id: "run-b", attempt: 1, job_name: job1.name, at: T1, argv: ["sbatch"] });
    write(join(root, ".slurmpipe", "ledger.ndjson"), `${intent}\n${entry(1, submitted1, job1, T1)}\n${entry(2, submitted2, job2, T2)}\n`);
  }
  if (options.logs === undefined) {
    write(join(root, "logs", "lr0.2.sprun-b-200.out"), "iter 0: loss 2.5000\niter 10: loss 2.1000\n");
    // Attempt 1 wrote no stderr file (it was removed): listed as missing, not an error.
    write(join(root, "logs", "lr0.2.sprun-br2-201.out"), "iter 0: loss 2.4000\niter 10: loss 1.9000\ndone\n");
    write(join(root, "logs", "lr0.2.sprun-br2-201.err"), "a warning\n");
  }
  // The trainer rewrote metrics.csv in attempt 2.
  write(join(dir, "metrics.csv"), "step,train_loss\n0,2.4\n10,1.9\n");
  utimesSync(join(dir, "metrics.csv"), at(T2, 60), at(T2, 60));
  const final = { ...submitted2, state: { state: "COMPLETED", category: "success", terminal: true } };
  const first = {
    ...submitted1,
    state: { state: "FAILED", category: "failure", terminal: true, exit_code: "1:0" },
    report: { series: { train_loss: [{ step: 0, value: 2.5 }, { step: 10, value: 2.1 }] } },
  };
  return { root, final, first, input: (...records) => `${records.map((r) => JSON.stringify(r)).join("\n")}\n` };
}

const manifestOf = (dir: string) =>
  readFileSync(join(dir, "MANIFEST.ndjson"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const archiveDir = (root: string) => join(root, "archives", "lr-sweep-20250101T000000Z");

describe("every attempt's logs, by attempt", () => {
  test("the ledger's earlier attempt is archived under _logs/attempt-1, the latest under _logs/attempt-2, byte for byte", async () => {
    const s = makeRetriedRun();
    const r = await archive({ now: NOW, state: ".slurmpipe", stateGiven: false }, { cwd: s.root, input: s.input(s.final) });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const manifest = manifestOf(archiveDir(s.root));
    const logs = manifest.filter((e) => e.role === "log");
    expect(logs.map((e) => [e.path, e.attempt, e.job_id]).sort()).toEqual([
      ["runs/lr0.2/_logs/attempt-1/lr0.2.sprun-b-200.out", 1, "200"],
      ["runs/lr0.2/_logs/attempt-2/lr0.2.sprun-br2-201.err", 2, "201"],
      ["runs/lr0.2/_logs/attempt-2/lr0.2.sprun-br2-201.out", 2, "201"],
    ]);
    for (const e of logs) expect(sha(readFileSync(join(archiveDir(s.root), String(e.path))))).toBe(fileSha(String(e.source)));
    // Attempt 1's missing stderr log is a warning naming the attempt, not an error.
    const missing = r.records.filter((x) => x.kind === "archive-check" && x.problem === "missing_log");
    expect(missing).toEqual([expect.objectContaining({ severity: "warning", attempt: 1, job_id: "200", pattern: join(s.root, "logs", "%x-%j.err") })]);
    expect(String(missing[0]!.message)).toMatch(/stderr log of attempt 1 \(job 200\)/);
  });

  test("without a ledger only the record's own attempt is known", async () => {
    const s = makeRetriedRun({ ledger: false });
    const r = await archive({ now: NOW, state: ".slurmpipe", stateGiven: false }, { cwd: s.root, input: s.input(s.final) });
    expect(r.code).toBe(0);
    const logs = manifestOf(archiveDir(s.root)).filter((e) => e.role === "log");
    expect(logs.map((e) => e.path).sort()).toEqual(["runs/lr0.2/_logs/attempt-2/lr0.2.sprun-br2-201.err", "runs/lr0.2/_logs/attempt-2/lr0.2.sprun-br2-201.out"]);
  });

  test("earlier records of the run in the input are its earlier attempts (one run, not two)", async () => {
    const s = makeRetriedRun({ ledger: false });
    const r = await archive({ now: NOW }, { cwd: s.root, input: s.input(s.first, s.final) });
    expect(r.code).toBe(0);
    const paths = manifestOf(archiveDir(s.root)).map((e) => String(e.path));
    expect(paths.filter((p) => p.startsWith("runs/")).every((p) => p.startsWith("runs/lr0.2/"))).toBe(true);
    expect(paths).toContain("runs/lr0.2/_logs/attempt-1/lr0.2.sprun-b-200.out");
    expect(paths).toContain("runs/lr0.2/_logs/attempt-2/lr0.2.sprun-br2-201.out");
  });

  test("a log file two attempts share (a pattern without %j) is archived once, as the latest attempt's, with a warning", async () => {
    const s = makeRetriedRun({ logs: () => ({ stdout: "logs/train.out" }) });
    write(join(s.root, "logs", "train.out"), "attempt 2 overwrote this\n");
    const r = await archive({ now: NOW, state: ".slurmpipe", stateGiven: false, logBase: s.root }, { cwd: s.root, input: s.input(s.final) });
    expect(r.code).toBe(0);
    const logs = manifestOf(archiveDir(s.root)).filter((e) => e.role === "log");
    expect(logs.map((e) => [e.path, e.attempt])).toEqual([["runs/lr0.2/_logs/attempt-2/train.out", 2]]);
    const shared = r.records.filter((x) => x.kind === "archive-check" && x.problem === "shared_log");
    expect(shared).toEqual([expect.objectContaining({ severity: "warning", attempt: 1 })]);
  });

  test("logs in the run directory are stored by attempt beside their place there, and only once", async () => {
    const s = makeRetriedRun({ logs: (dir) => ({ stdout: join(dir, "logs", "%j.out") }) });
    const runDir = join(s.root, "runs", "lr0.2");
    write(join(runDir, "logs", "200.out"), "iter 0: loss 2.5\n");
    write(join(runDir, "logs", "201.out"), "iter 0: loss 2.4\n");
    const r = await archive({ now: NOW, state: ".slurmpipe", stateGiven: false }, { cwd: s.root, input: s.input(s.final) });
    expect(r.code).toBe(0);
    const manifest = manifestOf(archiveDir(s.root));
    expect(manifest.filter((e) => String(e.source).includes("/logs/")).map((e) => [e.path, e.attempt, e.role]).sort()).toEqual([
      ["runs/lr0.2/logs/attempt-1/200.out", 1, "log"],
      ["runs/lr0.2/logs/attempt-2/201.out", 2, "log"],
    ]);
  });

  test("an earlier attempt's own script (rendered anew for the retry) is archived too, by attempt", async () => {
    const s = makeRetriedRun({ scripts: true });
    const r = await archive({ now: NOW, state: ".slurmpipe", stateGiven: false }, { cwd: s.root, input: s.input(s.final) });
    expect(r.code).toBe(0);
    const scripts = manifestOf(archiveDir(s.root)).filter((e) => e.role === "script");
    expect(scripts.map((e) => [e.path, e.attempt]).sort()).toEqual([
      ["runs/lr0.2/_slurm/attempt-1/lr0.2.a1.sbatch", 1],
      ["runs/lr0.2/_slurm/lr0.2.a2.sbatch", undefined],
    ]);
  });

  test("a --state that does not exist is a usage error naming the flag", async () => {
    const s = makeRetriedRun();
    const r = await archive({ now: NOW, state: "nope", stateGiven: true }, { cwd: s.root, input: s.input(s.final) });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--state: nope is not a directory/);
  });
});

describe("the dataset carries the params each attempt ran with", () => {
  const csvOf = (root: string) => readFileSync(join(archiveDir(root), "metrics.csv"), "utf8").trim().split("\n");
  const ndjsonOf = (root: string) =>
    readFileSync(join(archiveDir(root), "metrics.ndjson"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  test("rows by attempt: attempt 1 from its parsed record (lr 0.2, as the sweep), attempt 2 from metrics.csv (lr 0.1, changed)", async () => {
    const s = makeRetriedRun();
    const r = await archive({ now: NOW, state: ".slurmpipe", stateGiven: false }, { cwd: s.root, input: s.input(s.first, s.final) });
    expect(r.code).toBe(0);
    expect(csvOf(s.root)).toEqual([
      "run_id,name,variant,attempt,state,lr,seed,params_changed,param_changes,step,train_loss",
      "run-b,lr0.2,,1,FAILED,0.2,1,false,,0,2.5",
      "run-b,lr0.2,,1,FAILED,0.2,1,false,,10,2.1",
      "run-b,lr0.2,,2,COMPLETED,0.1,1,true,lr=0.1 (sweep: 0.2),0,2.4",
      "run-b,lr0.2,,2,COMPLETED,0.1,1,true,lr=0.1 (sweep: 0.2),10,1.9",
    ]);
    const nd = ndjsonOf(s.root);
    expect(nd[0]).toMatchObject({ run_id: "run-b", attempt: 1, job_id: "200", params: { lr: 0.2, seed: 1 }, params_changed: false, param_changes: [], step: 0 });
    expect(nd[3]).toMatchObject({ attempt: 2, job_id: "201", params: { lr: 0.1, seed: 1 }, params_changed: true, param_changes: [{ key: "lr", sweep: 0.2, ran: 0.1 }] });
  });

  test("a record without an attempt number whose job the ledger knows is that attempt", async () => {
    const s = makeRetriedRun();
    const { attempt: _n, ...job } = s.final.job as Record<string, unknown>;
    // Its series (no metrics.csv here) are attempt 2's.
    rmSync(join(s.root, "runs", "lr0.2", "metrics.csv"));
    const parsed = { ...s.final, job, outputs: [], report: { series: { train_loss: [{ step: 5, value: 1.5 }] } } };
    const r = await archive({ now: NOW, state: ".slurmpipe", stateGiven: false }, { cwd: s.root, input: s.input(parsed) });
    expect(r.code).toBe(0);
    expect(csvOf(s.root).slice(1)).toEqual(["run-b,lr0.2,,2,COMPLETED,0.1,1,true,lr=0.1 (sweep: 0.2),5,1.5"]);
    const logs = manifestOf(archiveDir(s.root)).filter((e) => e.role === "log");
    expect(logs.map((e) => e.attempt).sort()).toEqual([1, 2, 2]);
  });

  test("each metrics.csv goes to the attempt running when it was last written", async () => {
    const s = makeRetriedRun();
    const dir = join(s.root, "runs", "lr0.2");
    const v0 = join(dir, "lightning_logs", "version_0", "metrics.csv");
    write(v0, "step,train_loss\n0,2.5\n10,2.1\n");
    utimesSync(v0, at(T1, 60), at(T1, 60));
    writeFileSync(join(dir, "metrics.csv"), "step,train_loss\n0,2.4\n");
    utimesSync(join(dir, "metrics.csv"), at(T2, 60), at(T2, 60));
    const r = await archive({ now: NOW, state: ".slurmpipe", stateGiven: false }, { cwd: s.root, input: s.input(s.final) });
    expect(r.code).toBe(0);
    // Attempt 1's record is the ledger's (no state known), attempt 2's the input's.
    expect(csvOf(s.root).slice(1)).toEqual(["run-b,lr0.2,,1,,0.2,1,false,,0,2.5", "run-b,lr0.2,,1,,0.2,1,false,,10,2.1", "run-b,lr0.2,,2,COMPLETED,0.1,1,true,lr=0.1 (sweep: 0.2),0,2.4"]);
  });

  test("records without attempts, sweep params or a state keep the columns they had", async () => {
    const s = makeRetriedRun({ ledger: false });
    const { job: _job, sweep_params: _sweep, state: _state, ...plain } = s.final;
    const r = await archive({ now: NOW }, { cwd: s.root, input: s.input(plain) });
    expect(r.code).toBe(0);
    expect(csvOf(s.root)[0]).toBe("run_id,name,variant,lr,seed,step,train_loss");
  });
});

describe("readLedgerAttempts", () => {
  test("keeps the wanted runs' attempts only, with what archiving needs; a torn last line is a warning", async () => {
    const dir = tempDir("sp-archive-ledger-");
    const line = (run: string, attempt: number, id: string) =>
      JSON.stringify({ t: "submitted", run_id: run, attempt, job_id: id, job_name: `${run}.sp`, at: T1, record: { id: run, name: run, command: ["x"], params: { lr: attempt }, logs: { stdout: "%j.out" }, job: { id, attempt } } });
    write(join(dir, "ledger.ndjson"), `${line("a", 1, "10")}\n${line("b", 1, "11")}\n${line("a", 2, "12")}\n{"t":"subm`);
    const warnings: string[] = [];
    const got = await readLedgerAttempts(dir, new Set(["a"]), (m) => warnings.push(m));
    expect([...got.keys()]).toEqual(["a"]);
    expect([...got.get("a")!.entries()].map(([n, r]) => [n, r.job?.id, r.params, r.logs, r.command])).toEqual([
      [1, "10", { lr: 1 }, { stdout: "%j.out" }, undefined],
      [2, "12", { lr: 2 }, { stdout: "%j.out" }, undefined],
    ]);
    expect(warnings).toEqual([expect.stringMatching(/ledger\.ndjson:4: a line torn by a crash is ignored/)]);
  });
});
