import { type FileHandle, open } from "node:fs/promises";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";

/**
 * metrics.parquet, written with hyparquet-writer (pure JavaScript, one dependency, so the
 * standalone dist/ stays plain JS). Rows are buffered column by column up to ROW_GROUP_ROWS, then
 * encoded as one row group and written to the file before the next row is taken: memory is bounded
 * by the row group, whatever the number of runs and steps (the footer's row-group list is the only
 * part that grows, a few kB per row group).
 */

/** The column types of the dataset. INT64 and DOUBLE are nullable like the others. */
export type ColumnType = "STRING" | "INT64" | "DOUBLE" | "BOOLEAN";

export interface ColumnSpec {
  name: string;
  type: ColumnType;
}

/** Rows per row group: DuckDB's and Arrow's usual order of magnitude, a few MB of buffers. */
export const ROW_GROUP_ROWS = 100_000;

type Value = string | number | bigint | boolean | null;

const SCHEMA_TYPE = {
  STRING: { type: "BYTE_ARRAY", converted_type: "UTF8" },
  INT64: { type: "INT64" },
  DOUBLE: { type: "DOUBLE" },
  BOOLEAN: { type: "BOOLEAN" },
} as const;

/**
 * A ByteWriter whose bytes go to a file after each row group (hyparquet-writer calls `flush` and
 * awaits it before it encodes the next group). `offset` keeps counting the file's bytes, which
 * the footer's column offsets rely on; `index` restarts at 0 once the buffer is written.
 */
class FileByteWriter extends ByteWriter {
  constructor(private readonly file: FileHandle) {
    super(1 << 20);
  }

  async flush(): Promise<void> {
    const bytes = new Uint8Array(this.buffer, 0, this.index);
    let written = 0;
    while (written < bytes.length) written += (await this.file.write(bytes, written)).bytesWritten;
    this.index = 0;
  }

  override async finish(): Promise<void> {
    await this.flush();
  }
}

export class ParquetDatasetWriter {
  private readonly columns: Value[][];
  private rows = 0;

  private constructor(
    private readonly file: FileHandle,
    private readonly writer: ParquetWriter,
    private readonly specs: readonly ColumnSpec[],
    private readonly rowGroupRows: number,
  ) {
    this.columns = specs.map(() => []);
  }

  /** Creates the file (it must not exist yet, like the NDJSON and CSV beside it). */
  static async create(path: string, specs: readonly ColumnSpec[], kv: Record<string, string> = {}, rowGroupRows = ROW_GROUP_ROWS): Promise<ParquetDatasetWriter> {
    const file = await open(path, "wx");
    const schema = [
      { name: "root", num_children: specs.length },
      ...specs.map((s) => ({ name: s.name, ...SCHEMA_TYPE[s.type], repetition_type: "OPTIONAL" as const })),
    ];
    const writer = new ParquetWriter({
      writer: new FileByteWriter(file),
      schema,
      createdBy: "slurmpipe archive",
      kvMetadata: Object.entries(kv).map(([key, value]) => ({ key, value })),
    });
    return new ParquetDatasetWriter(file, writer, specs, rowGroupRows);
  }

  /**
   * The values of the leading columns as stored (INT64 as bigint, ...): converted once per run,
   * not once per row. Strings, finite or non-finite numbers (NaN stays NaN), integers as numbers
   * for INT64 columns, booleans, null.
   */
  prepare(values: readonly Value[], from = 0): Value[] {
    return values.map((v, i) => toColumn(this.specs[from + i]!, v ?? null));
  }

  /**
   * One row: `prepared` (from `prepare`) fills the first columns, `rest` the others (converted
   * here). Returns a promise only when the row completed a row group that is being written: the
   * caller awaits it then, and no microtask is spent on the other rows.
   */
  add(prepared: readonly Value[], rest: readonly Value[]): Promise<void> | undefined {
    const n = prepared.length;
    for (let i = 0; i < n; i++) this.columns[i]!.push(prepared[i]!);
    for (let i = 0; i < rest.length; i++) this.columns[n + i]!.push(toColumn(this.specs[n + i]!, rest[i] ?? null));
    this.rows += 1;
    return this.rows >= this.rowGroupRows ? this.flushGroup() : undefined;
  }

  private async flushGroup(): Promise<void> {
    if (this.rows === 0) return;
    const columnData = this.specs.map((s, i) => ({ name: s.name, data: this.columns[i]! }));
    await this.writer.write({ columnData, rowGroupSize: this.rows });
    for (let i = 0; i < this.columns.length; i++) this.columns[i] = [];
    this.rows = 0;
  }

  async close(): Promise<void> {
    try {
      await this.flushGroup();
      await this.writer.finish();
      await this.file.sync();
    } finally {
      await this.file.close();
    }
  }

  /** Closes the file without a footer (the caller removes it). */
  async abort(): Promise<void> {
    await this.file.close().catch(() => {});
  }
}

function toColumn(spec: ColumnSpec, v: Value): Value {
  if (v === null) return null;
  if (spec.type === "DOUBLE" && typeof v === "number") return v; // the metrics: most of the cells
  switch (spec.type) {
    case "INT64":
      if (typeof v === "bigint") return v;
      if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v);
      throw new TypeError(`parquet column ${spec.name}: ${String(v)} is not an integer`);
    case "DOUBLE":
      if (typeof v === "number") return v;
      throw new TypeError(`parquet column ${spec.name}: ${String(v)} is not a number`);
    case "BOOLEAN":
      if (typeof v === "boolean") return v;
      throw new TypeError(`parquet column ${spec.name}: ${String(v)} is not a boolean`);
    case "STRING":
      return typeof v === "string" ? v : String(v);
  }
}

/**
 * The column type that holds every value a parameter takes across the runs: BOOLEAN, INT64 (all
 * safe integers), DOUBLE (numbers), else STRING (text as the CSV writes it, objects as JSON).
 */
export function paramColumnType(values: Iterable<unknown>): ColumnType {
  let bool = false;
  let int = false;
  let float = false;
  let other = false;
  for (const v of values) {
    if (v === null || v === undefined) continue;
    if (typeof v === "boolean") bool = true;
    else if (typeof v === "number" && Number.isSafeInteger(v)) int = true;
    else if (typeof v === "number") float = true;
    else other = true;
  }
  if (other || (bool && (int || float))) return "STRING";
  if (bool) return "BOOLEAN";
  if (float) return "DOUBLE";
  if (int) return "INT64";
  return "STRING";
}

/** A param's value in a column of that type (STRING: the CSV's text of it). */
export function paramValue(type: ColumnType, v: unknown): Value {
  if (v === null || v === undefined) return null;
  if (type === "STRING") return typeof v === "object" ? JSON.stringify(v) : String(v);
  return v as Value;
}

/** A metric cell's raw text as a double: numbers, nan and +-inf (NaN and Infinity kept); other text null. */
export function metricValue(value: number | null, raw: string): number | null {
  if (value !== null) return value;
  const t = raw.trim().toLowerCase();
  if (/^[-+]?nan$/.test(t)) return Number.NaN;
  if (/^\+?inf(inity)?$/.test(t)) return Number.POSITIVE_INFINITY;
  if (/^-inf(inity)?$/.test(t)) return Number.NEGATIVE_INFINITY;
  return null;
}
