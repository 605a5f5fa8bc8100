import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findTables, parseRow, updateDocument } from "../src/update.ts";
import { splitLines } from "../src/update.ts";
import { run, tempDir, writeNdjson } from "./helpers.ts";

const FIXTURE = readFileSync(join(import.meta.dirname, "fixtures", "experiment_summary.md"), "utf8");

const records = [
  {
    id: "r1",
    name: "rank8_lr1e-5",
    job: { id: "12345678" },
    state: { state: "COMPLETED", category: "success", terminal: true, exit_code: "0:0", started_at: "2025-10-24T00:07:15Z", ended_at: "2025-10-24T00:15:17Z", elapsed_s: 482 },
  },
  { id: "r2", name: "rank8_lr5e-5", job: { id: "12345679" }, state: { state: "RUNNING", category: "active", terminal: false, started_at: "2025-10-24T00:07:18Z" } },
  { id: "r3", name: "rank16_lr1e-5", job: { id: "12345680" }, state: { state: "PENDING", category: "pending", terminal: false, reason: "Priority" } },
];

const OLD1 = "| rank8_lr1e-5 | PENDING | 12345678 | 2025-10-24 00:05:10 | - | - |";
const NEW1 = "| rank8_lr1e-5 | COMPLETED | 12345678 | 2025-10-24 00:07:15 | 2025-10-24 00:15:17 | - |";
const OLD2 = "| rank8_lr5e-5 | PENDING | 12345679 | 2025-10-24 00:05:15 | - | - |";
const NEW2 = "| rank8_lr5e-5 | RUNNING | 12345679 | 2025-10-24 00:07:18 | - | - |";
const CONTROL = "| base_control | N/A | - | - | - | control: no training |";
const ADDED = "| rank16_lr1e-5 | PENDING | 12345680 | - | - | reason Priority |";

/** What the document must look like: the original with exactly these lines changed. */
function expected(doc: string, eol: string): string {
  return doc.replace(OLD1, NEW1).replace(OLD2, NEW2).replace(`${CONTROL}${eol}`, `${CONTROL}${eol}${ADDED}${eol}`);
}

async function update(doc: string, recs: unknown[] = records, io: Parameters<typeof run>[1] = {}) {
  const dir = tempDir();
  const path = join(dir, "experiment_summary.md");
  writeFileSync(path, doc);
  const input = writeNdjson(join(dir, "in.ndjson"), recs);
  const result = await run({ inputs: [input], update: path, now: "2025-10-24T01:00:00Z" }, { cwd: dir, ...io });
  return { ...result, dir, path, after: readFileSync(path, "utf8") };
}

