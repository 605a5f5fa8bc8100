import { formatElapsed, formatTime, mdCell } from "./format.ts";
import type { RunView } from "./view.ts";

/**
 * `--update experiment_summary.md`: rewrites the cells of the status table(s) in place and leaves
 * every other byte as it was: line endings, trailing spaces, other tables, front matter, code
 * blocks. Only rows whose values change are rebuilt, and within them only the changed cells.
 */

interface Line {
  text: string;
  /** "\n", "\r\n" or "" (last line without newline). */
  eol: string;
}

export interface UpdateResult {
  text: string;
  updatedRows: number;
  addedRows: number;
  /** True when no status table existed and a `## Status` section was appended. */
  appendedSection: boolean;
  tables: number;
}

/** Columns summary-md fills, by normalised header text. */
const COLUMNS: Record<string, (v: RunView) => string> = {
  status: (v) => v.status,
  "job id": (v) => (v.jobId ? mdCell(v.jobId) : "-"),
  started: (v) => formatTime(v.started) ?? "-",
  completed: (v) => formatTime(v.ended) ?? "-",
  elapsed: (v) => formatElapsed(v.elapsedS) ?? "-",
  "loss trend": (v) => v.trend ?? "-",
  notes: (v) => (v.notes.length ? mdCell(v.notes.join("; "), 240) : "-"),
};

const REQUIRED = ["status", "job id", "started", "completed"];

const NEW_TABLE_HEADER = ["Run Name", "Status", "Job ID", "Started", "Completed", "Notes"];

export function splitLines(text: string): Line[] {
  const lines: Line[] = [];
  const re = /([^\n]*?)(\r?\n)|([^\n]+)$/g;
  for (let m = re.exec(text); m !== null && m[0] !== ""; m = re.exec(text)) {
    if (m[3] !== undefined) lines.push({ text: m[3], eol: "" });
    else lines.push({ text: m[1]!, eol: m[2]! });
  }
  return lines;
}

interface Row {
  indent: string;
  leading: boolean;
  cells: string[];
  trailing: string;
}

/** Splits a table row on unescaped pipes, keeping each cell's raw text (spaces included). */
export function parseRow(text: string): Row | undefined {
  if (!text.includes("|")) return undefined;
  const indent = /^\s*/.exec(text)![0];
  let body = text.slice(indent.length);
  const leading = body.startsWith("|");
  if (leading) body = body.slice(1);
  let trailing = "";
  const end = /(^|[^\\])(\|\s*)$/.exec(body);
  if (end) {
    trailing = end[2]!;
    body = body.slice(0, body.length - trailing.length);
  }
  const cells: string[] = [];
  let cur = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === "\\" && i + 1 < body.length) {
      cur += c + body[i + 1];
      i++;
    } else if (c === "|") {
      cells.push(cur);
      cur = "";
    } else cur += c;
  }
  cells.push(cur);
  return { indent, leading, cells, trailing };
}

function formatRow(row: Row): string {
  return `${row.indent}${row.leading ? "|" : ""}${row.cells.join("|")}${row.trailing}`;
}

/** Cell text as a person reads it: trimmed, without surrounding code/bold marks, pipes unescaped. */
export function cellValue(raw: string): string {
  let v = raw.trim();
  for (const mark of ["**", "`", "__"]) if (v.length > 2 * mark.length && v.startsWith(mark) && v.endsWith(mark)) v = v.slice(mark.length, -mark.length).trim();
  return v.replace(/\\\|/g, "|");
}

const isDelimiterRow = (row: Row) => row.cells.length > 0 && row.cells.every((c) => /^\s*:?-+:?\s*$/.test(c));

interface Table {
  header: number;
  columns: string[];
  /** Line indexes of the body rows. */
  body: number[];
  eol: string;
}

/**
 * Finds the status tables: a header row with Run Name (or Run), Status, Job ID, Started and
 * Completed (any case, any order, more columns allowed), outside code blocks and front matter.
 */
