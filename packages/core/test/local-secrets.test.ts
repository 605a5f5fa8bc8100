import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseSbatchParsable, parseState, runLocalSlurm } from "../src/index.ts";

const SECRET = "ghp_notarealtoken0123456789";

function setup() {
  const root = mkdtempSync(join(tmpdir(), "sp-local-secret-"));
  const dir = join(root, "state");
  const work = join(root, "work");
  mkdirSync(work);
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: root, GITHUB_TOKEN: SECRET, SLURM_CONF: "/etc/slurm.conf", KEEP: "kept" };
  const run = (cmd: string, args: string[]) => runLocalSlurm(cmd, args, { dir, cwd: work, maxParallel: 2, env });
  const script = (name: string, body: string) => {
    const p = join(work, `${name}.sh`);
    writeFileSync(p, `#!/bin/bash\n#SBATCH --output=${work}/%x-%j.out\n${body}\n`);
    chmodSync(p, 0o755);
    return p;
  };
  const sbatch = async (args: string[]) => {
    const r = await run("sbatch", ["--parsable", ...args]);
    expect(r.stderr).toBe("");
    return parseSbatchParsable(r.stdout).jobId;
  };
  const wait = async (id: string) => {
    for (const end = Date.now() + 20_000; Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
      const r = await run("sacct", ["-X", "-P", "-n", "-o", "JobID,State", "-j", id]);
      const state = r.stdout.trim().split("|")[1];
      if (state && parseState(state).terminal) return state;
    }
    throw new Error(`job ${id} did not end`);
  };
  const jobFile = (id: string) => join(dir, "jobs", `${id}.json`);
  return { dir, work, run, script, sbatch, wait, jobFile };
}

describe("local backend: the job's environment is private", () => {
  it("job files are 0600 in a 0700 directory while the job waits, and keep no environment once it ended", async () => {
    const t = setup();
    const old = process.umask(0o022);
    try {
      const id = await t.sbatch(["--hold", "-J", "held", t.script("held", "true")]);
      expect(statSync(join(t.dir, "jobs")).mode & 0o777).toBe(0o700);
      expect(statSync(t.jobFile(id)).mode & 0o777).toBe(0o600);
      expect(readFileSync(t.jobFile(id), "utf8")).toContain(SECRET); // the job still needs it
      const wrap = await t.sbatch(["--wrap", `echo ${SECRET} > /dev/null`, "-J", "wrapped"]);
      for (const f of readdirSync(join(t.dir, "scripts"))) expect(statSync(join(t.dir, "scripts", f)).mode & 0o777).toBe(0o600);
      expect(statSync(join(t.dir, "scripts")).mode & 0o777).toBe(0o700);
      const done = await t.sbatch(["-J", "done", t.script("done", 'test "$GITHUB_TOKEN" = "$EXPECT" && echo ok')]);
      expect(await t.wait(done)).toBe("FAILED"); // EXPECT is unset: the job did see GITHUB_TOKEN
      expect(await t.wait(wrap)).toBe("COMPLETED");
      await t.run("scancel", [id]);
      await t.wait(id);
      for (const jid of [id, wrap, done]) {
        const text = readFileSync(t.jobFile(jid), "utf8");
        expect(text, `job ${jid}`).not.toContain(SECRET);
        expect(statSync(t.jobFile(jid)).mode & 0o777).toBe(0o600);
      }
    } finally {
      process.umask(old);
    }
  });

  it("narrows a local state directory left 0755 by an earlier version", async () => {
    const t = setup();
    mkdirSync(join(t.dir, "jobs"), { recursive: true, mode: 0o755 });
    chmodSync(join(t.dir, "jobs"), 0o755);
    const id = await t.sbatch(["--hold", t.script("x", "true")]);
    expect(statSync(join(t.dir, "jobs")).mode & 0o777).toBe(0o700);
    // A held job waits for ever, and so would its detached runner: end both.
    await t.run("scancel", [id]);
    await t.wait(id);
  });

  it("--export decides what the job gets and what is stored: NONE, NIL, a list, ALL with values", async () => {
    const t = setup();
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template
    const show = t.script("show", 'echo "token=${GITHUB_TOKEN-unset} keep=${KEEP-unset} conf=${SLURM_CONF-unset} x=${X-unset}"');
    const cases: [string, string][] = [
      ["NONE", "token=unset keep=unset conf=/etc/slurm.conf x=unset"],
      ["NIL", "token=unset keep=unset conf=unset x=unset"],
      ["KEEP,X=1", "token=unset keep=kept conf=/etc/slurm.conf x=1"],
      ["ALL,X=2", `token=${SECRET} keep=kept conf=/etc/slurm.conf x=2`],
    ];
    for (const [spec, expected] of cases) {
      const id = await t.sbatch([`--export=${spec}`, "-J", `e${cases.findIndex((c) => c[0] === spec)}`, show]);
      if (!spec.startsWith("ALL")) expect(readFileSync(t.jobFile(id), "utf8"), spec).not.toContain(SECRET);
      await t.wait(id);
      const out = readFileSync(join(t.work, `e${cases.findIndex((c) => c[0] === spec)}-${id}.out`), "utf8");
      expect(out.trim(), spec).toBe(expected);
    }
    const bad = await t.run("sbatch", ["--export=1BAD", show]);
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toMatch(/invalid variable name "1BAD" in --export/);
  });
});
