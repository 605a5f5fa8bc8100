import { describe, expect, it } from "vitest";
import { type Edit, applyEdits, fieldsAfter, fieldsOf } from "../src/record-text.ts";

// What the edits replace: the object spreads slurm-submit used on parsed records.
function reference(record: Record<string, unknown>, edits: Edit[]): string {
  let r = record;
  for (const e of edits) {
    const copy: Record<string, unknown> = { ...r };
    for (const f of e.drop ?? []) delete copy[f];
    r = { ...copy, ...e.set };
  }
  return JSON.stringify(r);
}

const job = { id: "123_4", array_job_id: "123", array_task: 4, name: "x.spabc", argv: ["sbatch", "--parsable", "a b"], attempt: 1 };
const error = { stage: "slurm-submit", code: "invalid_partition", message: 'sbatch: "nosuch" ✓', at: "2026-01-01T00:00:00.000Z" };
const outputJob: Edit = { drop: ["state", "report", "error", "dry_run", "planned", "sbatch_argv"], set: { job } };

const records: Record<string, unknown>[] = [
  { id: "a", name: "plain" },
  { id: "b", name: "é✓ \u2028 \"quoted\"", params: { lr: 1e-7, list: [1, null, true] } },
  { "7": "integer-like key first", id: "c", name: "numeric", zz: 1 },
  { id: "d", name: "has job", job: { id: "9", name: "old" }, after: 1 },
  { id: "e", name: "has state", state: { state: "FAILED" }, report: { x: 1 }, error: { stage: "x", message: "m" }, tail: true },
  { id: "f", name: "dry", dry_run: true, planned: "submit", sbatch_argv: ["sbatch"], job: { id: "1" } },
  {},
];

const editLists: Edit[][] = [
  [],
  [outputJob],
  [{ set: { error } }],
  [{ drop: ["error"] }, { set: { error } }],
  [{ drop: ["job"], set: { dry_run: true, planned: "resubmit", sbatch_argv: ["sbatch", "--job-name=x"] } }],
  [{ set: { dry_run: true, planned: "reconcile" } }],
  [{ set: { job } }],
  [{ drop: ["error"] }, outputJob],
  [{ set: { error } }, outputJob],
  [{ set: { job: undefined } }],
];

describe("record text edits", () => {
  it("give byte for byte what JSON.stringify of the spread object gives, spliced or parsed", () => {
    for (const record of records) {
      const text = JSON.stringify(record);
      for (const edits of editLists) {
        expect(applyEdits(text, fieldsOf(record), edits), `${text} with ${JSON.stringify(edits)}`).toBe(reference(record, edits));
      }
    }
  });

  it("splice new fields onto the text without parsing it", () => {
    const text = '{"id":"a","name":"n"}';
    const spy = JSON.parse;
    let parses = 0;
    JSON.parse = ((...args: Parameters<typeof JSON.parse>) => {
      parses++;
      return spy(...args);
    }) as typeof JSON.parse;
    try {
      expect(applyEdits(text, 0, [outputJob])).toBe(`{"id":"a","name":"n","job":${JSON.stringify(job)}}`);
    } finally {
      JSON.parse = spy;
    }
    expect(parses).toBe(0);
  });

  it("track which edited fields the record has", () => {
    const f = fieldsOf({ id: "x", job: { id: "1" }, state: { state: "X" } });
    expect(fieldsAfter(f, [outputJob])).toBe(fieldsOf({ job }));
    expect(fieldsAfter(0, [{ set: { job: undefined } }])).toBe(0);
  });
});