export function findTables(lines: readonly Line[]): Table[] {
  const tables: Table[] = [];
  let i = 0;
  if (lines[0]?.text.trim() === "---") {
    const end = lines.findIndex((l, k) => k > 0 && (l.text.trim() === "---" || l.text.trim() === "..."));
    if (end > 0) i = end + 1;
  }
  let fence: string | undefined;
  for (; i < lines.length; i++) {
    const text = lines[i]!.text;
    const f = /^\s{0,3}(`{3,}|~{3,})/.exec(text);
    if (fence) {
      if (f && f[1]![0] === fence[0] && f[1]!.length >= fence.length && text.trim() === f[1]) fence = undefined;
      continue;
    }
    if (f) {
      fence = f[1];
      continue;
    }
    const header = parseRow(text);
    if (!header) continue;
    const columns = header.cells.map((c) => cellValue(c).toLowerCase().replace(/\s+/g, " "));
    const nameCol = columns.findIndex((c) => c === "run name" || c === "run");
    // The torchtune status table; other tables with a Status column (evaluation, ...) are left alone.
    if (nameCol === -1 || !REQUIRED.every((c) => columns.includes(c))) continue;
    const delim = lines[i + 1] ? parseRow(lines[i + 1]!.text) : undefined;
    if (!delim || !isDelimiterRow(delim)) continue;
    const body: number[] = [];
    let k = i + 2;
    for (; k < lines.length; k++) {
      const t = lines[k]!.text;
      if (t.trim() === "" || !t.includes("|")) break;
      body.push(k);
    }
    tables.push({ header: i, columns, body, eol: lines[i]!.eol || "\n" });
    i = k - 1;
  }
  return tables;
}

export function updateDocument(text: string, views: readonly RunView[]): UpdateResult {
  const lines = splitLines(text);
  const tables = findTables(lines);
  const wanted = views.filter((v) => !v.record?.control && !v.expected?.control);
  const byName = new Map(wanted.map((v) => [v.name, v]));
  const placed = new Set<string>();
  let updatedRows = 0;
  for (const table of tables) {
    const nameCol = table.columns.findIndex((c) => c === "run name" || c === "run");
    for (const index of table.body) {
      const row = parseRow(lines[index]!.text);
      if (!row) continue;
      const view = byName.get(cellValue(row.cells[nameCol] ?? ""));
      if (!view) continue;
      placed.add(view.name);
      let changed = false;
      table.columns.forEach((col, c) => {
        const fill = COLUMNS[col];
        if (!fill || c === nameCol) return;
        const value = fill(view);
        while (row.cells.length <= c) row.cells.push(" ");
        if (row.cells[c]!.trim() !== value) {
          row.cells[c] = ` ${value} `;
          changed = true;
        }
      });
      if (changed) {
        if (!row.trailing && row.leading) row.trailing = "|";
        lines[index] = { text: formatRow(row), eol: lines[index]!.eol };
        updatedRows += 1;
      }
    }
  }
  const fresh = wanted.filter((v) => !placed.has(v.name));
  let appendedSection = false;
  if (tables.length > 0 && fresh.length > 0) {
    const table = tables[0]!;
    const after = table.body.length ? table.body[table.body.length - 1]! : table.header + 1;
    const added = fresh.map((v) => ({ text: newRow(table.columns, v), eol: table.eol }));
    // The table's last row may be the file's last line, without a newline: it needs one now.
    if (lines[after]!.eol === "") lines[after] = { ...lines[after]!, eol: table.eol };
    lines.splice(after + 1, 0, ...added);
    // If the file ended right after the table, the added last row keeps that "no newline" ending.
    if (after + added.length === lines.length - 1 && !text.endsWith("\n")) lines[lines.length - 1]!.eol = "";
  } else if (tables.length === 0) {
    const eol = lines.find((l) => l.eol)?.eol ?? "\n";
    if (lines.length && lines[lines.length - 1]!.eol === "") lines[lines.length - 1]!.eol = eol;
    const columns = NEW_TABLE_HEADER.map((h) => h.toLowerCase());
    const section = [
      ...(lines.length ? [""] : []),
      "## Status",
      "",
      `| ${NEW_TABLE_HEADER.join(" | ")} |`,
      `|${NEW_TABLE_HEADER.map(() => "---").join("|")}|`,
      ...wanted.map((v) => newRow(columns, v)),
    ];
    lines.push(...section.map((t) => ({ text: t, eol })));
    appendedSection = true;
  }
  return {
    text: lines.map((l) => l.text + l.eol).join(""),
    updatedRows,
    addedRows: tables.length > 0 ? fresh.length : wanted.length,
    appendedSection,
    tables: tables.length,
  };
}

function newRow(columns: readonly string[], view: RunView): string {
  const cells = columns.map((col) => (col === "run name" || col === "run" ? mdCell(view.name, 200) : (COLUMNS[col]?.(view) ?? "-")));
  return `| ${cells.join(" | ")} |`;
}
