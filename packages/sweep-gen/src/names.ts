import { type LabelFacts, labelFacts } from "./axis-values.ts";
import { type Combo, type RunBuilder, combos, totalCombos } from "./generate.ts";
import type { Issue } from "./issues.ts";
import type { Plan } from "./plan.ts";
import type { TemplatePart } from "./template.ts";
import { NAME_CHARS } from "./values.ts";

const FIRST_CHAR = /^[A-Za-z0-9_]/;

/** What is wrong with one rendered name, or undefined. */
export function nameProblem(name: string, max: number): string | undefined {
  if (name.length === 0) return "the name is empty";
  if (!NAME_CHARS.test(name)) return `name ${JSON.stringify(name)} has characters outside [A-Za-z0-9_.+=-]`;
  if (!FIRST_CHAR.test(name)) return `name ${JSON.stringify(name)} must start with a letter, digit or _`;
  if (name.length > max) return `name ${JSON.stringify(name)} is ${name.length} characters, over the limit of ${max} (shorten the name template or raise max_name_length)`;
  return undefined;
}

type Labels = { kind: "finite"; facts: (sep: string | undefined) => LabelFacts; factor?: string; injective: boolean } | { kind: "index" } | { kind: "open" };

function labelsOf(plan: Plan, key: string): Labels {
  if (key === "index") return { kind: "index" };
  if (key === "stage" && plan.stage && !plan.base.has(key)) {
    const labels = [plan.stage.name];
    return { kind: "finite", facts: (sep) => labelFacts(labels, sep), injective: false };
  }
  if (key === "variant") {
    const labels = plan.variants.map((v) => v.name ?? "");
    return { kind: "finite", facts: (sep) => labelFacts(labels, sep), factor: "variant", injective: true };
  }
  const fi = plan.factors.findIndex((f) => f.keys.includes(key));
  if (fi >= 0) {
    const f = plan.factors[fi]!;
    const column = f.columns[f.keys.indexOf(key)]!;
    // An axis's values are distinct (checked when compiled); numbers have distinct labels, so a
    // numeric axis (a range of any length) needs no set of its labels.
    const injective = column.numeric || new Set(column.labels()).size === column.length;
    return { kind: "finite", facts: (sep) => column.labelFacts(sep), factor: `f${fi}`, injective };
  }
  if (plan.sampled.some((s) => s.key === key)) return { kind: "open" };
  const labels = plan.variants.map((v) => (v.params.get(key) ?? plan.base.get(key))?.label ?? "");
  return { kind: "finite", facts: (sep) => labelFacts(labels, sep), injective: false };
}

/**
 * Proves, without enumerating, that every name is distinct, safe and short enough; returns why
 * not when it cannot. The proof: each varying factor (variant, each grid axis or zip group) has a
 * placeholder whose labels differ for its values, and each placeholder is followed by a literal
 * whose first character never occurs in its labels, so a name splits back into its parts.
 */
export function proveNames(plan: Plan): string | undefined {
  return proveDistinct(plan, plan.name.value.parts, "name");
}

/**
 * The same proof for run directories, which must be distinct too (two runs in one directory
 * overwrite each other's checkpoints and logs) and whose placeholders must each leave something
 * after sanitising (a value like `..`, `/` or `日本` has no label: it must not become a literal
 * `undefined` shared by several runs). A dir template with {name} is distinct because names are.
 */
export function proveDirs(plan: Plan): string | undefined {
  const t = plan.dir?.value;
  if (!t || t.keys.length === 0) return undefined;
  for (const key of t.keys) {
    if (key === "name" || key === "index") continue;
    const info = labelsOf(plan, key);
    if (info.kind === "finite" && info.facts(undefined).empty) return `{${key}} has a value with nothing left for a directory name`;
  }
  return t.keys.includes("name") || t.keys.includes("index") ? undefined : proveDistinct(plan, t.parts, "dir");
}

