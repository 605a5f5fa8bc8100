import { LineCounter, isMap, isScalar, isSeq, parseDocument } from "yaml";

/** One run as an experiment summary lists it. */
export interface SummaryRow {
  name: string;
  /** Directory name when the summary gives one apart from the run name. */
  dir?: string;
  control: boolean;
  /** The type column's (or `type:` field's) text, when the summary has one: "Fine-tuned", "Control". */
  type?: string;
  /** 1-based line in the summary file. */
  line: number;
}

export interface Summary {
  file: string;
  rows: SummaryRow[];
}

const NAME_HEADER = /^(run[ _-]?name|run|name)$/i;
const TYPE_HEADER = /^(type|run[ _-]?type|kind)$/i;
const CONTROL_HEADER = /^(control|is[ _-]?control)$/i;
const DIR_HEADER = /^(dir|directory|run[ _-]?dir(ectory)?|path)$/i;
const TRUTHY = /^(yes|y|true|1|x|✓|✔)$/i;

function cell(text: string): string {
  return text
    .trim()
    .replace(/^`+|`+$/g, "")
    .replace(/^\*\*|\*\*$/g, "")
    .trim();
}

function splitRow(line: string): string[] {
  const body = line.trim().replace(/^\|/, "").replace(/\|$/, "");
  return body.split(/(?<!\\)\|/).map(cell);
}

interface Table {
  heading: string;
  header: string[];
  rows: { cells: string[]; line: number }[];
}

function tables(text: string): Table[] {
  const lines = text.split(/\r?\n/);
  const out: Table[] = [];
  let heading = "";
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const h = /^#{1,6}\s+(.*)$/.exec(line);
    if (h) heading = h[1]!.trim();
    if (!line.trim().startsWith("|") || !/^\s*\|?\s*:?-{3,}/.test(lines[i + 1] ?? "")) continue;
    const table: Table = { heading, header: splitRow(line), rows: [] };
    i += 2;
    while (i < lines.length && lines[i]!.trim().startsWith("|")) {
      table.rows.push({ cells: splitRow(lines[i]!), line: i + 1 });
      i++;
    }
    i--;
    out.push(table);
  }
  return out;
}

/**
 * Runs listed in experiment_summary.md: the "All Runs" table when there is one (else the first
 * table with a run-name column and a type column, else the first with a run-name column). A row
 * is a control when its type says "control" or its control column is ticked.
 */
export function parseSummaryMarkdown(text: string, file: string): Summary {
  const candidates = tables(text).filter((t) => t.header.some((h) => NAME_HEADER.test(h)));
  const pick =
    candidates.find((t) => /all runs/i.test(t.heading)) ??
    candidates.find((t) => t.header.some((h) => TYPE_HEADER.test(h) || CONTROL_HEADER.test(h))) ??
    candidates[0];
  if (!pick) return { file, rows: [] };
  const col = (re: RegExp) => pick.header.findIndex((h) => re.test(h));
  const nameCol = col(NAME_HEADER);
  const typeCol = col(TYPE_HEADER);
  const controlCol = col(CONTROL_HEADER);
  const dirCol = col(DIR_HEADER);
  const rows: SummaryRow[] = [];
  for (const r of pick.rows) {
    const name = r.cells[nameCol] ?? "";
    if (name === "" || /^-+$/.test(name)) continue;
    const control = (typeCol >= 0 && /control/i.test(r.cells[typeCol] ?? "")) || (controlCol >= 0 && TRUTHY.test(r.cells[controlCol] ?? ""));
    const dir = dirCol >= 0 && r.cells[dirCol] ? r.cells[dirCol]!.replace(/\/+$/, "").split("/").pop() : undefined;
    const type = typeCol >= 0 && r.cells[typeCol] ? r.cells[typeCol] : undefined;
    rows.push({ name, control, line: r.line, ...(type ? { type } : {}), ...(dir ? { dir } : {}) });
  }
  return { file, rows };
}

/**
 * True when the summary marks the run for fine-tuning: its type says so ("Fine-tuned"), or it has
 * no type and is not a control (a table without a type column lists the runs to train).
 */
export function markedForFineTuning(row: SummaryRow): boolean {
  return !row.control && (row.type === undefined || /fine[\s_-]?tun/i.test(row.type));
}

/** Runs listed in experiment_summary.yaml: `runs: [{name, type: fine-tuned|control}, ...]`. */
export function parseSummaryYaml(text: string, file: string): Summary {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  const runs = isMap(doc.contents) ? doc.contents.get("runs", true) : undefined;
  const rows: SummaryRow[] = [];
  if (!isSeq(runs)) return { file, rows };
  for (const item of runs.items) {
    if (!isMap(item)) continue;
    const name = item.get("name", true);
    if (!isScalar(name) || typeof name.value !== "string") continue;
    const type = item.get("type");
    const dir = item.get("directory") ?? item.get("dir");
    const line = lc.linePos(item.range?.[0] ?? 0).line;
    rows.push({
      name: name.value,
      control: typeof type === "string" && /control/i.test(type),
      line,
      ...(typeof type === "string" && type ? { type } : {}),
      ...(typeof dir === "string" ? { dir: dir.replace(/\/+$/, "").split("/").pop()! } : {}),
    });
  }
  return { file, rows };
}
