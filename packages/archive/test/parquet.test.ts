import { readdirSync } from "node:fs";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, describe, expect, test } from "vitest";
import { ROW_GROUP_ROWS, metricValue, paramColumnType } from "../src/parquet.ts";
import { archive, cleanup, tempDir, write } from "./helpers.ts";
import { type Kind, expectSameAsCsv, pyarrowPython, readWithDuckDB, readWithPyarrow } from "./parquet-readers.ts";

afterAll(cleanup);

const NOW = "2025-01-01T00:00:00Z";
const ARCHIVE = "pq-20250101T000000Z";

/**
 * Three runs of a sweep as archive gets them: typed params (float, int, text, bool, nested, a list,
 * one param only some runs have), attempts and Slurm states, one retried with a changed lr, and
 * Lightning metrics.csv files with sparse rows, nan/inf/-inf, a text cell and a step past 2^32.
 */
function makeSweep(root: string): string {
  const run = (id: string, lr: number, seed: number, extra: Record<string, unknown>, state: string, attempt: number, csv: string) => {
    const dir = join(root, "runs", id);
    write(join(dir, "metrics.csv"), csv);
    const params = { lr, seed, model: "tiny-llama", amp: seed % 2 === 0, optim: { name: "adamw", betas: [0.9, 0.99] }, ...extra };
    return {
      kind: "run",
      id,
      name: `lr${lr}_s${seed}`,
      ...(id === "c" ? {} : { variant: "S-core" }),
      group: "pq",
      dir,
      params,
      sweep_params: attempt > 1 ? { ...params, lr: lr * 2 } : params,
      job: { id: String(100 + seed), name: `${id}.sp`, attempt },
      state: { state, category: state === "COMPLETED" ? "success" : "failure", terminal: true },
    };
  };
  const records = [
    run("a", 0.1, 0, { warmup: 100 }, "COMPLETED", 1, "epoch,step,train_loss,val_loss\n0,10,2.5,\n0,10,,2.25\n1,20,1.5,nan\n1,30,inf,-inf\n"),
    run("b", 0.001, 1, {}, "FAILED", 1, "epoch,step,train_loss,val_loss\n0,10,NaN,\n0,4294967306,n/a,1e-7\n"),
    run("c", 0.05, 2, { warmup: 0 }, "COMPLETED", 2, "step,train_loss,grad_norm\n0,3.0,12.5\n5,0.333333333333333314829616256247,0\n"),
  ];
  return `${records.map((r) => JSON.stringify(r)).join("\n")}\n`;
}

const KINDS: Record<string, Kind> = {
  run_id: "STRING",
  name: "STRING",
  variant: "STRING",
  attempt: "INT64",
  state: "STRING",
  amp: "BOOLEAN",
  lr: "DOUBLE",
  model: "STRING",
  "optim.betas": "STRING",
  "optim.name": "STRING",
  seed: "INT64",
  warmup: "INT64",
  params_changed: "BOOLEAN",
  param_changes: "STRING",
  step: "INT64",
};

