/**
 * Run records are kept as their JSON text, not as objects (100,000 parsed records were ~150 MB of
 * heap, their text is ~100 MB and sits in a scratch file, core's ScratchTexts). What slurm-submit
 * changes in a record is a list of edits, applied when it is written out. Only a few top-level
 * fields are ever set or dropped; `fields` says which of them the text has, so an edit that only
 * adds new fields is spliced onto the text instead of parsing and re-serialising it.
 */

/** The top-level fields an edit may set or drop. */
const EDITED = ["job", "state", "report", "error", "dry_run", "planned", "sbatch_argv", "script"] as const;
export type EditedField = (typeof EDITED)[number];

/** `{...record, ...set}` without the `drop` fields: the same result as the object spread it replaces. */
export interface Edit {
  drop?: readonly EditedField[];
  set?: Partial<Record<EditedField, unknown>>;
}

const bit = (field: EditedField): number => 1 << EDITED.indexOf(field);

/** Which of the edited fields a record has (a bit each). */
export function fieldsOf(record: Record<string, unknown>): number {
  let fields = 0;
  for (const f of EDITED) if (record[f] !== undefined) fields |= bit(f);
  return fields;
}

function touches(edit: Edit, fields: number): boolean {
  for (const f of edit.drop ?? []) if (fields & bit(f)) return true;
  for (const f of Object.keys(edit.set ?? {}) as EditedField[]) if (fields & bit(f)) return true;
  return false;
}

function after(edit: Edit, fields: number): number {
  let out = fields;
  for (const f of edit.drop ?? []) out &= ~bit(f);
  for (const [f, v] of Object.entries(edit.set ?? {})) if (v !== undefined) out |= bit(f as EditedField);
  return out;
}

/** The fields the record has once the edits are applied. */
export function fieldsAfter(fields: number, edits: readonly Edit[]): number {
  return edits.reduce((f, e) => after(e, f), fields);
}

/**
 * The record's text after the edits, byte for byte what `JSON.stringify` of the edited object gives
 * (`text` itself came from JSON.stringify). Fields that are new are appended at the end, as a spread
 * appends them; an edit that replaces or drops a field the record has goes through JSON.parse.
 */
export function applyEdits(text: string, fields: number, edits: readonly Edit[]): string {
  let f = fields;
  for (const e of edits) {
    if (touches(e, f)) return applyParsed(text, edits);
    f = after(e, f);
  }
  let out = text;
  for (const e of edits) {
    if (!e.set) continue;
    const added = JSON.stringify(e.set);
    if (added === "{}") continue;
    out = out === "{}" ? added : `${out.slice(0, -1)},${added.slice(1)}`;
  }
  return out;
}

function applyParsed(text: string, edits: readonly Edit[]): string {
  let record = JSON.parse(text) as Record<string, unknown>;
  for (const e of edits) {
    if (e.drop) for (const f of e.drop) delete record[f];
    if (e.set) record = { ...record, ...e.set };
  }
  return JSON.stringify(record);
}
