import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parseState } from "@slurmpipe/core";
import { records, runCli } from "../support/cli.ts";
import { describeSlurm, requireCluster, waitForJobs } from "../support/slurm.ts";

/**
 * log-parse against real jobs on the local Slurm: tiny training scripts that print realistic
 * loss lines and fail in the ways the issue names (Python exception, NaN, time limit, host OOM via
 * a real MemoryError under ulimit, a CUDA-OOM message, a missing module, scancel), plus an array
 * whose log pattern needs the task's raw job id. One TIMEOUT job (>= 60 s) runs alongside the others.
 */
const TRAIN = `
import math, sys, time, os
mode = sys.argv[1]
print("Using device: cuda:0", flush=True)
for i in range(30):
    loss = 4.0 * math.exp(-i / 10) + 0.5
    if mode == "nan" and i >= 20:
        loss = float("nan")
    print(f"iter {i}: loss {loss:.4f}, time 12.00ms, mfu 30.00%", flush=True)
    if mode == "exception" and i == 15:
        cfg = {}
        def load(c):
            return c["lr"]
        load(cfg)
    if mode == "cuda_oom" and i == 10:
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.90 GiB total capacity; 13.13 GiB already allocated; 415.88 MiB free; 14.80 GiB reserved in total by PyTorch)")
    if mode == "host_oom" and i == 5:
        hog = bytearray(2 * 1024 ** 3)
    if mode in ("timeout", "cancel"):
        time.sleep(10)
if mode == "nan":
    print("Loss is nan, stopping training", flush=True)
`;

interface Job {
  name: string;
  mode: string;
  extra?: string[];
  pre?: string;
  expect: { state: RegExp; classes: string[]; trend: string };
}

const JOBS: Job[] = [
  { name: "ok", mode: "ok", expect: { state: /^COMPLETED/, classes: [], trend: "DECREASING" } },
  { name: "exc", mode: "exception", expect: { state: /^FAILED/, classes: ["PYTHON_EXCEPTION"], trend: "DECREASING" } },
  { name: "nan", mode: "nan", expect: { state: /^COMPLETED/, classes: ["NAN_LOSS"], trend: "NAN" } },
  { name: "cudaoom", mode: "cuda_oom", expect: { state: /^FAILED/, classes: ["CUDA_OOM"], trend: "DECREASING" } },
  { name: "hostoom", mode: "host_oom", pre: "ulimit -v 600000", expect: { state: /^FAILED/, classes: ["HOST_OOM"], trend: "DECREASING" } },
  { name: "import", mode: "ok", pre: "python3 -c 'import slurmpipe_no_such_module'", expect: { state: /^FAILED/, classes: ["IMPORT_ERROR"], trend: "NO_DATA" } },
  { name: "timeout", mode: "timeout", extra: ["--time=1"], expect: { state: /^TIMEOUT/, classes: ["TIME_LIMIT"], trend: "DECREASING" } },
  // cancelled 3 s after it starts: one loss line, too few for a trend
  { name: "cancel", mode: "cancel", expect: { state: /^CANCELLED/, classes: ["CANCELLED"], trend: "NO_DATA" } },
];

let dir: string;
const submitted = new Map<string, string>(); // name -> job id
let arrayId = "";

async function sbatch(args: string[]): Promise<string> {
  const r = await execa("sbatch", ["--parsable", ...args]);
  return r.stdout.trim().split(";")[0]!;
}

