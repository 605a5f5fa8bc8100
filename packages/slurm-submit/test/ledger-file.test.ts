import { mkdtempSync, readFileSync, } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ledger, type LedgerEntry } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { LedgerAppender, ledgerLine, readLedgerView } from "../src/ledger-file.ts";
import { LedgerView, RecordText } from "../src/ledger-view.ts";

const tmpLedger = () => new Ledger(mkdtempSync(join(tmpdir(), "sp-submit-ledger-")));
const argv = ["sbatch", "--parsable", "--job-name=arr.sp0001aaaabb", "/w/arr/job.sbatch"];
const intent = (i: number): LedgerEntry => ({ t: "intent", run_id: `run${i}aaaabbbbcccc`, attempt: 1, job_name: "arr.sp0001aaaabb", at: "2026-01-01T00:00:00.000Z", argv: [...argv], name: `s${i}`, host: "h", pid: 7, array_id: "0001aaaabbbb", array_task: i });
const job = (i: number) => ({ id: `900_${i}`, array_job_id: "900", array_task: i, name: "arr.sp0001aaaabb", submitted_at: "2026-01-01T00:00:01.000Z", argv: [...argv], attempt: 1, backend: "slurm" });
const record = (i: number) => ({ kind: "run", id: `run${i}aaaabbbbcccc`, name: `s${i}`, params: { "é": "✓", i }, job: job(i) });
const submitted = (i: number): LedgerEntry => ({ t: "submitted", run_id: `run${i}aaaabbbbcccc`, attempt: 1, job_id: `900_${i}`, job_name: "arr.sp0001aaaabb", at: "2026-01-01T00:00:01.000Z", via: "sbatch", record: record(i) });

/** What the view holds, comparable: entries and maps as plain data. */
function snapshot(v: LedgerView): unknown {
  return JSON.parse(JSON.stringify({ latest: [...v.latest], max: [...v.maxAttempt], last: [...v.lastJob], names: [...v.runByName], arrays: [...v.maxArrayAttempt], jobs: [...v.jobNames] }));
}

describe("ledger file", () => {
  it("appends the same bytes as core's appendMany, with a record given as its text", async () => {
    const mine = tmpLedger();
    const core = tmpLedger();
    const entries = [intent(1), submitted(1), { ...submitted(2), array_id: "0001aaaabbbb", array_task: 2 }, { t: "failed", run_id: "x", attempt: 2, at: "t", message: "m", code: "c" }] as LedgerEntry[];
    const view = new LedgerView();
    const appender = new LedgerAppender(mine, () => view);
    for (const e of entries) {
      if (e.t !== "submitted") appender.add(e);
      else appender.add({ ...e, record: new RecordText(JSON.stringify(e.record), e.record!.job as Record<string, unknown>, String(e.record!.name)) });
    }
    await appender.commit();
    await core.appendMany(entries);
    expect(readFileSync(mine.path, "utf8")).toBe(readFileSync(core.path, "utf8"));
    expect(snapshot(view)).toEqual(snapshot(new LedgerView(entries)));
    // A RecordText that is serialised the ordinary way still writes the record.
    const viaText = { ...submitted(3), record: new RecordText(JSON.stringify(record(3)), job(3), "s3") } as unknown as LedgerEntry;
    expect(JSON.stringify(viaText)).toBe(JSON.stringify(submitted(3)));
    expect(ledgerLine(viaText)).toBe(JSON.stringify(submitted(3)));
  });

  it("reads line by line into the view core's read gives, keeping only the job of each record", async () => {
    const ledger = tmpLedger();
    const entries: LedgerEntry[] = [];
    for (let i = 0; i < 3000; i++) entries.push(intent(i));
    for (let i = 0; i < 3000; i++) entries.push(submitted(i));
    await ledger.appendMany(entries);
    const { view, tornLine } = await readLedgerView(ledger);
    expect(tornLine).toBeUndefined();
    expect(snapshot(view)).toEqual(snapshot(new LedgerView((await ledger.read()).entries)));
    expect(view.lastJob.get("run7aaaabbbbcccc")).not.toHaveProperty("record");
    expect(view.lastJob.get("run7aaaabbbbcccc")?.job).toEqual(job(7));
    // Repeated strings are shared across entries (one copy per array, not per task).
    expect(view.lastJob.get("run1aaaabbbbcccc")?.job?.argv).toBe(view.lastJob.get("run2aaaabbbbcccc")?.job?.argv);
  });

});
