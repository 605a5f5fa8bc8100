import { appendFileSync, mkdtempSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { reportForRecord } from "../src/report.ts";
import { runLogParse } from "./run-lib.ts";

// Counts the parses: a reused report is one for which the logs were not read.
vi.mock("../src/report.ts", async (importOriginal) => {
  const real = await importOriginal<typeof import("../src/report.ts")>();
  return { ...real, reportForRecord: vi.fn(real.reportForRecord) };
});
const parses = () => vi.mocked(reportForRecord).mock.calls.length;

/** `--state DIR`: a record whose inputs did not change gets its report without its logs being read again. */
describe("log-parse --state (reports reused while the inputs are unchanged)", () => {
  const setup = () => {
    const dir = mkdtempSync(join(tmpdir(), "lp-cache-"));
    const out = join(dir, "run.out");
    writeFileSync(out, "step 0 loss 4.0\nstep 10 loss 3.0\n");
    // An ended job (a running one's report is not kept: below).
    const record = { id: "r1", name: "r1", logs: { stdout: out }, state: { state: "COMPLETED", category: "success", terminal: true, exit_code: "0:0" } };
    return { dir, out, record, input: `${JSON.stringify(record)}\n` };
  };
  const report = (r: { records: { report: unknown }[] }) => r.records[0]!.report as { loss: { last: number; points: number } };

  it("reuses the report of an unchanged log, and parses again after an append, a replacement or another state", async () => {
    const { dir, out, record, input } = setup();
    const args = { state: join(dir, "state") };
    const first = await runLogParse(dir, args, input);
    expect(first.code).toBe(0);
    expect(report(first).loss).toMatchObject({ last: 3, points: 2 });
    const kept = readFileSync(join(dir, "state", "log-parse", "reports.cache"), "utf8").trim().split("\n");
    expect(kept[0]).toBe("slurmpipe-reports 3");
    expect(kept).toHaveLength(2); // the header and one record's line
    expect(JSON.parse(kept[1]!.split("\t")[2]!)).toEqual(first.records[0]!.report);
    expect(statSync(join(dir, "state", "log-parse", "reports.cache")).mode & 0o777).toBe(0o600);

    // Unchanged: the same report, without parsing the logs again.
    const before = parses();
    const again = await runLogParse(dir, args, input);
    expect(parses()).toBe(before);
    expect(report(again)).toEqual(report(first));
    // Any write changes mtime/ctime: rewritten with the same size, it is parsed again.
    const s = statSync(out);
    writeFileSync(out, "step 0 loss 4.0\nstep 10 loss 9.0\n");
    utimesSync(out, s.atime, s.mtime);
    const rewritten = await runLogParse(dir, args, input);
    expect(parses()).toBe(before + 1);
    expect(report(rewritten).loss.last).toBe(9);

    // Appended: parsed again, equal to a parse without --state.
    appendFileSync(out, "step 20 loss 2.0\n");
    const appended = await runLogParse(dir, args, input);
    const full = await runLogParse(dir, {}, input);
    expect(report(appended)).toEqual(report(full));
    expect(report(appended).loss).toMatchObject({ last: 2, points: 3 });
    const n = parses();
    const unchanged = await runLogParse(dir, args, input);
    expect(parses()).toBe(n);
    expect(report(unchanged)).toEqual(report(full));

    // Truncated (a requeue that started the log again): parsed again.
    writeFileSync(out, "step 0 loss 5.0\n");
    expect(report(await runLogParse(dir, args, input)).loss).toMatchObject({ last: 5, points: 1 });

    // The record changed (the job ended): parsed again with the new state.
    const ended = { ...record, state: { state: "FAILED", category: "failure", terminal: true, exit_code: "0:9" } };
    const r = await runLogParse(dir, args, `${JSON.stringify(ended)}\n`);
    expect((r.records[0]!.report as { failures: { class: string }[] }).failures[0]!.class).toBe("UNKNOWN");
    // One entry per run: its new report replaced the old one.
    expect(readFileSync(join(dir, "state", "log-parse", "reports.cache"), "utf8").trim().split("\n")).toHaveLength(2);
  });

  it("a running job's report is not kept: its state changes with every poll, and the file stays one entry per run", async () => {
    const { dir, out, record } = setup();
    const state = join(dir, "state");
    const file = join(state, "log-parse", "reports.cache");
    await runLogParse(dir, { state }, `${JSON.stringify(record)}\n`);
    expect(readFileSync(file, "utf8").trim().split("\n")).toHaveLength(2);
    // Requeued and running again: each cron tick's poll confirms it anew (a new confirmed_at).
    for (let tick = 0; tick < 3; tick++) {
      appendFileSync(out, `step ${20 + tick} loss 2.${tick}\n`);
      const running = { ...record, state: { state: "RUNNING", category: "active", terminal: false, confirmed_at: `2026-12-05T07:0${tick}:00Z`, elapsed_s: 60 * tick } };
      const before = parses();
      const r = await runLogParse(dir, { state }, `${JSON.stringify(running)}\n`);
      expect(parses()).toBe(before + 1);
      expect(report(r).loss.last).toBe(Number(`2.${tick}`));
      // Its ended report is dropped too (never served again); nothing piles up.
      expect(readFileSync(file, "utf8").trim().split("\n")).toEqual(["slurmpipe-reports 3"]);
    }
  });

  it("a cache file that is not readable is rebuilt with a warning", async () => {
    const { dir, input } = setup();
    const state = join(dir, "state");
    await runLogParse(dir, { state }, input);
    const file = join(state, "log-parse", "reports.cache");
    // An older version's file (an upgrade): rebuilt without a word.
    writeFileSync(file, "slurmpipe-reports 2\nabc\t[]\t{}\n");
    const upgraded = await runLogParse(dir, { state }, input);
    expect(upgraded.stderr).not.toMatch(/reports\.cache/);
    expect(report(upgraded).loss.last).toBe(3);
    expect(readFileSync(file, "utf8").split("\n")[0]).toBe("slurmpipe-reports 3");
    for (const damaged of ["{not json", "slurmpipe-reports 3\nnot a key\tx\ty\n", "slurmpipe-reports 4\n"]) {
      writeFileSync(file, damaged);
      const r = await runLogParse(dir, { state }, input);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/reports\.cache: (not readable|another version).*rebuilt/);
      expect(report(r).loss.last).toBe(3);
      expect(readFileSync(file, "utf8").split("\n")[0]).toBe("slurmpipe-reports 3");
    }
    // A damaged report on a line of its own: parsed again, not served.
    const [head, line] = readFileSync(file, "utf8").split("\n");
    writeFileSync(file, `${head}\n${line!.slice(0, -5)}\n`);
    const before = parses();
    const r = await runLogParse(dir, { state }, input);
    expect(parses()).toBe(before + 1);
    expect(report(r).loss.last).toBe(3);
  });
});
