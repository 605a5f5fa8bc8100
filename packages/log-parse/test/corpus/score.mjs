// The corpus score: each case is a directory holding the logs of one real run and case.json
// (where the logs come from, the job's Slurm state when known, and the verdict a careful person
// reads from them). Shared by test/corpus.test.ts (the library from src) and scripts/corpus.mjs
// (the built library), so the score printed and the score tested are the same computation.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** Every case directory under `dir` (sorted), with its parsed case.json. */
export function loadCases(dir) {
  const cases = [];
  for (const name of readdirSync(dir).sort()) {
    const caseDir = join(dir, name);
    if (name.startsWith("_") || !statSync(caseDir).isDirectory()) continue; // _programs: what produced the logs
    const spec = JSON.parse(readFileSync(join(caseDir, "case.json"), "utf8"));
    for (const key of ["source", "how", "expect"]) if (spec[key] === undefined) throw new Error(`${caseDir}/case.json: "${key}" is required`);
    cases.push({ name, dir: caseDir, spec });
  }
  return cases;
}

/** The run record log-parse gets for a case: its logs (stdout/stderr in the case dir) and Slurm state. */
export function recordOf(c) {
  const logs = {};
  for (const [role, file] of Object.entries(c.spec.files ?? { stdout: "out", stderr: "err" })) logs[role] = join(c.dir, file);
  // `dir`: the run's directory (metric files: trainer_state.json, TensorBoard events), inside the case
  return { id: c.name, name: c.name, logs, ...(c.spec.dir ? { dir: join(c.dir, c.spec.dir) } : {}), ...(c.spec.state ? { state: { category: "failure", terminal: true, ...c.spec.state } } : {}) };
}

const close = (a, b) => typeof a === "number" && typeof b === "number" && Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

/**
 * What differs between the expected verdict and the report: a list of `field: expected X, got Y`
 * (empty = the case passes). `class` is the first failure's class (null: no failure, ok); the other
 * fields are the loss verdict: trend, first non-finite step, first and last loss, steps seen.
 */
export function compare(expect, report) {
  const got = {
    class: report.failures?.[0]?.class ?? null,
    trend: report.loss?.trend,
    first_nonfinite_step: report.loss?.first_nonfinite?.step ?? null,
    first_loss: report.loss?.first ?? null,
    last_loss: report.loss?.last ?? null,
    steps_seen: report.steps_seen,
    exception: report.failures?.[0]?.exception?.type ?? null,
  };
  const diffs = [];
  for (const [key, want] of Object.entries(expect)) {
    if (!(key in got)) throw new Error(`unknown expected field "${key}" (known: ${Object.keys(got).join(", ")})`);
    const have = got[key];
    if (have === want || close(have, want)) continue;
    diffs.push(`${key}: expected ${JSON.stringify(want)}, got ${JSON.stringify(have)}`);
  }
  return diffs;
}

/** Runs `report(record)` on every case: [{name, diffs, known_miss}]. */
export async function scoreCorpus(dir, report) {
  const out = [];
  for (const c of loadCases(dir)) out.push({ name: c.name, diffs: compare(c.spec.expect, await report(recordOf(c))), known_miss: c.spec.known_miss });
  return out;
}

/** `N passed, M failed` (the line CI reads). */
export function scoreLine(results) {
  const failed = results.filter((r) => r.diffs.length > 0).length;
  return `${results.length - failed} passed, ${failed} failed`;
}
