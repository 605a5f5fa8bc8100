import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ledger, type LedgerEntry } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { LedgerFollower, ledgerRecords } from "../src/inputs.ts";

const AT = "2026-11-23T10:00:00.000Z";
const tmp = () => mkdtempSync(join(tmpdir(), "sp-poll-ledger-"));
const line = (e: LedgerEntry) => `${JSON.stringify(e)}\n`;
const submitted = (run: string, attempt: number, job: string, t: "submitted" | "reconciled" = "submitted"): LedgerEntry => ({
  t,
  run_id: run,
  attempt,
  job_id: job,
  job_name: `n.${run}`,
  at: AT,
  record: { kind: "run", id: run, name: `r ${run} ✓`, job: { id: job, attempt } },
});
const intent = (run: string, attempt: number): LedgerEntry => ({ t: "intent", run_id: run, attempt, job_name: `n.${run}`, at: AT, argv: ["sbatch"] });

async function read(f: LedgerFollower): Promise<[string, number][]> {
  const out: [string, number][] = [];
  for await (const { record, line } of f.records()) out.push([(record.job as { id: string }).id, line]);
  return out;
}

describe("following slurm-submit's ledger", () => {
  it("gives what ledgerRecords gives, in the same order, with the line of each record", async () => {
    const dir = tmp();
    const entries = [
      intent("a", 1),
      submitted("a", 1, "10"),
      intent("b", 1),
      submitted("b", 1, "11"),
      submitted("a", 2, "12"), // a's latest attempt, in a's place
      { t: "failed", run_id: "c", attempt: 1, at: AT, message: "no" } as LedgerEntry,
      submitted("d", 1, "13", "reconciled"),
      submitted("b", 1, "14"), // same attempt again: the later line wins
      submitted("d", 0, "15"), // an older attempt never wins
    ];
    writeFileSync(join(dir, "ledger.ndjson"), `${entries.map(line).join("")}\n`);
    const expected = (await ledgerRecords(dir)).records.map((r) => (r.job as { id: string }).id);
    const got = await read(new LedgerFollower(join(dir, "ledger.ndjson")));
    expect(got.map(([id]) => id)).toEqual(expected);
    expect(got).toEqual([
      ["12", 5],
      ["14", 8],
      ["13", 7],
    ]);
  });

  it("later reads give only what was appended: new runs and later attempts", async () => {
    const dir = tmp();
    const path = join(dir, "ledger.ndjson");
    const ledger = new Ledger(dir);
    await ledger.appendMany([submitted("a", 1, "10"), submitted("b", 1, "11")]);
    const f = new LedgerFollower(path);
    expect(await read(f)).toEqual([
      ["10", 1],
      ["11", 2],
    ]);
    expect(await read(f)).toEqual([]);
    await ledger.appendMany([intent("c", 1), submitted("c", 1, "20"), submitted("b", 2, "21"), submitted("a", 0, "22")]);
    expect(await read(f)).toEqual([
      ["21", 5], // b came before c in the ledger
      ["20", 4],
    ]);
    expect(await read(f)).toEqual([]);
  });
  // The ledger's crash rules, offsets and replaced files are core's (core/test/ledger.test.ts).
});
