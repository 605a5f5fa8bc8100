import { type Document, type YAMLMap, isMap, isScalar, isSeq, parseAllDocuments } from "yaml";
import { formatElapsed, formatTime, oneLine } from "./format.ts";
import type { UpdateResult } from "./update.ts";
import type { RunView } from "./view.ts";

/**
 * `--update experiment_summary.yaml`: the experiment summary in YAML, the layout sweep-gen
 * --from-dirs reads (seed 003: `experiment.name`, a top-level `runs:` list):
 *
 *   runs:
 *     - name: rank8_lr1e-5        # matched by name
 *       type: fine-tuned          # type: control entries are never touched
 *       status: RUNNING           # the fields summary-md sets: status, job_id, started, completed, notes
 *       job_id: "12345"           # (elapsed and loss_trend too, where an entry already has them)
 *
 * Edited through the `yaml` package's Document API, so comments, key order, quoting and the rest of
 * the document stay; only changed values are set. A file without that layout is refused (nothing
 * is written): appending a markdown table to YAML would make it invalid.
 */

export class YamlLayoutError extends Error {}

const FIELDS: Record<string, (v: RunView) => string | null> = {
  status: (v) => v.status,
  job_id: (v) => v.jobId ?? null,
  started: (v) => formatTime(v.started) ?? null,
  completed: (v) => formatTime(v.ended) ?? null,
  notes: (v) => (v.notes.length ? oneLine(v.notes.join("; "), 240) : null),
};
/** Filled only in entries that already have them. */
const OPTIONAL: Record<string, (v: RunView) => string | null> = {
  elapsed: (v) => formatElapsed(v.elapsedS) ?? null,
  loss_trend: (v) => v.trend ?? null,
};

/** Parses the document and checks the layout; throws YamlLayoutError naming `file` otherwise. */
export function parseExperimentYaml(text: string, file: string): Document {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) throw new YamlLayoutError(`${file} is empty: expected a YAML experiment summary with a top-level runs: list`);
  if (docs.length !== 1) throw new YamlLayoutError(`${file} holds ${docs.length} YAML documents; summary-md updates a file with one`);
  const doc = docs[0]!;
  const error = doc.errors[0];
  if (error) throw new YamlLayoutError(`${file} is not valid YAML (${oneLine(error.message.split("\n")[0] ?? "", 200)}); nothing was changed`);
  if (!isMap(doc.contents)) throw new YamlLayoutError(`${file}: expected a mapping with a top-level runs: list (runs: [{name, status, job_id, started, completed, notes}])`);
  const runs = doc.contents.get("runs", true);
  if (!isSeq(runs)) throw new YamlLayoutError(`${file}: no top-level runs: list; summary-md updates runs: [{name, status, job_id, started, completed, notes}] (see its README)`);
  return doc;
}

export function updateYamlDocument(text: string, views: readonly RunView[], file: string): UpdateResult {
  const doc = parseExperimentYaml(text, file);
  const runs = (doc.contents as YAMLMap).get("runs", true);
  if (!isSeq(runs)) throw new YamlLayoutError(`${file}: no top-level runs: list`);
  const wanted = views.filter((v) => !v.record?.control && !v.expected?.control);
  const byName = new Map(wanted.map((v) => [v.name, v]));
  const placed = new Set<string>();
  let updatedRows = 0;
  for (const item of runs.items) {
    if (!isMap(item)) continue;
    const name = item.get("name");
    if (typeof name !== "string") continue;
    placed.add(name);
    const type = item.get("type");
    if (typeof type === "string" && /control/i.test(type)) continue;
    const view = byName.get(name);
    if (!view) continue;
    let changed = false;
    for (const [key, fill] of Object.entries(FIELDS)) changed = setField(item, key, fill(view), false) || changed;
    for (const [key, fill] of Object.entries(OPTIONAL)) changed = setField(item, key, fill(view), true) || changed;
    if (changed) updatedRows += 1;
  }
  const fresh = wanted.filter((v) => !placed.has(v.name));
  for (const view of fresh) {
    const entry: Record<string, string> = { name: view.name };
    for (const [key, fill] of Object.entries(FIELDS)) {
      const value = fill(view);
      if (value !== null) entry[key] = value;
    }
    runs.add(doc.createNode(entry));
  }
  if (updatedRows === 0 && fresh.length === 0) return { text, updatedRows, addedRows: 0, appendedSection: false, tables: 1 };
  let out = doc.toString({ lineWidth: 0 });
  if (text.includes("\r\n")) out = out.replace(/\r?\n/g, "\r\n");
  return { text: out, updatedRows, addedRows: fresh.length, appendedSection: false, tables: 1 };
}

/** Sets `key` of an entry when its value differs; a field without a value is cleared only where the entry has it. True when changed. */
function setField(item: YAMLMap, key: string, value: string | null, onlyIfPresent: boolean): boolean {
  const node = item.get(key, true);
  if (node === undefined) {
    if (onlyIfPresent || value === null) return false;
    item.set(key, value);
    return true;
  }
  if (isScalar(node)) {
    const current = node.value === null || node.value === undefined ? null : String(node.value);
    if (current === value) return false;
    // The node stays (its comments and position with it); only the value changes.
    node.value = value;
    return true;
  }
  item.set(key, value);
  return true;
}
