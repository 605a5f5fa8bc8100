import { appendFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SlurmOutputError, taggedJobName } from "@slurmpipe/core";
import { afterEach, describe, expect, it } from "vitest";
import { nameFilters, parseSacctRows, parseSqueueRows } from "../src/lookup.ts";
import { FakeSlurm, runSubmit } from "./fake-slurm.ts";

describe("name filters of the tag lookups", () => {
  it("lists names in --name, and looks for a name with a comma among all the user's jobs", () => {
    expect(nameFilters(["a.spx", "b.spy"])).toEqual([["--name=a.spx,b.spy"]]);
    // A ledger from before names lost their commas: `--name=lr0.1,wd0.spx` would ask for `lr0.1`
    // and `wd0.spx`, and the job would never be found.
    expect(nameFilters(["a.spx", "lr0.1,wd0.spy"])).toEqual([["--name=a.spx"], []]);
    expect(nameFilters(["lr0.1,wd0.spy"])).toEqual([[]]);
  });
});

describe("reading the lookups' answers (core's query rules)", () => {
  it("a name holding | (someone else's job in the user's listing) does not shift the state", () => {
    const rows = parseSqueueRows("81|RUNNING|2026-11-23T10:00:00|my|job\n82_[1-3]|PENDING|2026-11-23T10:00:01|b.spx\n");
    expect(rows.map((r) => [r.jobId, r.name, r.state.state])).toEqual([
      ["81", "my|job", "RUNNING"],
      ["82_[1-3]", "b.spx", "PENDING"],
    ]);
    expect(rows[1]?.arrayTasks).toEqual([1, 2, 3]);
    expect(parseSacctRows("90|COMPLETED|2026-11-23T09:00:00|a.spx\r\n")[0]).toMatchObject({ jobId: "90", name: "a.spx", source: "sacct" });
  });

  it("a short line or an unreadable job id is an error, never a row left out (which would read as absent)", () => {
    // The old parser skipped both: a job of ours missing from the answer was submitted again.
    expect(() => parseSqueueRows("81|RUNNING\n")).toThrow(SlurmOutputError);
    expect(() => parseSacctRows("x81|RUNNING|2026-11-23T10:00:00|a.spx\n")).toThrow(/sacct printed a line/);
  });
});

describe("a lookup that answers with malformed output", () => {
  const fakes: FakeSlurm[] = [];
  afterEach(() => {
    for (const f of fakes.splice(0)) rmSync(f.dir, { recursive: true, force: true });
  });

  it("leaves an interrupted submission uncertain: nothing is submitted again", async () => {
    const f = new FakeSlurm();
    fakes.push(f);
    const run = f.run(1);
    const name = taggedJobName(String(run.name), String(run.id), 1);
    mkdirSync(f.state, { recursive: true });
    appendFileSync(join(f.state, "ledger.ndjson"), `${JSON.stringify({ t: "intent", run_id: run.id, attempt: 1, job_name: name, at: "2026-11-23T10:00:00Z", argv: ["sbatch", `--job-name=${name}`], name: run.name, host: "testhost", pid: 1 })}\n`);
    // A site wrapper that ignores -o and prints squeue's default columns.
    writeFileSync(join(f.bin, "squeue"), `#!/bin/bash\necho "squeue $*" >> ${JSON.stringify(join(f.dir, "calls"))}\necho "  80 debug ${name} me PD 0:00 1 (Priority)"\n`, { mode: 0o755 });
    const r = await runSubmit(f, [run], { host: "testhost" });
    expect(r.code).toBe(1);
    expect(f.calls("sbatch")).toHaveLength(0);
    expect(r.stderr).toMatch(/squeue printed a line that does not have the 4 requested fields/);
    expect(r.records[0]).toMatchObject({ error: { code: "reconcile_failed" } });
  });
});
