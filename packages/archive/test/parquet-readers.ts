import { readFileSync } from "node:fs";
import { DuckDBInstance } from "@duckdb/node-api";
import { parse } from "csv-parse/sync";
import { execa } from "execa";
import { expect } from "vitest";

/**
 * Independent readers of metrics.parquet (DuckDB's Node package; pyarrow where a Python with it is
 * found) and the comparison of what they read with metrics.csv, value by value. A table is its
 * column names, their types as the reader names them, and the rows in file order.
 */
export interface Table {
  columns: { name: string; type: string }[];
  rows: unknown[][];
}

export async function readWithDuckDB(path: string): Promise<Table> {
  const db = await DuckDBInstance.create(":memory:");
  const c = await db.connect();
  try {
    const quoted = `'${path.replace(/'/g, "''")}'`;
    const described = (await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${quoted})`)).getRowObjectsJS();
    const columns = described.map((d) => ({ name: String(d.column_name), type: String(d.column_type) }));
    // file_row_number: the rows in the order they were written, whatever DuckDB's scan order.
    const reader = await c.runAndReadAll(`SELECT * EXCLUDE (file_row_number) FROM read_parquet(${quoted}, file_row_number = true) ORDER BY file_row_number`);
    return { columns, rows: reader.getRowsJS() };
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

/** SLURMPIPE_PYARROW_PYTHON (scripts/test-all's venv), else python3; undefined when neither has pyarrow. */
export async function pyarrowPython(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  for (const py of [env.SLURMPIPE_PYARROW_PYTHON, "python3"]) {
    if (!py) continue;
    const r = await execa(py, ["-c", "import pyarrow.parquet"], { reject: false, timeout: 60_000 }).catch(() => undefined);
    if (r?.exitCode === 0) return py;
  }
  return undefined;
}

/** pyarrow's reading, sent as JSON: non-finite floats and int64s as tagged strings, so JSON keeps them exactly. */
const PYARROW_DUMP = `
import json, math, sys
import pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
def enc(v):
    if isinstance(v, float) and not math.isfinite(v):
        return {"float": "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")}
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        return {"int": str(v)}
    return v
cols = [{"name": f.name, "type": str(f.type)} for f in t.schema]
rows = [[enc(v) for v in r.values()] for r in t.to_pylist()]
print(json.dumps({"columns": cols, "rows": rows, "row_groups": pq.ParquetFile(sys.argv[1]).num_row_groups}))
`;

export async function readWithPyarrow(python: string, path: string): Promise<Table & { rowGroups: number }> {
  const r = await execa(python, ["-c", PYARROW_DUMP, path], { timeout: 120_000 });
  const raw = JSON.parse(r.stdout) as { columns: Table["columns"]; rows: unknown[][]; row_groups: number };
  const dec = (v: unknown): unknown => {
    if (v && typeof v === "object" && "float" in v) return Number((v as { float: string }).float);
    if (v && typeof v === "object" && "int" in v) return BigInt((v as { int: string }).int);
    return v;
  };
  return { columns: raw.columns, rows: raw.rows.map((row) => row.map(dec)), rowGroups: raw.row_groups };
}

/** The Parquet type of each column, in the reader's own names. */
const TYPES = {
  duckdb: { STRING: "VARCHAR", INT64: "BIGINT", DOUBLE: "DOUBLE", BOOLEAN: "BOOLEAN" },
  pyarrow: { STRING: "string", INT64: "int64", DOUBLE: "double", BOOLEAN: "bool" },
} as const;

export type Kind = keyof (typeof TYPES)["duckdb"];

/**
 * Every cell of the CSV against the table: same columns in the same order with the types
 * expected, same number of rows, and each value equal: "" is null, nan/inf are NaN/Infinity, an
 * integer column holds exactly the CSV's digits, a double the CSV's number, text the CSV's text.
 */
export function expectSameAsCsv(table: Table, csvPath: string, kinds: Record<string, Kind>, reader: keyof typeof TYPES): number {
  const [header, ...rows] = parse(readFileSync(csvPath, "utf8")) as string[][];
  expect(table.columns.map((c) => c.name)).toEqual(header);
  expect(table.columns.map((c) => c.type)).toEqual(header!.map((h) => TYPES[reader][kinds[h] ?? "DOUBLE"]));
  expect(table.rows).toHaveLength(rows.length);
  let cells = 0;
  for (const [i, row] of rows.entries()) {
    for (const [j, text] of row.entries()) {
      const name = header![j]!;
      const got = table.rows[i]![j];
      expectCell(got, text, kinds[name] ?? "DOUBLE", `row ${i + 1}, column ${name}: csv ${JSON.stringify(text)}, parquet ${String(got)}`);
      cells += 1;
    }
  }
  return cells;
}

function expectCell(got: unknown, text: string, kind: Kind, where: string): void {
  if (text === "") return void expect(got, where).toBeNull();
  switch (kind) {
    case "STRING":
      return void expect(got, where).toBe(text);
    case "INT64":
      return void expect(got, where).toBe(BigInt(text));
    case "BOOLEAN":
      return void expect(got, where).toBe(text === "true");
    case "DOUBLE": {
      const t = text.toLowerCase();
      if (/^[-+]?nan$/.test(t)) return void expect(Number.isNaN(got), where).toBe(true);
      if (/^\+?inf(inity)?$/.test(t)) return void expect(got, where).toBe(Number.POSITIVE_INFINITY);
      if (/^-inf(inity)?$/.test(t)) return void expect(got, where).toBe(Number.NEGATIVE_INFINITY);
      if (Number.isNaN(Number(t))) return void expect(got, where).toBeNull(); // text where a number goes
      return void expect(got, where).toBe(Number(text));
    }
  }
}
