import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildReruns, buildViews, collectInputs, groupViews, statusReport } from "../src/index.ts";
import { statusReportChunks } from "../src/report.ts";
import { expectedRuns, sweepEvents, sweepRecords } from "./fixtures.ts";
import { run, tempDir, writeNdjson } from "./helpers.ts";

const GOLDEN = join(import.meta.dirname, "golden", "status.md");

async function sweepReport(order: (r: unknown[]) => unknown[] = (r) => r) {
  const dir = tempDir();
  writeNdjson(join(dir, "expected.ndjson"), expectedRuns());
  const input = writeNdjson(join(dir, "records.ndjson"), order([...sweepRecords(), ...sweepEvents()]));
  const result = await run({ inputs: [input], expected: "expected.ndjson", output: "STATUS.md", now: "2025-10-24T03:00:00Z", colorBy: "lr", profile: "lumi" }, { cwd: dir });
  return { ...result, dir, markdown: readFileSync(join(dir, "STATUS.md"), "utf8") };
}

describe("status report of a mixed sweep", () => {
  it("matches the golden markdown (UPDATE_GOLDEN=1 rewrites it)", async () => {
    const { code, markdown, stderr } = await sweepReport();
    expect(stderr).toBe("");
    expect(code).toBe(0);
    if (process.env.UPDATE_GOLDEN) writeFileSync(GOLDEN, markdown);
    expect(markdown).toBe(readFileSync(GOLDEN, "utf8"));
  });

  it("does not depend on the order records arrive in", async () => {
    const a = await sweepReport();
    const b = await sweepReport((r) => [...r].reverse());
    expect(b.markdown).toBe(a.markdown);
  });

  it("shows every status with its job id, and never calls UNKNOWN failed", async () => {
    const { markdown } = await sweepReport();
    const row = (name: string) => markdown.split("\n").find((l) => l.startsWith(`| ${name} |`)) ?? "";
    expect(row("core_lr0.1_s0")).toContain("| COMPLETED | 1001 |");
    expect(row("core_lr0.2_s0")).toContain("| FAILED | 1002 |");
    expect(row("core_lr0.05_s0")).toContain("| OUT_OF_MEMORY | 1003 |");
    expect(row("core_lr0.1_s1")).toContain("| TIMEOUT | 1004 |");
    expect(row("core_lr0.2_s1")).toContain("[NAN]");
    expect(row("core_lr0.05_s1")).toContain("| MISSING | - |");
    expect(row("adamw_lr0.001_s0")).toContain("| RUNNING | 1007 |");
    expect(row("adamw_lr0.003_s0")).toContain("| PENDING | 1008 |");
    expect(row("adamw_lr0.001_s1")).toContain("| UNKNOWN | 1009 |");
    expect(row("adamw_lr0.003_s1")).toContain("| SUBMIT_ERROR | - |");
    expect(row("adamw_lr0.01_s1")).toContain("| CANCELLED | 1012 |");
    // Slurm's start and end from the poll events when the state lacks them (not the poll times).
    expect(row("adamw_lr0.01_s0")).toContain("| 2025-10-24 00:09:58 | 2025-10-24 00:34:58 |");
    expect(markdown).toContain("5 failed");
    expect(markdown).toContain("1 unknown (not counted as failed)");
    expect(markdown).toContain("### S-core: 2/6 completed (33%)");
    expect(markdown).toContain("### S-adamw: 1/6 completed (17%)");
  });

  it("gives copy-pasteable rerun pipelines grouped by the suggested action", async () => {
    const { markdown } = await sweepReport();
    expect(markdown).toContain(`jq -c 'select(.id | IN("id-core_lr0.05_s0"))' expected.ndjson | slurm-render --profile lumi --mem 38G | slurm-submit --resubmit failed`);
    expect(markdown).toContain(`slurm-render --profile lumi --time 03:00:00 | slurm-submit --resubmit failed`);
    expect(markdown).toContain(`jq -c 'select(.id | IN("id-core_lr0.05_s1","id-adamw_lr0.003_s1"))' expected.ndjson | slurm-render --profile lumi | slurm-submit\n`);
    expect(markdown).toContain(`.params.lr = 0.1 | .command |= (if type == "array" then map(if startswith("lr=") then "lr=0.1" else . end) else . end)' expected.ndjson`);
  });

  it("writes one SVG per run with data and an overview per group, linked relatively", async () => {
    const { dir, markdown } = await sweepReport();
    expect(readdirSync(join(dir, "plots", "S-core")).sort()).toEqual(["core_lr0.05_s0.svg", "core_lr0.1_s0.svg", "core_lr0.1_s1.svg", "core_lr0.2_s1.svg"]);
    for (const f of ["overview-S-core.svg", "overview-S-adamw.svg", "overview-S-core-by-lr.svg"]) expect(existsSync(join(dir, "plots", f))).toBe(true);
    expect(markdown).toContain("](plots/overview-S-core.svg)");
    expect(markdown).toContain("[DECREASING](plots/S-core/core_lr0.1_s0.svg)");
  });

  it("writes the same bytes in chunks, to stdout as to -o", async () => {
    const file = await sweepReport();
    const options = { inputs: ["records.ndjson"], expected: "expected.ndjson", now: "2025-10-24T03:00:00Z", colorBy: "lr", profile: "lumi" };
    const { stdout } = await run(options, { cwd: file.dir });
    expect(stdout).toBe(file.markdown);
    const collected = await collectInputs([join(file.dir, "records.ndjson")], { errors: { report: () => {} } });
    const views = buildViews(collected, undefined, 0);
    const input = { title: "t", generatedAt: "2025-10-24T03:00:00Z", groups: groupViews(views), reruns: buildReruns(views, {}) };
    const chunks = [...statusReportChunks(input, 64)];
    expect(chunks.length).toBeGreaterThan(20);
    for (const c of chunks) expect(c).toMatch(/\n$/);
    expect(chunks.join("")).toBe(statusReport(input));
    expect(statusReport(input)).toMatch(/[^\n]\n$/);
  });

  it("is reproducible with SOURCE_DATE_EPOCH", async () => {
    const { stdout } = await run({ stdinText: JSON.stringify(sweepRecords()[0]), plots: false }, { env: { SOURCE_DATE_EPOCH: "1761274800" } });
    expect(stdout).toContain("Generated 2025-10-24 03:00:00 UTC");
  });

  it("shows the stderr tail of an early failure log-parse has not explained", async () => {
    const rec = {
      id: "e",
      name: "early",
      job: { id: "5" },
      state: { state: "FAILED", category: "failure", terminal: true, exit_code: "0:53", elapsed_s: 0, early_failure: { elapsed_s: 0, path: "logs/5.err", tail: ["/bin/bash: line 3: module: command not found"] } },
    };
    const { stdout } = await run({ stdinText: JSON.stringify(rec), plots: false });
    expect(stdout).toContain("| early | FAILED | 5 | - | - | 00:00:00 | - | exit 0:53; failed early (0 s): environment or path? |");
    expect(stdout).toContain("- **Failed early** (after 0 s): almost always an environment or path problem");
    expect(stdout).toContain("  - last lines of `logs/5.err`:\n    - `/bin/bash: line 3: module: command not found`");
  });
});
