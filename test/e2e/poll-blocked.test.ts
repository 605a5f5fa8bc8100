import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { records, runCli } from "../support/cli.ts";
import { requireCluster } from "../support/slurm.ts";
import { submitFailedAfterokChain } from "./support/blocked-chain.ts";
import { backends, cancelOwn, scratch } from "./support/recipe.ts";

// Issue #14 item 2, on both backends: an afterok chain whose upstream job FAILED leaves the
// dependent PENDING for good (reason DependencyNeverSatisfied, %E afterok:<id>(failed)). A watch
// must end on it (no --timeout), report it blocked with the upstream job named, and
// --cancel-unsatisfiable must cancel it (the record then ends CANCELLED, as Slurm reports it).
for (const backend of backends()) {
  backend.describe(`slurm-poll on a failed afterok upstream (${backend.name})`, () => {
    const s = scratch(`poll-blocked-${backend.name}`);
    const state = join(s.dir, ".slurmpipe");
    const env = () => ({ ...process.env, ...s.env });
    const common = ["--backend", backend.name, "--state", state];
    // Fresh run ids: on the real Slurm, slurm-submit would find (reconcile) jobs of an earlier run by their name tag.
    const tag = randomBytes(5).toString("hex");
    const upId = `${tag}up0000`;
    const downId = `${tag}dn0000`;
    let submitted: Record<string, unknown>[] = [];
    let upJob = "";
    let downJob = "";

    beforeAll(async () => {
      if (backend.name === "slurm") requireCluster();
      const chain = await submitFailedAfterokChain(s.dir, common, env(), { up: { id: upId, name: `up_${tag}` }, down: { id: downId, name: `down_${tag}` } });
      ({ submitted, upJob, downJob } = chain);
      expect((submitted[1]!.job as { argv: string[] }).argv).toContain(`--dependency=afterok:${upJob}`);
    });
    afterAll(async () => {
      await cancelOwn(state, backend.name, s.env.SLURMPIPE_LOCAL_DIR);
      s.cleanup();
    });

    it("a watch without --timeout ends: the dependent is blocked, the failed upstream named; exit 1", async () => {
      const log = join(s.dir, "run.log");
      const r = await runCli("slurm-poll", [...common, "--interval", "1s", "--log", log], {
        cwd: s.dir,
        env: env(),
        input: submitted.map((x) => JSON.stringify(x)).join("\n"),
        timeout: 150_000,
      });
      expect(r.timedOut).toBeFalsy();
      expect(r.exitCode, String(r.stderr)).toBe(1);
      const out = records(r.stdout);
      const down = out.filter((x) => x.kind !== "event" && x.id === downId).at(-1)!;
      expect(down.state).toMatchObject({ state: "PENDING", category: "blocked", terminal: false, blocked_by: [upJob] });
      expect(String((down.state as { reason: string }).reason)).toMatch(/DependencyNeverSatisfied/);
      const up = out.filter((x) => x.kind !== "event" && x.id === upId).at(-1)!;
      expect(up.state).toMatchObject({ state: "FAILED", category: "failure", exit_code: "3:0" });
      // Every event carries its category and, once the job started, Slurm's own start time.
      const events = out.filter((x) => x.kind === "event");
      for (const e of events) expect(e.category, JSON.stringify(e)).toBeDefined();
      const blockedEvent = events.find((e) => e.job_id === downJob && e.category === "blocked");
      expect(blockedEvent).toMatchObject({ to: "PENDING", blocked_by: [upJob] });
      const upEnd = events.find((e) => e.job_id === upJob && e.to === "FAILED")!;
      expect(upEnd.started_at).toBe((up.state as { started_at: string }).started_at);
      expect(upEnd.ended_at).toBeDefined();
      const text = readFileSync(log, "utf8");
      expect(text).toContain(`Blocked by: job ${upJob} (failed)`);
      expect(text).toMatch(/ALL_COMPLETE: Monitoring finished, NOT all runs succeeded\n.*\(1 FAILED, 1 BLOCKED\)\nBlocked: /);
    });

    it("--cancel-unsatisfiable cancels it with one scancel; its record ends CANCELLED", async () => {
      const r = await runCli("slurm-poll", [...common, "--interval", "1s", "--cancel-unsatisfiable"], {
        cwd: s.dir,
        env: env(),
        input: submitted.map((x) => JSON.stringify(x)).join("\n"),
        timeout: 150_000,
      });
      expect(r.exitCode, String(r.stderr)).toBe(1);
      expect(String(r.stderr)).toMatch(new RegExp(`cancelled 1 job\\(s\\) whose dependency can never be satisfied \\(--cancel-unsatisfiable\\): down_${tag} \\(job ${downJob}, waits on failed job ${upJob}\\)`));
      const out = records(r.stdout);
      const down = out.filter((x) => x.kind !== "event" && x.id === downId).at(-1)!;
      expect(down.state).toMatchObject({ state: "CANCELLED", terminal: true });
      expect(out.find((x) => x.kind === "event" && x.job_id === downJob && x.to === "CANCELLED")).toMatchObject({ from: "PENDING", category: "failure" });
    });
  });
}
