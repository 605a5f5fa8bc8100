import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { reportForRecord } from "../src/index.ts";
import { crc32c, float32Value, tagName } from "../src/tfevents.ts";
import { runLogParse } from "./run-lib.ts";

/**
 * TensorBoard event files written by a real writer: fixtures/tfevents/run/ was written by
 * tensorboardX's SummaryWriter (fixtures/tfevents/make_events.py beside it); with python3 and
 * tensorboardX installed, the last test writes a fresh one.
 */
const fixtureDir = fileURLToPath(new URL("./fixtures/tfevents", import.meta.url));
const fixtureFile = join(fixtureDir, "run", readdirSync(join(fixtureDir, "run")).find((n) => n.startsWith("events.out.tfevents."))!);
const tmp = mkdtempSync(join(tmpdir(), "lp-tfevents-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
/** A run dir holding a copy of the fixture, cut or altered by `edit`. */
function runDirWith(edit?: (file: string) => void): string {
  const dir = join(tmp, `r${n++}`, "runs", "x");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "events.out.tfevents.1.host");
  copyFileSync(fixtureFile, file);
  edit?.(file);
  return join(dir, "..", "..");
}
/** The report's file entry of a role ({} when there is none, so the assertion names what is missing). */
const entryOf = (r: { files?: { role: string }[] }, role: string) => ((r.files ?? []).find((f) => f.role === role) ?? {}) as Record<string, unknown>;
type Pt = { step: number; value: number | null };
const pts = (s: Pt[] | undefined) => (s ?? []).map((p) => [p.step, p.value]);

describe("TensorBoard event files", () => {
  it("CRC-32C is the Castagnoli polynomial (check value of '123456789')", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
  });

  it("float32 values come back as the decimal that was logged; HF's train/ and eval/ tags get the console names", () => {
    expect(float32Value(Math.fround(0.1))).toBe(0.1);
    expect(float32Value(Math.fround(2.5e-5))).toBe(2.5e-5);
    expect([tagName("train/loss"), tagName("train/learning_rate"), tagName("eval/loss"), tagName("val_loss")]).toEqual(["loss", "lr", "eval_loss", "val_loss"]);
  });

  it("reads the scalars of a tensorboardX file: simple_value and TF2-style rank-0 tensors", async () => {
    const r = await reportForRecord({ id: "a", name: "a", dir: fixtureDir });
    expect(pts(r.series?.loss)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((s) => [s, Math.round((2.5 / s) * 1e4) / 1e4]));
    expect(pts(r.series?.eval_loss)).toEqual([
      [5, 0.6],
      [10, 0.3],
    ]);
    expect(pts(r.series?.tokens_per_second)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((s) => [s, 1000 + s]));
    expect(r.series?.lr?.[0]?.value).toBeCloseTo(9.5e-5, 10);
    expect(r.loss).toMatchObject({ metric: "loss", first: 2.5, last: 0.25, trend: "DECREASING" });
    const entry = entryOf(r, "tfevents");
    expect(entry).toMatchObject({ files: 1, records: 43, points: 42, bytes: statSync(fixtureFile).size });
    expect(entry.note).toBeUndefined();
  });

  it("a file cut inside a record (a run still writing, or killed): the complete records and a note, no exception", async () => {
    for (const cut of [7, 30, 300]) {
      const size = statSync(fixtureFile).size;
      const r = await reportForRecord({ id: "t", name: "t", dir: runDirWith((f) => truncateSync(f, size - cut)) });
      const entry = entryOf(r, "tfevents");
      expect(entry.note).toMatch(/ends inside a record.*a run still writing, or killed.*complete records/);
      expect(entry.records as number).toBeLessThan(43);
      expect(r.series?.loss?.length).toBeGreaterThan(0);
      expect(r.series?.loss?.[0]).toMatchObject({ step: 1, value: 2.5 });
    }
    const empty = await reportForRecord({ id: "e", name: "e", dir: runDirWith((f) => truncateSync(f, 5)) });
    expect(entryOf(empty, "tfevents").note).toMatch(/ends inside a record header/);
  });

  it("a corrupt record stops the file there (CRC mismatch), with what came before", async () => {
    const dir = runDirWith((f) => {
      const b = readFileSync(f);
      b[b.length - 20]! ^= 0xff; // inside the last record's data
      writeFileSync(f, b);
    });
    const r = await reportForRecord({ id: "c", name: "c", dir });
    const entry = entryOf(r, "tfevents");
    expect(entry.note).toMatch(/record data CRC mismatch/);
    expect(entry.records).toBe(42); // the file_version event and 41 scalar events before the bad one
    const notTf = await reportForRecord({ id: "n", name: "n", dir: runDirWith((f) => writeFileSync(f, "not a tfrecord file at all\n")) });
    expect(entryOf(notTf, "tfevents").note).toMatch(/length CRC mismatch/);
  });

  it("the event file's series is preferred to the console's when it has more points", async () => {
    const dir = runDirWith();
    writeFileSync(join(dir, "out.log"), "{'loss': 2.5, 'learning_rate': 9.5e-05, 'epoch': 0.1}\n{'loss': 0.25, 'learning_rate': 5e-05, 'epoch': 1.0}\n");
    const r = await reportForRecord({ id: "p", name: "p", dir, logs: { stdout: join(dir, "out.log") } });
    expect(r.series?.loss?.length).toBe(10);
    const noCsv = await reportForRecord({ id: "p", name: "p", dir, logs: { stdout: join(dir, "out.log") } }, { csv: false });
    expect(noCsv.series?.loss?.length).toBe(2);
  });

  it("with --state, a changed event file is read again (it is one of the record's inputs)", async () => {
    const dir = runDirWith();
    const state = join(tmp, `state${n++}`);
    const input = `${JSON.stringify({ id: "s", name: "s", dir, logs: { stdout: join(dir, "none.out") } })}\n`;
    const first = await runLogParse(tmp, { state }, input);
    expect(first.records[0].report.files.find((f: { role: string }) => f.role === "tfevents").records).toBe(43);
    truncateSync(join(dir, "runs", "x", "events.out.tfevents.1.host"), statSync(fixtureFile).size - 30);
    const second = await runLogParse(tmp, { state }, input);
    expect(second.records[0].report.files.find((f: { role: string }) => f.role === "tfevents").records).toBeLessThan(43);
  });

  const python = process.env.SLURMPIPE_TBX_PYTHON ?? "python3";
  const hasTbx = spawnSync(python, ["-c", "import tensorboardX"], { stdio: "ignore" }).status === 0;
  it.skipIf(!hasTbx)("a file tensorboardX writes now: a NaN loss is the NaN verdict at its step", async () => {
    const dir = join(tmp, "fresh");
    const made = spawnSync(python, [join(fixtureDir, "make_events.py"), join(dir, "logs"), "nan"], { encoding: "utf8" });
    expect(made.status, made.stderr).toBe(0);
    const r = await reportForRecord({ id: "f", name: "f", dir });
    expect(r.loss).toMatchObject({ trend: "NAN", first_nonfinite: { step: 7 } });
    expect(r.failures?.[0]?.class).toBe("NAN_LOSS");
  });
});