function proveDistinct(plan: Plan, parts: readonly TemplatePart[], what: "name" | "dir"): string | undefined {
  const isName = what === "name";
  const covered = new Set<string>();
  let hasIndex = false;
  let maxLength = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (typeof part === "string") {
      maxLength += part.length;
      if (!isName) continue; // a dir's literal text is the user's path
      if (i === 0 && !FIRST_CHAR.test(part)) return "the name template starts with a character other than a letter, digit or _";
      if (!NAME_CHARS.test(part)) return `the name template has characters outside [A-Za-z0-9_.+=-]: ${JSON.stringify(part)}`;
      continue;
    }
    const info = labelsOf(plan, part.key);
    if (info.kind === "open") return `{${part.key}} is sampled`;
    const next = parts[i + 1];
    if (next !== undefined && typeof next !== "string") return `{${part.key}} is followed directly by another placeholder`;
    const sep = next?.[0];
    if (info.kind === "index") {
      hasIndex = true;
      maxLength += String(Math.max(0, totalCombos(plan) - 1)).length;
      if (sep !== undefined && /\d/.test(sep)) return "{index} is followed by a digit";
      continue;
    }
    const facts = info.facts(sep);
    if (facts.unsafe) return `{${part.key}} has a value that is not safe`;
    if (isName && i === 0 && facts.badFirst) return `{${part.key}} starts the name and has a value starting with - . + or =`;
    if (facts.hasSep) return `a value of {${part.key}} contains "${sep}", the character after it in the template`;
    // A loop, not Math.max(...labels): an axis of a million values overflows the call stack.
    maxLength += facts.maxLength;
    if (info.factor && info.injective) covered.add(info.factor);
  }
  if (isName && maxLength > plan.maxNameLength) return `names may reach ${maxLength} characters`;
  if (hasIndex) return undefined;
  if (plan.sampled.length > 0 && plan.sample && plan.sample.n > 1) return "sampled values are not all in the name";
  if (plan.variants.length > 1 && !covered.has("variant")) return `{variant} is not in the ${what}`;
  for (let fi = 0; fi < plan.factors.length; fi++) {
    const f = plan.factors[fi]!;
    if (f.length > 1 && !covered.has(`f${fi}`)) return `no placeholder of the ${what} tells the values of "${f.keys.join("/")}" apart`;
  }
  return undefined;
}

export interface NameCheck {
  /** How the names were checked: "proof" (no enumeration) or "enumerated". */
  method: "proof" | "enumerated";
  /** How many runs pass the filters (counted while enumerating; undefined after a proof). */
  count?: number;
  issues: Issue[];
}

/**
 * Checks every name before anything is written, so a bad sweep never emits half its runs.
 * When the proof holds this costs nothing; otherwise the names alone are enumerated once
 * (memory grows with the number of runs only on this path).
 */
export function checkNames(plan: Plan, builder: RunBuilder, maxIssues = 10): NameCheck {
  const checkName = proveNames(plan) !== undefined;
  const checkDir = proveDirs(plan) !== undefined;
  if (!checkName && !checkDir) return { method: "proof", issues: [] };
  // Bounded: sweep-gen refuses a sweep over --max-runs before it gets here.
  const seen = new Map<string, number>();
  const dirs = new Map<string, number>();
  const issues: Issue[] = [];
  const at = plan.name.at;
  const dirAt = plan.dir?.at ?? at;
  let count = 0;
  for (const c of combos(plan)) {
    if (!builder.keep(c)) continue;
    count++;
    const name = builder.name(c);
    if (checkName) {
      const problem = nameProblem(name, plan.maxNameLength);
      if (problem) issues.push({ ...at, message: `${problem} (${describeCombo(c)})` });
      const first = seen.get(name);
      if (first !== undefined) issues.push({ ...at, message: `duplicate run name ${JSON.stringify(name)} (runs #${first} and #${c.index}; put the parameters that differ in the name template)` });
      else seen.set(name, c.index);
    }
    if (checkDir) {
      const unlabelled = builder.unlabelledDirKey(c);
      const dir = builder.dir(name, c)!;
      const first = dirs.get(dir);
      if (unlabelled) {
        const v = c.vals[unlabelled]!;
        issues.push({ ...dirAt, message: `{${unlabelled}} = ${JSON.stringify(v.value)} leaves nothing for a directory name after sanitising (${describeCombo(c)}); use values with letters or digits, or put {name} in the dir` });
      } else if (first !== undefined) {
        issues.push({ ...dirAt, message: `runs #${first} and #${c.index} would share the directory ${JSON.stringify(dir)} (put {name}, or the parameters that differ, in the dir template)` });
      } else dirs.set(dir, c.index);
    }
    if (issues.length >= maxIssues) break;
  }
  return { method: "enumerated", count: issues.length ? undefined : count, issues };
}

function describeCombo(c: Combo): string {
  const params = Object.keys(c.vals)
    .sort()
    .map((k) => `${k}=${c.vals[k]!.text}`)
    .join(" ");
  return `run #${c.index}${c.variant.name ? ` variant=${c.variant.name}` : ""} ${params}`.slice(0, 200);
}
