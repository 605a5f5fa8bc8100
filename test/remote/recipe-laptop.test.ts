import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { repoRoot } from "../support/cli.ts";
import { describeSlurm, requireCluster } from "../support/slurm.ts";
import { cancelOwn, ensureBin, ledgerEntries, loadRecipe, readRecords, runStep, scratch } from "../e2e/support/recipe.ts";
import { useSshd } from "./support/use-sshd.ts";

// docs/recipes/tier3-sweep.md "From your laptop", run as written: this machine is the laptop (as
// root) and, through a real sshd on 127.0.0.1, HOST (the test user's login): the run directories,
// scripts, logs and the archive are made in the test user's home by the commands over ssh, the
// jobs run on the real local Slurm as that user, the records and STATUS.md stay here.
const recipe = loadRecipe("tier3-sweep");
const cron = loadRecipe("cron");
const fixtures = join(repoRoot, "test/e2e/fixtures");
const fx = useSshd();

interface Run {
  kind: string;
  name: string;
  state: { state: string };
  report?: { failures: { class: string }[] };
  script?: { path: string };
  dir?: string;
}
const runsOf = (file: string): Run[] => readRecords(file).filter((r) => r.kind === "run") as unknown as Run[];

describeSlurm("tier3-sweep recipe, from your laptop (--remote, a real sshd, the real local Slurm)", () => {
  const s = scratch("laptop");
  const runs = `laptop-${Date.now().toString(36)}`;
  let env: Record<string, string> = {};
  const step = (name: string) => runStep(recipe, name, s.dir, env);
  const file = (name: string) => join(s.dir, name);

  beforeAll(async () => {
    requireCluster();
    await ensureBin();
    env = {
      ...s.env,
      ...fx.env(),
      REMOTE: fx.sshd.host,
      RUNS: runs,
      SWEEP: join(fixtures, "tier3-small.yaml"),
      SWEEP_FLAGS: `-p trainer=${join(fixtures, "trainer.py")}`,
      INTERVAL: "2s",
    };
  });
  afterAll(async () => {
    await cancelOwn(file(".slurmpipe"), "slurm");
    await execa("rm", ["-rf", join(fx.home, runs)], { reject: false });
    s.cleanup();
  });

  it("renders onto HOST and submits there: scripts in the test user's home, 8 jobs of that user, one each", async () => {
    const before = fx.sshd.accepted();
    await step("laptop-submit");
    const submitted = runsOf(file("submitted.ndjson"));
    expect(submitted).toHaveLength(8);
    for (const r of submitted) {
      expect(r.script!.path.startsWith(`${fx.home}/${runs}/`), r.script!.path).toBe(true);
      expect(existsSync(r.script!.path), r.script!.path).toBe(true);
    }
    // Nothing of the sweep was written here but the records and the state.
    expect(readdirSync(s.dir).sort()).toEqual([".slurmpipe", "runs.ndjson", "submitted.ndjson"]);
    const ids = ledgerEntries(file(".slurmpipe"), "submitted").map((e) => String(e.job_id));
    expect(new Set(ids).size).toBe(8);
    // slurm-render and slurm-submit shared one connection (the same state directory).
    expect(fx.sshd.accepted() - before).toBe(1);
    // A rerun submits nothing twice.
    await step("laptop-submit");
    expect(ledgerEntries(file(".slurmpipe"), "submitted")).toHaveLength(8);
  });

  it("watches, parses HOST's logs and writes STATUS.md here: 4 completed, 2 host OOM, 2 NaN", async () => {
    const r = await step("laptop-wait");
    expect(r.stdout.trim()).toBe("**4 of 8 completed (50%)** · 8 finished (100%) · 4 failed · 0 pending or running");
    const parsed = runsOf(file("parsed.ndjson"));
    expect(parsed).toHaveLength(8);
    for (const run of parsed) {
      const oom = /S-core_.*_s1$/.test(run.name);
      const nan = /S-bn-off_lr0\.1_/.test(run.name);
      expect(run.state.state, run.name).toBe(oom || nan ? "FAILED" : "COMPLETED");
      expect(run.report?.failures[0]?.class, run.name).toBe(oom ? "HOST_OOM" : nan ? "NAN_LOSS" : undefined);
    }
    // The jobs were the test user's (submitted over ssh), each run's once.
    const ids = ledgerEntries(file(".slurmpipe"), "submitted").map((e) => String(e.job_id));
    const users = await execa("sacct", ["-n", "-X", "-P", "-o", "JobID,User", "-j", ids.join(",")]);
    const rows = String(users.stdout).trim().split("\n");
    expect(rows, String(users.stdout)).toHaveLength(8);
    expect(new Set(rows.map((l) => l.split("|")[1]))).toEqual(new Set(["spremote"]));
    // The logs were fetched (the appended bytes) into the state directory, not read here in place.
    expect(existsSync(file(".slurmpipe/log-parse/remote"))).toBe(true);
    expect(readFileSync(file("STATUS.md"), "utf8")).toMatch(/HOST_OOM/);
  });

  it("the laptop's cron tick (docs/recipes/cron.md) polls HOST and rewrites STATUS.md here, over one connection", async () => {
    const before = fx.sshd.accepted();
    await runStep(cron, "laptop-tick", s.dir, { ...env, EXP: s.dir, TITLE: "Tier-3 from cron" });
    const status = readFileSync(file("STATUS.md"), "utf8");
    expect(status).toMatch(/^# Tier-3 from cron/m);
    expect(status).toMatch(/\*\*4 of 8 completed \(50%\)\*\*/);
    expect(status).toMatch(/HOST_OOM/);
    expect(readFileSync(file("cron.log"), "utf8")).not.toMatch(/error/i);
    // At most one new connection (none while the last command's master is still up).
    expect(fx.sshd.accepted() - before).toBeLessThanOrEqual(1);
  });

  it("packs the archive on HOST and fetches it here, verified", async () => {
    const r = await step("laptop-archive");
    expect(r.stdout).toMatch(/tier3-\d{8}T\d{6}Z\.tar\.gz: \d+ files, verified: true/);
    const fetched = readdirSync(s.dir).filter((f) => /^tier3-.*\.tar\.gz$/.test(f));
    expect(fetched).toHaveLength(1);
    const onHost = join(fx.home, runs, "archives", fetched[0]!);
    expect(existsSync(onHost)).toBe(true);
    expect(readFileSync(file(fetched[0]!)).equals(readFileSync(onHost))).toBe(true);
    const listing = String((await execa("tar", ["-tzf", file(fetched[0]!)])).stdout);
    expect(listing).toMatch(/metrics\.csv/);
    expect(listing).toMatch(/MANIFEST\.ndjson/);
  });
});
