import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseJobId, parseSbatchParsable, parseState, runLocalSlurm, runSlurm } from "../src/index.ts";

function setup(maxParallel = 4) {
  const root = mkdtempSync(join(tmpdir(), "sp-local-"));
  const dir = join(root, "state");
  const work = join(root, "work");
  mkdirSync(join(work, "logs"), { recursive: true });
  const script = (name: string, body: string, directives = "") => {
    const p = join(work, `${name}.sh`);
    writeFileSync(p, `#!/bin/bash\n#SBATCH --output=logs/%x-%j.out\n${directives}\n${body}\n`);
    chmodSync(p, 0o755);
    return p;
  };
  const run = (cmd: string, args: string[]) => runLocalSlurm(cmd, args, { dir, cwd: work, maxParallel });
  const sbatch = async (args: string[]) => {
    const r = await run("sbatch", ["--parsable", ...args]);
    expect(r.stderr).toBe("");
    return parseSbatchParsable(r.stdout).jobId;
  };
  const sacctStates = async (ids: string[]) => {
    const r = await run("sacct", ["-X", "-P", "-n", "-o", "JobID,State,ExitCode", "-j", ids.join(",")]);
    return new Map(r.stdout.trim().split("\n").filter(Boolean).map((l) => { const [id, st, ec] = l.split("|"); return [id!, { state: st!, exit: ec! }]; }));
  };
  const wait = async (ids: string[], ms = 20_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const s = await sacctStates(ids);
      if (ids.every((id) => s.get(id) && parseState(s.get(id)!.state).terminal)) return s;
      if (Date.now() > end) throw new Error(`timeout: ${JSON.stringify([...s])}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  return { dir, work, script, run, sbatch, wait };
}

describe("local backend", () => {
  it("runs scripts with Slurm's environment, output patterns and exit states", async () => {
    const t = setup();
    const ok = await t.sbatch(["--job-name=okjob", t.script("ok", 'echo "id=$SLURM_JOB_ID name=$SLURM_JOB_NAME dir=$SLURM_SUBMIT_DIR"')]);
    const bad = await t.sbatch([t.script("bad", "echo oops >&2; exit 3", "#SBATCH --job-name=badjob")]);
    const states = await t.wait([ok, bad]);
    expect(states.get(ok)).toEqual({ state: "COMPLETED", exit: "0:0" });
    expect(states.get(bad)).toEqual({ state: "FAILED", exit: "3:0" });
    expect(readFileSync(join(t.work, "logs", `okjob-${ok}.out`), "utf8")).toBe(`id=${ok} name=okjob dir=${t.work}\n`);
    expect(readFileSync(join(t.work, "logs", `badjob-${bad}.out`), "utf8")).toBe("oops\n");
  });

  it("kills a job past its --time and reports TIMEOUT with slurmstepd's message", async () => {
    const t = setup();
    const id = await t.sbatch(["--time=0:01", "-J", "slow", t.script("slow", "sleep 30")]);
    const states = await t.wait([id]);
    expect(states.get(id)!.state).toBe("TIMEOUT");
    expect(readFileSync(join(t.work, "logs", `slow-${id}.out`), "utf8")).toMatch(/CANCELLED AT .* DUE TO TIME LIMIT/);
  });

  it("runs arrays with a concurrency cap and shows pending tasks as one record", async () => {
    const t = setup();
    const id = await t.sbatch(["--array=0-3%1", "-J", "arr", "-o", "logs/arr-%A_%a.out", t.script("arr", 'echo "task=$SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_JOB_ID"; sleep 0.5')]);
    const sq = await t.run("squeue", ["-h", "-o", "%i|%T"]);
    expect(sq.stdout).toMatch(new RegExp(`^${id}_\\[\\d(-3|,\\d)?.*%1\\]\\|PENDING$`, "m"));
    const tasks = [0, 1, 2, 3].map((k) => `${id}_${k}`);
    const states = await t.wait(tasks);
    for (const task of tasks) expect(states.get(task)!.state).toBe("COMPLETED");
    expect(readFileSync(join(t.work, "logs", `arr-${id}_2.out`), "utf8")).toBe(`task=2 of ${id}\n`);
    // The throttle held: start/end intervals never overlapped.
    const rows = (await t.run("sacct", ["-X", "-P", "-n", "-o", "JobID,Start,End", "-j", id])).stdout.trim().split("\n").map((l) => l.split("|"));
    const spans = rows.map(([, s, e]) => [Date.parse(s!), Date.parse(e!)] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
    expect(parseJobId(rows[0]![0]!).arrayTask).toBeDefined();
  });

  it("honours afterok dependencies; a job whose dependency failed stays PENDING (DependencyNeverSatisfied) as in Slurm 22.05", async () => {
    const t = setup();
    const first = await t.sbatch([t.script("first", `sleep 1; touch ${join(t.work, "first-done")}`)]);
    const second = await t.sbatch([`--dependency=afterok:${first}`, t.script("second", `test -e ${join(t.work, "first-done")}`)]);
    const bad = await t.sbatch([t.script("bad2", "exit 1")]);
    const never = await t.sbatch([`--dependency=afterok:${bad}`, t.script("never", "true")]);
    const states = await t.wait([first, second, bad]);
    expect(states.get(second)!.state).toBe("COMPLETED");
    const row = async (id: string) => (await t.run("squeue", ["-h", "-t", "all", "-j", `${id},${id}`, "-o", "%T|%r|%E"])).stdout.trim();
    for (let i = 0; i < 50 && (await row(never)) !== `PENDING|DependencyNeverSatisfied|afterok:${bad}(failed)`; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await row(never)).toBe(`PENDING|DependencyNeverSatisfied|afterok:${bad}(failed)`);
    expect(await row(second)).toBe("COMPLETED|None|(null)"); // satisfied: dropped
    await t.run("scancel", [never]);
    expect(await row(never)).toBe(`CANCELLED|DependencyNeverSatisfied|afterok:${bad}(failed)`);
  });

  it("scancel stops a running job; squeue forgets finished jobs only with -t all", async () => {
    const t = setup();
    const id = await t.sbatch([t.script("long", "sleep 60")]);
    for (let i = 0; i < 50; i++) {
      if ((await t.run("squeue", ["-h", "-j", `${id},${id}`, "-o", "%T"])).stdout.trim() === "RUNNING") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await t.run("scancel", [id]);
    const states = await t.wait([id]);
    expect(states.get(id)!.state).toMatch(/^CANCELLED by \d+$/);
    expect((await t.run("squeue", ["-h", "-j", `${id},${id}`, "-o", "%T"])).stdout).toBe("");
    expect((await t.run("squeue", ["-h", "-t", "all", "-j", `${id},${id}`, "-o", "%T"])).stdout).toBe("CANCELLED\n");
  });

  it("answers like Slurm to bad command lines and unknown ids", async () => {
    const t = setup();
    expect(await t.run("sbatch", ["--nonsense", "x.sh"])).toMatchObject({ exitCode: 255, stderr: expect.stringContaining("unrecognized option '--nonsense'") });
    expect(await t.run("sbatch", ["--time=abc", t.script("x", "true")])).toMatchObject({ exitCode: 255, stderr: expect.stringContaining("Invalid --time specification") });
    expect(await t.run("squeue", ["-j", "999999"])).toMatchObject({ exitCode: 1, stderr: "slurm_load_jobs error: Invalid job id specified\n" });
    expect(await t.run("squeue", ["-h", "-j", "999999,999998"])).toMatchObject({ exitCode: 0, stdout: "" });
    expect(await t.run("sacct", ["-o", "Bogus"])).toMatchObject({ exitCode: 1 });
    const noShebang = join(t.work, "plain.txt");
    writeFileSync(noShebang, "echo hi\n");
    expect((await t.run("sbatch", [noShebang])).stderr).toContain("This does not look like a batch script");
  });

  it("is selected through runSlurm's backend option", async () => {
    const t = setup();
    const r = await runSlurm("sbatch", ["--parsable", t.script("viarunner", "true")], { backend: "local", localStateDir: t.dir, cwd: t.work });
    const id = parseSbatchParsable(r.stdout).jobId;
    await t.wait([id]);
    expect(existsSync(join(t.work, "logs", `viarunner.sh-${id}.out`))).toBe(true);
  });

  it("starts waiting jobs in submission order across sbatch calls (one FIFO, not a race of runners)", async () => {
    const t = setup(1);
    const ids: string[] = [];
    // Separate sbatch calls: each spawns its own runner, all waiting for the one slot.
    for (let i = 0; i < 6; i++) ids.push(await t.sbatch(["-J", `fifo${i}`, t.script(`fifo${i}`, "sleep 0.3")]));
    await t.wait(ids, 40_000);
    const startMs = ids.map((id) => Date.parse(JSON.parse(readFileSync(join(t.dir, "jobs", `${id}.json`), "utf8")).start_time));
    const byStart = [...ids].sort((a, b) => startMs[ids.indexOf(a)]! - startMs[ids.indexOf(b)]!);
    expect(byStart).toEqual(ids);
    const rows = (await t.run("sacct", ["-X", "-P", "-n", "-o", "JobID,Start,End", "-j", ids.join(",")])).stdout.trim().split("\n").map((l) => l.split("|"));
    const sacctStart = new Map(rows.map(([id, start]) => [id!, start!]));
    for (let i = 1; i < ids.length; i++) expect(sacctStart.get(ids[i]!)! >= sacctStart.get(ids[i - 1]!)!).toBe(true);
    // One slot: no two ran at once; and the queue is empty again.
    const spans = rows.map(([, s, e]) => [Date.parse(s!), Date.parse(e!)] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
    expect(readdirSync(join(t.dir, "queue"))).toEqual([]);
  });

  it("a held or cancelled job does not block the queue", async () => {
    const t = setup(1);
    const held = await t.sbatch(["--hold", t.script("held", "true")]);
    const doomed = await t.sbatch(["--dependency=afterok:999999_1", t.script("doomed", "sleep 30")]);
    const gone = await t.sbatch([t.script("gone", "sleep 30")]);
    await t.run("scancel", [doomed, gone]);
    const after = await t.sbatch([t.script("after", "true")]);
    const states = await t.wait([after, gone, doomed]);
    expect(states.get(after)!.state).toBe("COMPLETED");
    expect((await t.run("squeue", ["-h", "-j", `${held},${held}`, "-o", "%T|%r"])).stdout).toBe("PENDING|None\n");
    await t.run("scancel", [held]);
  });

  it("records the requested memory: SLURM_MEM_PER_NODE / SLURM_MEM_PER_CPU, sacct ReqMem, squeue %m", async () => {
    const t = setup();
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template
    const show = 'echo "node=${SLURM_MEM_PER_NODE-unset} cpu=${SLURM_MEM_PER_CPU-unset}"';
    const gig = await t.sbatch(["--mem=4G", "-J", "gig", t.script("gig", show)]);
    const mb = await t.sbatch(["-J", "mb", t.script("mb", show, "#SBATCH --mem=8000")]);
    const perCpu = await t.sbatch(["--mem-per-cpu=1000", "-c", "2", "-J", "percpu", t.script("percpu", show, "#SBATCH --mem=64G")]);
    const none = await t.sbatch(["-J", "none", t.script("none", show)]);
    await t.wait([gig, mb, perCpu, none]);
    const out = (name: string, id: string) => readFileSync(join(t.work, "logs", `${name}-${id}.out`), "utf8");
    expect(out("gig", gig)).toBe("node=4096 cpu=unset\n");
    expect(out("mb", mb)).toBe("node=8000 cpu=unset\n");
    expect(out("percpu", perCpu)).toBe("node=unset cpu=1000\n");
    expect(out("none", none)).toBe("node=unset cpu=unset\n");
    const all = [gig, mb, perCpu, none].join(",");
    const reqMem = async (extra: string[]) =>
      new Map((await t.run("sacct", ["-P", "-n", "-o", "JobID,ReqMem", "-j", all, ...extra])).stdout.trim().split("\n").map((l) => l.split("|") as [string, string]));
    const converted = await reqMem([]);
    expect([gig, mb, perCpu, none].map((id) => converted.get(id))).toEqual(["4G", "8000M", "2000M", "0"]);
    expect(converted.get(`${gig}.batch`)).toBe(""); // only on the job line
    const raw = await reqMem(["--noconvert"]);
    expect([gig, mb, perCpu].map((id) => raw.get(id))).toEqual(["4096M", "8000M", "2000M"]);
    const sq = new Map((await t.run("squeue", ["-h", "-t", "all", "-j", all, "-o", "%i|%m"])).stdout.trim().split("\n").map((l) => l.split("|") as [string, string]));
    expect([gig, mb, perCpu, none].map((id) => sq.get(id))).toEqual(["4G", "8000M", "1000M", "0"]);
    // sbatch's own answers to bad memory options.
    expect(await t.run("sbatch", ["--mem=4X", t.script("x", "true")])).toMatchObject({ exitCode: 255, stderr: expect.stringContaining("invalid memory constraint 4X") });
    expect(await t.run("sbatch", ["--mem=1G", "--mem-per-cpu=1G", t.script("x", "true")])).toMatchObject({ exitCode: 255, stderr: expect.stringContaining("mutually exclusive") });
  });
});