describe("metrics.parquet is the CSV's dataset, typed, read back equal by independent readers", () => {
  const root = tempDir("sp-archive-parquet-");

  test("archive writes metrics.parquet beside metrics.csv and lists it in the manifest", async () => {
    const r = await archive({ now: NOW, name: "pq" }, { cwd: root, input: makeSweep(root) });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const entry = r.records.find((e) => e.kind === "archive-entry" && e.path === "metrics.parquet");
    expect(entry).toMatchObject({ role: "metrics" });
    expect(entry?.compressed).toBeUndefined();
  });

  test("DuckDB reads every value of the CSV back, NaN as NaN, with the column types", async () => {
    const dir = join(root, "archives", ARCHIVE);
    const table = await readWithDuckDB(join(dir, "metrics.parquet"));
    expect(table.columns.map((c) => c.name)).toEqual([
      "run_id", "name", "variant", "attempt", "state", "amp", "lr", "model", "optim.betas", "optim.name", "seed", "warmup",
      "params_changed", "param_changes", "step", "epoch", "grad_norm", "train_loss", "val_loss",
    ]);
    const cells = expectSameAsCsv(table, join(dir, "metrics.csv"), KINDS, "duckdb");
    expect(cells).toBe(19 * 7);
    // The values a reader of the CSV would get wrong without care, spelled out.
    const row = (step: bigint) => table.rows.find((r) => r[14] === step)!;
    expect(row(4294967306n)[17]).toBeNull(); // "n/a": not a number
    expect(row(4294967306n)[18]).toBe(1e-7);
    expect(Number.isNaN(row(20n)[18])).toBe(true);
    expect(row(30n).slice(17)).toEqual([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    expect(row(5n)[17]).toBe(0.3333333333333333);
    expect(row(5n).slice(3, 5)).toEqual([2n, "COMPLETED"]);
    expect(row(5n).slice(12, 14)).toEqual([true, "lr=0.05 (sweep: 0.1)"]);
    expect(row(10n)[8]).toBe("[0.9,0.99]");
  });

  test("NaN stays out of the statistics: DuckDB's filters on a metric see every row", async () => {
    const path = join(root, "archives", ARCHIVE, "metrics.parquet");
    const db = await DuckDBInstance.create(":memory:");
    const c = await db.connect();
    const q = async (sql: string) => (await c.runAndReadAll(sql)).getRowsJS()[0]![0];
    expect(await q(`SELECT count(*) FROM '${path}' WHERE isnan(train_loss) OR isnan(val_loss)`)).toBe(2n);
    expect(await q(`SELECT count(*) FROM '${path}' WHERE val_loss < 1`)).toBe(2n); // 1e-7 and -inf
    expect(await q(`SELECT max(step) FROM '${path}' WHERE run_id = 'b'`)).toBe(4294967306n);
    c.closeSync();
    db.closeSync();
  });

  test("pyarrow reads the same values (skipped without a Python that has pyarrow, except in CI)", async (ctx) => {
    const python = await pyarrowPython();
    if (!python) {
      // scripts/test-all installs pyarrow into a venv and names it in SLURMPIPE_PYARROW_PYTHON: CI must have it.
      expect(process.env.CI, "CI runs scripts/test-all, which provides pyarrow").not.toBe("true");
      ctx.skip();
    }
    const dir = join(root, "archives", ARCHIVE);
    const table = await readWithPyarrow(python!, join(dir, "metrics.parquet"));
    expect(expectSameAsCsv(table, join(dir, "metrics.csv"), KINDS, "pyarrow")).toBe(19 * 7);
    expect(table.rowGroups).toBe(1);
  });
});

describe("row groups are bounded: a long run spans several", () => {
  test(`a run of ${ROW_GROUP_ROWS + 5} steps is ${ROW_GROUP_ROWS} rows and 5 rows, read back equal`, { timeout: 120_000 }, async () => {
    const root = tempDir("sp-archive-parquet-long-");
    const dir = join(root, "long");
    const lines = ["step,loss"];
    for (let i = 0; i < ROW_GROUP_ROWS + 5; i++) lines.push(`${i},${i % 1000 === 7 ? "nan" : (1 / (i + 1)).toString()}`);
    write(join(dir, "metrics.csv"), `${lines.join("\n")}\n`);
    const rec = { id: "long", name: "long", dir, params: { lr: 0.1 } };
    const r = await archive({ now: NOW, name: "long" }, { cwd: root, input: JSON.stringify(rec) });
    expect(r.code).toBe(0);
    const out = join(root, "archives", "long-20250101T000000Z");
    const db = await DuckDBInstance.create(":memory:");
    const c = await db.connect();
    const groups = (await c.runAndReadAll(`SELECT row_group_id, max(row_group_num_rows) FROM parquet_metadata('${join(out, "metrics.parquet")}') GROUP BY ALL ORDER BY 1`)).getRowsJS();
    expect(groups).toEqual([[0n, BigInt(ROW_GROUP_ROWS)], [1n, 5n]]);
    c.closeSync();
    db.closeSync();
    const table = await readWithDuckDB(join(out, "metrics.parquet"));
    expectSameAsCsv(table, join(out, "metrics.csv"), { run_id: "STRING", name: "STRING", variant: "STRING", lr: "DOUBLE", step: "INT64" }, "duckdb");
  });
});

describe("column types", () => {
  test("a param's column holds every value it takes", () => {
    expect(paramColumnType([1, 2, 3])).toBe("INT64");
    expect(paramColumnType([1, 0.5])).toBe("DOUBLE");
    expect(paramColumnType([true, null, false])).toBe("BOOLEAN");
    expect(paramColumnType([true, 1])).toBe("STRING");
    expect(paramColumnType(["a", 1])).toBe("STRING");
    expect(paramColumnType([[1, 2]])).toBe("STRING");
    expect(paramColumnType([2 ** 60])).toBe("DOUBLE"); // past 2^53 a JS number is no exact integer
  });

  test("metric cells: nan and inf are kept as NaN and Infinity, other text is null", () => {
    expect(metricValue(1.5, "1.5")).toBe(1.5);
    expect(metricValue(null, "nan")).toBeNaN();
    expect(metricValue(null, "-NaN")).toBeNaN();
    expect(metricValue(null, "inf")).toBe(Number.POSITIVE_INFINITY);
    expect(metricValue(null, "Infinity")).toBe(Number.POSITIVE_INFINITY);
    expect(metricValue(null, "-inf")).toBe(Number.NEGATIVE_INFINITY);
    expect(metricValue(null, "n/a")).toBeNull();
  });
});

describe("reading the metrics.csv headers closes each file", () => {
  test("archive's dataset of 300 runs leaves no file open (each header read used to keep its file)", { timeout: 120_000 }, async () => {
    const root = tempDir("sp-archive-fds-");
    const records = Array.from({ length: 300 }, (_, i) => {
      const dir = join(root, `r${i}`);
      // Longer than one read (64 KiB), as a real run's metrics.csv: the header is read, the rest is not.
      write(join(dir, "metrics.csv"), `step,loss\n${Array.from({ length: 8000 }, (_, s) => `${s},0.5`).join("\n")}\n`);
      return JSON.stringify({ id: `r${i}`, name: `r${i}`, dir });
    });
    const open = () => readdirSync("/proc/self/fd").length;
    const before = open();
    const { writeDataset } = await import("../src/metrics.ts");
    const sources = records.map((l) => {
      const r = JSON.parse(l) as { id: string; name: string; dir: string };
      return { record: { ...r, kind: "run" } as never, csvFiles: [join(r.dir, "metrics.csv")] };
    });
    const seen: number[] = [];
    const timer = setInterval(() => seen.push(open()), 5);
    await writeDataset(sources, { parquet: join(root, "metrics.parquet") });
    clearInterval(timer);
    // A leak keeps one descriptor per run until the process exits; a few in flight are fine.
    expect(Math.max(...seen, open()) - before).toBeLessThan(50);
  });
});