describe("torchtune DiskLogger files", () => {
  // The lines DiskLogger.log_dict writes: `Step N | ` then `name:value ` per metric, then a newline.
  const lines = [
    "Step 1 | loss:2.085338592529297 lr:2e-05 tokens_per_second_per_gpu:57.828881833956174 ",
    "Step 2 | loss:1.8718312978744507 lr:2e-05 tokens_per_second_per_gpu:405.044978758513 ",
    "Step 3 | loss:nan lr:2e-05 tokens_per_second_per_gpu:655.9372371931469 ",
  ];
  it("reads <output_dir>/logs/log_<time>.txt: every step, unrounded, nan as a NaN", async () => {
    const dir = join(tmp, "tt");
    mkdirSync(join(dir, "logs"), { recursive: true });
    writeFileSync(join(dir, "logs", "log_1723844072.txt"), `${lines.join("\n")}\n`);
    const r = await reportForRecord({ id: "tt", name: "tt", dir });
    expect(pts(r.series?.loss).slice(0, 2)).toEqual([
      [1, 2.085338592529297],
      [2, 1.8718312978744507],
    ]);
    expect(r.loss).toMatchObject({ trend: "NAN", first_nonfinite: { step: 3 } });
    expect(r.series?.tokens_per_second_per_gpu?.length).toBe(3);
    expect(r.files?.find((f) => f.role === "torchtune_log")).toMatchObject({ lines: 3, points: 9 });
  });

  it("a last line still being written is not read, and says so", async () => {
    const dir = join(tmp, "tt2");
    mkdirSync(join(dir, "logs"), { recursive: true });
    writeFileSync(join(dir, "logs", "log_1723844072.txt"), `${lines[0]}\n${lines[1]}\nStep 3 | loss:0.5`);
    const r = await reportForRecord({ id: "tt2", name: "tt2", dir });
    expect(pts(r.series?.loss)).toEqual([
      [1, 2.085338592529297],
      [2, 1.8718312978744507],
    ]);
    expect(entryOf(r, "torchtune_log").note).toMatch(/last line incomplete.*read its 2 complete steps/);
  });
});
