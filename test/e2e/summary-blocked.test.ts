import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runCli } from "../support/cli.ts";
import { requireCluster } from "../support/slurm.ts";
import { submitFailedAfterokChain } from "./support/blocked-chain.ts";
import { backends, cancelOwn, scratch } from "./support/recipe.ts";
import { tableRow } from "./support/summary-pipeline.ts";

// Issue #14 item 2, summary side, on both backends: an afterok chain whose upstream FAILED leaves
// the dependent PENDING for good (DependencyNeverSatisfied). The watch ends on it, and summary-md
// shows it BLOCKED, naming the failed upstream job, in the report's tables and headline and in the
// experiment_summary.md table, not as pending.
for (const backend of backends()) {
  backend.describe(`summary-md on a failed afterok upstream (${backend.name})`, () => {
    const s = scratch(`summary-blocked-${backend.name}`);
    const state = join(s.dir, ".slurmpipe");
    const env = () => ({ ...process.env, ...s.env });
    const common = ["--backend", backend.name, "--state", state];
    // Fresh names: on the real Slurm, slurm-submit would reconcile jobs of an earlier run by their name tag.
    const tag = randomBytes(5).toString("hex");
    const up = `up_${tag}`;
    const down = `down_${tag}`;
    let polled = "";
    let upJob = "";
    let downJob = "";

    beforeAll(async () => {
      if (backend.name === "slurm") requireCluster();
      const chain = await submitFailedAfterokChain(s.dir, common, env(), { up: { id: `${tag}up`, name: up }, down: { id: `${tag}dn`, name: down } });
      ({ upJob, downJob } = chain);
      writeFileSync(join(s.dir, "submitted.ndjson"), chain.stdout);
      const poll = await runCli("slurm-poll", [...common, "--interval", "1s"], { cwd: s.dir, env: env(), input: chain.stdout, timeout: 150_000 });
      expect(poll.timedOut, "the watch ends on a blocked job").toBeFalsy();
      polled = join(s.dir, "poll.ndjson");
      writeFileSync(polled, String(poll.stdout));
    });
    afterAll(async () => {
      await cancelOwn(state, backend.name, s.env.SLURMPIPE_LOCAL_DIR);
      s.cleanup();
    });

    it("the status report shows the dependent BLOCKED by the failed upstream, in its table, the counts and the headline", async () => {
      const r = await runCli("summary-md", ["--no-plots", "--now", "2026-01-01T00:00:00Z", polled], { cwd: s.dir, env: env() });
      expect(r.exitCode, String(r.stderr)).toBe(0);
      const md = String(r.stdout);
      expect(tableRow(md, up)?.[1]).toBe("FAILED");
      const row = tableRow(md, down)!;
      expect(row.slice(1, 3)).toEqual(["BLOCKED", downJob]);
      expect(row.at(-1)).toContain(`blocked by ${upJob} (FAILED)`);
      expect(md).toMatch(/^\| BLOCKED \| 1 \| 50% \|$/m);
      expect(md).toContain(`1 BLOCKED by ${upJob} (FAILED)`);
      expect(md).toContain("0 pending or running");
      expect(md).toContain(`\`scancel ${downJob}\``);
    });

    it("the experiment_summary.md table, refreshed from submitted.ndjson and poll.ndjson, says BLOCKED", async () => {
      const doc = join(s.dir, "experiment_summary.md");
      writeFileSync(doc, `## Fine-tuning\n| Run Name | Status | Job ID | Started | Completed | Notes |\n|---|---|---|---|---|---|\n| ${up} | - | - | - | - | - |\n| ${down} | - | - | - | - | - |\n`);
      const r = await runCli("summary-md", ["--update", doc, join(s.dir, "submitted.ndjson"), polled], { cwd: s.dir, env: env() });
      expect(r.exitCode, String(r.stderr)).toBe(0);
      const md = readFileSync(doc, "utf8");
      expect(tableRow(md, down)?.slice(1, 3)).toEqual(["BLOCKED", downJob]);
      expect(tableRow(md, down)?.at(-1)).toBe(`blocked by ${upJob} (FAILED)`);
    });
  });
}