describeSlurm("log-parse on real jobs", () => {
  beforeAll(async () => {
    requireCluster();
    dir = await mkdtemp(join(tmpdir(), "sp-logparse-it-"));
    await writeFile(join(dir, "train.py"), TRAIN);
    for (const j of JOBS) {
      const script = [
        "#!/bin/bash",
        j.pre ? `${j.pre} || exit $?` : "",
        `python3 -u ${join(dir, "train.py")} ${j.mode}`,
        "",
      ].join("\n");
      await writeFile(join(dir, `${j.name}.sh`), script);
      const id = await sbatch([`--job-name=sp-lp-${j.name}`, `--output=${dir}/%x-%j.out`, `--error=${dir}/%x-%j.err`, ...(j.extra ?? []), join(dir, `${j.name}.sh`)]);
      submitted.set(j.name, id);
    }
    await writeFile(join(dir, "arr.sh"), `#!/bin/bash\npython3 -u ${join(dir, "train.py")} ok\n`);
    arrayId = await sbatch(["--job-name=sp-lp-arr", "--array=0-1", `--output=${dir}/%x-%A_%a-%j.out`, join(dir, "arr.sh")]);
    // Cancel the "cancel" job once it is running (it sleeps between steps).
    const cancelId = submitted.get("cancel")!;
    for (let i = 0; i < 60; i++) {
      const q = await execa("squeue", ["-h", "-j", cancelId, "-o", "%T"], { reject: false });
      if (q.stdout.trim() === "RUNNING") break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    await new Promise((r) => setTimeout(r, 3000));
    await execa("scancel", [cancelId]);
  }, 120_000);

  afterAll(async () => {
    const ids = [...submitted.values(), arrayId].filter(Boolean);
    if (ids.length) await execa("scancel", ids, { reject: false });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("classifies every failure and trend from the logs and the sacct state", async () => {
    const ids = [...submitted.values()];
    const states = await waitForJobs([...ids, `${arrayId}_0`, `${arrayId}_1`], 200_000);
    const sacct = await execa("sacct", ["-n", "-X", "-P", "-o", "JobID,JobIDRaw,State,ExitCode,ElapsedRaw,TimelimitRaw,NodeList", "-j", [...ids, arrayId].join(",")]);
    const rows = new Map(
      sacct.stdout
        .trim()
        .split("\n")
        .map((l) => l.split("|"))
        .map(([jobid, raw, state, exit, elapsed, limit, nodes]) => [jobid!, { raw: raw!, state: state!, exit: exit!, elapsed: Number(elapsed), limit: Number(limit), nodes: nodes! }]),
    );
    const record = (name: string, jobId: string, logs: { stdout: string; stderr?: string }, job: Record<string, unknown>) => {
      const row = rows.get(jobId)!;
      const p = parseState(row.state);
      return {
        id: `itlogparse${name.padEnd(10, "0")}`,
        name,
        params: { lr: 0.001, batch_size: 32 },
        resources: { mem: "1G" },
        logs,
        job: { id: jobId, name: `sp-lp-${name}`, ...job },
        state: { state: p.state, category: p.category, terminal: p.terminal, exit_code: row.exit, elapsed_s: row.elapsed, time_limit_s: Number.isFinite(row.limit) ? row.limit * 60 : undefined, node_list: row.nodes },
      };
    };
    const input = [
      ...JOBS.map((j) => record(j.name, submitted.get(j.name)!, { stdout: `${dir}/%x-%j.out`, stderr: `${dir}/%x-%j.err` }, {})),
      // No raw_id: the pattern has %A and %a, so the file is found by matching %j.
      ...[0, 1].map((t) => record(`arr${t}`, `${arrayId}_${t}`, { stdout: `${dir}/%x-%A_%a-%j.out` }, { name: "sp-lp-arr", array_job_id: arrayId, array_task: t })),
      { kind: "event", job_id: "1", from: null, to: "RUNNING", at: "2024-01-01T00:00:00" },
    ];
    const r = await runCli("log-parse", [], { input: input.map((x) => JSON.stringify(x)).join("\n") });
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    const out = records(r.stdout);
    expect(out).toHaveLength(input.length);
    expect(out.at(-1)).toEqual(input.at(-1));
    const byName = new Map(out.map((o) => [o.name as string, o as { report: Record<string, never>; state: { state: string } }]));
    for (const j of JOBS) {
      const o = byName.get(j.name)!;
      expect(`${j.name}: ${states.get(submitted.get(j.name)!)}`).toMatch(new RegExp(`^${j.name}: ${j.expect.state.source.slice(1)}`));
      const rep = o.report as unknown as { failures: { class: string; evidence?: { line: number; file: string }[]; suggested: { action: string; changes?: unknown } }[]; loss: { trend: string } };
      expect(`${j.name}: ${rep.failures.map((f) => f.class).join(",")}`).toBe(`${j.name}: ${j.expect.classes.join(",")}`);
      expect(`${j.name}: ${rep.loss.trend}`).toBe(`${j.name}: ${j.expect.trend}`);
    }
    const rep = (n: string) => byName.get(n)!.report as unknown as { failures: { class: string; message: string; evidence?: { line: number; file: string; text: string }[]; suggested: { action: string; changes?: unknown }; exception?: { type: string; frame?: { line: number; function: string } } }[]; files: { exists: boolean; path: string }[]; loss: Record<string, unknown>; steps_seen: number };
    expect(rep("exc").failures[0]).toMatchObject({ exception: { type: "KeyError", frame: { function: "load" } }, suggested: { action: "do_not_retry" } });
    expect(rep("exc").failures[0]!.evidence![0]!.file).toMatch(/sp-lp-exc-\d+\.err$/);
    expect(rep("nan").loss).toMatchObject({ first_nonfinite: { step: 20, line: 22 } });
    expect(rep("nan").failures[0]!.suggested).toMatchObject({ action: "lower_lr", changes: { params: { lr: 0.0005 } } });
    expect(rep("cudaoom").failures[0]!.suggested).toMatchObject({ action: "reduce_batch", changes: { params: { batch_size: 16 } } });
    expect(rep("hostoom").failures[0]!.suggested).toMatchObject({ action: "increase_mem" });
    expect(rep("timeout").failures[0]).toMatchObject({ evidence: [{ text: expect.stringContaining("DUE TO TIME LIMIT") }], suggested: { action: "increase_time", changes: { resources: { time: "00:01:30" } } } });
    expect(rep("import").failures[0]!.message).toMatch(/slurmpipe_no_such_module/);
    for (const t of [0, 1]) {
      const a = rep(`arr${t}`);
      expect(a.files[0]!.exists).toBe(true);
      expect(a.files[0]!.path).toMatch(new RegExp(`sp-lp-arr-${arrayId}_${t}-\\d+\\.out$`));
      expect(a.steps_seen).toBe(29);
    }
  }, 300_000);
});