describe("--update experiment_summary.md", () => {
  it("changes only the status rows, byte for byte, and appends new runs at the table's end", async () => {
    const { code, after } = await update(FIXTURE);
    expect(code).toBe(0);
    expect(after).toBe(expected(FIXTURE, "\n"));
    // The example inside the code block, the evaluation table and trailing spaces/tabs are untouched.
    expect(after).toContain("| rank8_lr1e-5 | RUNNING | 12345678 | 2025-10-24 00:05:32 | - | - |\n```");
    expect(after).toContain("| rank8_lr1e-5 | capitalization | - | - | - |");
    expect(after).toContain("COMPLETED.\t\n");
  });

  it("keeps CRLF line endings and a missing final newline", async () => {
    const crlf = FIXTURE.replace(/\n/g, "\r\n");
    expect((await update(crlf)).after).toBe(expected(crlf, "\r\n"));
    // Table as the very last thing, no newline at the end of the file.
    const tail = "# x\n\n| Run Name | Status | Job ID | Started | Completed | Notes |\n|---|---|---|---|---|---|\n| rank8_lr1e-5 | PENDING | - | - | - | - |";
    const { after } = await update(tail);
    expect(after).toBe(
      "# x\n\n| Run Name | Status | Job ID | Started | Completed | Notes |\n|---|---|---|---|---|---|\n" +
        "| rank8_lr1e-5 | COMPLETED | 12345678 | 2025-10-24 00:07:15 | 2025-10-24 00:15:17 | - |\n" +
        "| rank8_lr5e-5 | RUNNING | 12345679 | 2025-10-24 00:07:18 | - | - |\n" +
        ADDED,
    );
  });

  it("rewrites only the changed cells of a row and keeps the others' spacing", async () => {
    const doc = "| Run Name   |  Status  | Job ID | Started | Completed | Notes |\n|-|-|-|-|-|-|\n|  rank8_lr5e-5  |  PENDING  | 12345679 | 2025-10-24 00:07:18 | - | my note |\n";
    const { after } = await update(doc, [records[1]]);
    expect(after).toBe(
      "| Run Name   |  Status  | Job ID | Started | Completed | Notes |\n|-|-|-|-|-|-|\n|  rank8_lr5e-5  | RUNNING | 12345679 | 2025-10-24 00:07:18 | - | - |\n",
    );
  });

  it("leaves the file untouched (same bytes, no write) when nothing changed", async () => {
    const first = await update(FIXTURE);
    let writes = 0;
    const second = await run(
      { inputs: [join(first.dir, "in.ndjson")], update: first.path },
      { cwd: first.dir, writeFile: async () => void writes++ },
    );
    expect(second.code).toBe(0);
    expect(writes).toBe(0);
  });

  it("appends a Status section when the document has no status table", async () => {
    const doc = "# My experiment\r\n\r\nNotes here.";
    const { after, stderr } = await update(doc);
    expect(after).toBe(
      "# My experiment\r\n\r\nNotes here.\r\n\r\n## Status\r\n\r\n| Run Name | Status | Job ID | Started | Completed | Notes |\r\n|---|---|---|---|---|---|\r\n" +
        `${NEW1}\r\n${NEW2}\r\n${ADDED}\r\n`,
    );
    expect(stderr).toContain("no status table found; appended a Status section with 3 runs");
  });

  it("a failing write leaves the old document whole", async () => {
    const dir = tempDir();
    const path = join(dir, "experiment_summary.md");
    writeFileSync(path, FIXTURE);
    const input = writeNdjson(join(dir, "in.ndjson"), records);
    await expect(
      run({ inputs: [input], update: path }, { cwd: dir, writeFile: async () => Promise.reject(Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" })) }),
    ).rejects.toThrow(/ENOSPC/);
    expect(readFileSync(path, "utf8")).toBe(FIXTURE);
    expect(readdirSync(dir).sort()).toEqual(["experiment_summary.md", "in.ndjson"]);
  });

  it("escapes pipes in cells and matches rows whose name is in a code span", async () => {
    const doc = "| Run Name | Status | Job ID | Started | Completed | Notes |\n|---|---|---|---|---|---|\n| `rank8_lr5e-5` | - | - | - | - | - |\n";
    const rec = { ...records[1], state: { state: "FAILED", category: "failure", terminal: true, exit_code: "1:0" }, report: { failures: [{ class: "PYTHON_EXCEPTION", message: "ValueError: a|b" }] } };
    const { after } = await update(doc, [rec]);
    const row = after.split("\n")[2]!;
    expect(row).toBe("| `rank8_lr5e-5` | FAILED | 12345679 | - | - | exit 1:0; PYTHON_EXCEPTION: ValueError: a\\|b |");
    expect(parseRow(row)!.cells).toHaveLength(6);
  });
});

describe("table detection", () => {
  it("ignores tables in front matter and fenced code, and tables without the status columns", () => {
    const tables = findTables(splitLines(FIXTURE));
    expect(tables).toHaveLength(1);
    expect(tables[0]!.body).toHaveLength(3);
  });

  it("finds the header case-insensitively and in any column order", () => {
    const doc = "| STATUS | run name | job id | started | completed |\n| --- | --- | --- | --- | --- |\n| PENDING | rank8_lr5e-5 | 1 | - | - |\n";
    const lines = splitLines(doc);
    expect(findTables(lines)).toHaveLength(1);
    const view = { id: "x", name: "rank8_lr5e-5", group: "", status: "RUNNING" as const, jobId: "7", failures: [], notes: [], paramChanges: [] };
    expect(updateDocument(doc, [view]).text).toBe("| STATUS | run name | job id | started | completed |\n| --- | --- | --- | --- | --- |\n| RUNNING | rank8_lr5e-5 | 7 | - | - |\n");
  });
});
