/**
 * The site limits of the lumi and olivia profiles (profiles/sites-check.md): each case names the
 * fact id its limit comes from; every render enforces them, --force renders anyway.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Overrides } from "../src/index.ts";
import { renderRecords, run, tempDir } from "./helpers.ts";
import { LUMI, OLIVIA, TRAIN } from "./site-fixtures.ts";

describe("site limits are enforced on every render, naming the limit and its source", () => {
  const cases: [string, string, Overrides["resources"], RegExp][] = [
    ["lumi", "L1 small-g max 4 nodes", { nodes: 5 }, /resources\.nodes"?: nodes 5 is beyond partition small-g's limit \(at most 4; source: https:\/\/docs\.lumi-supercomputer\.eu\/runjobs\/scheduled-jobs\/partitions\/ \(L1\), checked 2026-12-02\)/],
    ["lumi", "L1 small-g max 3 days", { time: "4-00:00:00" }, /resources\.time"?: time 4-00:00:00 is beyond partition small-g's limit \(at most 3-00:00:00/],
    ["lumi", "L1 dev-g max 3 hours", { partition: "dev-g", time: "04:00:00" }, /partition dev-g's limit \(at most 03:00:00/],
    ["lumi", "L5 8 GCDs per node", { gpus_per_node: 9 }, /resources\.gpus_per_node"?: GPUs per node 9 is beyond partition small-g's limit \(at most 8; source: .*L5/],
    ["lumi", "L3 56 usable cores", { gpus_per_node: 8, ntasks_per_node: 8, cpus_per_task: 8 }, /resources\.cpus_per_task"?: cores per node 64 is beyond partition small-g's limit \(at most 56; .*L3/],
    ["lumi", "L5/L12 480G per node", { mem: "500G" }, /resources\.mem"?: memory per node 500G is beyond partition small-g's limit \(at most 480G/],
    ["lumi", "L16 60G per GCD x 8 > 480G", { gpus_per_node: 8, mem_per_gpu: "64G" }, /resources\.mem_per_gpu"?: memory per node 64G x 8 GPUs is beyond/],
    ["olivia", "O1 accel 7 days", { time: "8-00:00:00" }, /resources\.time"?: time 8-00:00:00 is beyond partition accel's limit \(at most 7-00:00:00; source: https:\/\/documentation\.sigma2\.no\/jobs\/job_types\/olivia_job_types\.html \(O1\)/],
    ["olivia", "O1 4 GPUs per node", { gpus_per_node: 5 }, /GPUs per node 5 is beyond partition accel's limit \(at most 4;/],
    ["olivia", "O1 at most 32 GPUs per job", { nodes: 9, gpus_per_node: 4 }, /resources\.gpus_per_node"?: GPUs per job 36 is beyond partition accel's limit \(at most 32;/],
  ];
  for (const [profile, fact, resources, message] of cases) {
    it(`${profile}: ${fact}`, async () => {
      const base = profile === "lumi" ? LUMI : OLIVIA;
      const overrides = { ...base, resources: { ...base.resources, ...resources } };
      const r = await renderRecords([run("x", TRAIN), run("y", TRAIN)], { cwd: tempDir(), profile, overrides });
      expect(r.code).toBe(1);
      for (const rec of r.records) {
        const error = rec.error as { message: string; code: string };
        expect(error.code).toBe("over_site_limit");
        expect(error.message).toMatch(message);
      }
      expect(r.stderr).toMatch(message);
      // --force renders anyway, with the same text as a warning
      const forced = await renderRecords([run("x", TRAIN)], { cwd: tempDir(), profile, overrides: { ...overrides, force: true } });
      expect(forced.code, forced.stderr).toBe(0);
      expect(forced.stderr).toMatch(message);
    });
  }

  it("sample resources: a full standard-g run's sample goes to small-g; flags still win (LUMI L1); the devel QoS limits apply (O1)", async () => {
    const cwd = tempDir();
    const full = { ...LUMI, resources: { ...LUMI.resources } };
    const spec = run("x", TRAIN, { resources: { partition: "standard-g", gpus_per_node: 8 } });
    const r = await renderRecords([spec], { cwd, profile: "lumi", overrides: full, sample: true });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync((r.records[0]!.script as { path: string }).path, "utf8")).toContain("#SBATCH --partition=small-g\n");
    const flagged = await renderRecords([spec], { cwd: tempDir(), profile: "lumi", overrides: { ...full, resources: { ...full.resources, partition: "dev-g" } }, sample: true });
    expect(readFileSync((flagged.records[0]!.script as { path: string }).path, "utf8")).toContain("#SBATCH --partition=dev-g\n");
    const devel = await renderRecords([run("y", TRAIN)], { cwd: tempDir(), profile: "olivia", overrides: { ...OLIVIA, resources: { ...OLIVIA.resources, time: "03:00:00" } }, sample: true });
    expect((devel.records[0]!.error as { message: string }).message).toMatch(/resources\.time"?: time 03:00:00 is beyond QoS devel's limit \(at most 02:00:00; source: .*\(O1: devel QoS, 2 hours\)/);
  });

  it("every limit a request exceeds is named, the first field once", async () => {
    const r = await renderRecords([run("x", TRAIN)], { cwd: tempDir(), profile: "lumi", overrides: { ...LUMI, resources: { ...LUMI.resources, nodes: 5, time: "4-00:00:00" } } });
    const message = (r.records[0]!.error as { message: string }).message;
    expect(message).toMatch(/^field "resources\.nodes": nodes 5 is beyond partition small-g's limit \(at most 4; .*; resources\.time: time 4-00:00:00 is beyond partition small-g's limit \(at most 3-00:00:00; /);
  });

  it("a partition the profile does not know is said on stderr (its limits are not checked)", async () => {
    const r = await renderRecords([run("x", TRAIN)], { cwd: tempDir(), profile: "lumi", overrides: { ...LUMI, resources: { ...LUMI.resources, partition: "smal-g" } } });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("profile lumi: partition smal-g is not one of the partitions it knows (small-g, standard-g, dev-g): its limits are not checked");
  });

  it("a request inside every limit renders (a full LUMI standard-g node: 8 x 7 cores, 8 x 60G)", async () => {
    const r = await renderRecords([run("x", TRAIN)], { cwd: tempDir(), profile: "lumi", overrides: { ...LUMI, resources: { ...LUMI.resources, partition: "standard-g", nodes: 16, gpus_per_node: 8 } } });
    expect(r.code, r.stderr).toBe(0);
  });

  it("a user profile extending a site profile overrides single limits and fields (documented in the README)", async () => {
    const cwd = tempDir();
    writeFileSync(
      join(cwd, "mine.yaml"),
      [
        "extends: lumi",
        "resources: {account: project_465000123, partition: dev-g}",
        "launcher: {type: apptainer, runtime: singularity, srun: true, container: /project/project_465000123/my.sif, binds: [/scratch/project_465000123]}",
        "limits:",
        "  checked: '2026-12-03'",
        "  partitions:",
        "    dev-g:",
        "      max_nodes: {value: 2, source: my project's reservation}",
      ].join("\n"),
    );
    const ok = await renderRecords([run("x", TRAIN)], { cwd, profile: "mine.yaml" });
    expect(ok.code, ok.stderr).toBe(0);
    const text = readFileSync((ok.records[0]!.script as { path: string }).path, "utf8");
    expect(text).toContain("srun singularity exec --bind /scratch/project_465000123 /project/project_465000123/my.sif bash -c");
    const over = await renderRecords([run("x", TRAIN)], { cwd, profile: "mine.yaml", overrides: { resources: { nodes: 3 } } });
    expect((over.records[0]!.error as { message: string }).message).toMatch(/nodes 3 is beyond partition dev-g's limit \(at most 2; source: my project's reservation, checked 2026-12-03\)/);
    // the limits not overridden are still the site's (L1: dev-g 3 hours)
    const time = await renderRecords([run("x", TRAIN)], { cwd, profile: "mine.yaml", overrides: { resources: { time: "05:00:00" } } });
    expect((time.records[0]!.error as { message: string }).message).toMatch(/at most 03:00:00; source: .*\(L1\)/);
  });

  it("memory: a run's own --mem replaces the profile's --mem-per-gpu (sbatch takes one of them)", async () => {
    const r = await renderRecords([run("x", TRAIN, { resources: { mem: "16G" } })], { cwd: tempDir(), profile: "lumi", overrides: LUMI });
    const text = readFileSync((r.records[0]!.script as { path: string }).path, "utf8");
    expect(text).toContain("#SBATCH --mem=16G\n");
    expect(text).not.toContain("--mem-per-gpu");
  });
});
