import { Resources, parseDuration, parseMemory } from "@slurmpipe/core";
import { type Document, LineCounter, type Node, isMap, isScalar, isSeq, parseDocument } from "yaml";
import { MAX_YAML_DEPTH, checkDocument } from "./yaml-checks.ts";

/** Aliases one value may expand (yaml's default is 100); a bomb nests them to billions. */
const MAX_ALIAS_COUNT = 100;
import { type AxisSyntaxError, DISTRIBUTIONS, checkBounds, isRange, parseRange } from "./axes.ts";
import { AxisValues } from "./axis-values.ts";
import { type Axis, type Draft, PARAM_KEY, filterAt, template } from "./draft.ts";
import type { Issues } from "./issues.ts";
import type { Distribution, Variant } from "./plan.ts";
import { readArgs, readCommand } from "./read-command.ts";
import { readStages } from "./read-stages.ts";
import { SAMPLE_METHODS, type SampleMethod } from "./sample.ts";
import { type Json, NAME_CHARS, type Val, type Where, isJson, makeVal } from "./values.ts";

export interface SweepFile {
  /** Name used in messages (the path as given). */
  source: string;
  text: string;
}

export const TOP_LEVEL_KEYS = [
  "description",
  "name",
  "group",
  "dir",
  "command",
  "args",
  "params",
  "grid",
  "zip",
  "variants",
  "sample",
  "filter",
  "exclude",
  "resources",
  "priority",
  "outputs",
  "max_name_length",
  "stages",
] as const;

const VARIANT_KEYS = ["description", "params", "priority", "resources"];

const SAMPLE_KEYS = ["n", "seed", "method"];

const RESOURCE_KEYS = new Set(Object.keys(Resources.shape));

/** Reads a sweep file (YAML or JSON; JSON is YAML) keeping the line of every key and value. */
export class Reader {
  readonly lc = new LineCounter();
  doc!: Document;
  constructor(
    readonly source: string,
    readonly issues: Issues,
  ) {}

  at(node: Node | null | undefined, path: string): Where {
    const offset = node?.range?.[0];
    return { source: this.source, line: offset === undefined ? undefined : this.lc.linePos(offset).line, path };
  }
  fail(node: Node | null | undefined, path: string, message: string): void {
    this.issues.add(this.at(node, path), message);
  }
  /** Entries of a mapping node, with each key's node for messages about the key itself. */
  entries(node: Node | null | undefined, path: string): { key: string; keyNode: Node; value: Node | null }[] {
    if (!isMap(node)) {
      this.fail(node, path, `expected a mapping (key: value lines), got ${describe(node)}`);
      return [];
    }
    const out: { key: string; keyNode: Node; value: Node | null }[] = [];
    for (const pair of node.items) {
      const keyNode = pair.key as Node;
      if (!isScalar(keyNode) || (typeof keyNode.value !== "string" && typeof keyNode.value !== "number")) {
        this.fail(keyNode, path, "keys must be plain words");
        continue;
      }
      out.push({ key: String(keyNode.value), keyNode, value: (pair.value as Node | null) ?? null });
    }
    return out;
  }
  json(node: Node | null, path: string): Json | undefined {
    if (node === null) return null;
    let value: unknown;
    try {
      value = node.toJS(this.doc, { maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      // yaml refuses an alias that expands too often ("billion laughs") before it builds it.
      this.fail(node, path, `YAML aliases expand too much (${(e as Error).message}); write the values out`);
      return undefined;
    }
    if (!isJson(value)) {
      this.fail(node, path, `not a plain JSON value (${describe(node)}): numbers must be finite, no tags or anchors to non-data`);
      return undefined;
    }
    return value;
  }
  val(node: Node | null, path: string): Val | undefined {
    const value = this.json(node, path);
    if (value === undefined) return undefined;
    const spelled = isScalar(node) && typeof node.value === "number" ? node.source : undefined;
    return makeVal(value, this.at(node, path), spelled);
  }
  str(node: Node | null, path: string): string | undefined {
    if (isScalar(node) && typeof node.value === "string") return node.value;
    this.fail(node, path, `expected a string, got ${describe(node)}`);
    return undefined;
  }
  num(node: Node | null, path: string, check: (n: number) => boolean, what: string): number | undefined {
    if (isScalar(node) && typeof node.value === "number" && Number.isFinite(node.value) && check(node.value)) return node.value;
    this.fail(node, path, `expected ${what}, got ${describe(node)}`);
    return undefined;
  }
  strings(node: Node | null, path: string): { text: string; node: Node }[] {
    if (isScalar(node) && typeof node.value === "string") return [{ text: node.value, node }];
    if (!isSeq(node)) {
      this.fail(node, path, `expected a string or a list of strings, got ${describe(node)}`);
      return [];
    }
    const out: { text: string; node: Node }[] = [];
    node.items.forEach((item, i) => {
      const text = this.str(item as Node, `${path}[${i}]`);
      if (text !== undefined) out.push({ text, node: item as Node });
    });
    return out;
  }
}

export function describe(node: Node | null | undefined): string {
  if (node === null || node === undefined) return "nothing";
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) return node.value === null ? "null" : `${typeof node.value} ${JSON.stringify(node.value)}`;
  return "an alias";
}

export function closest(word: string, known: readonly string[]): string {
  const near = known.find((k) => k.startsWith(word.slice(0, 3)) || word.startsWith(k.slice(0, 3)));
  return near ? ` (did you mean "${near}"?)` : "";
}

export function readFile(file: SweepFile, issues: Issues, draft: Draft): void {
  const r = new Reader(file.source, issues);
  r.doc = parseDocument(file.text, { lineCounter: r.lc, keepSourceTokens: true, uniqueKeys: true });
  for (const e of r.doc.errors) {
    let message = e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    if (/call stack/i.test(message)) message = `nested deeper than the reader can follow (a sweep file nests a few levels; at most ${MAX_YAML_DEPTH})`;
    issues.add({ source: file.source, line: e.linePos?.[0]?.line ?? r.lc.linePos(e.pos[0]).line, path: "" }, `YAML: ${message}`);
  }
  if (r.doc.errors.length > 0) return;
  const before = issues.list.length;
  checkDocument(r.doc, r.lc, file.source, issues);
  if (issues.list.length > before) return;
  const root = r.doc.contents as Node | null;
  if (root === null) {
    issues.add({ source: file.source, line: 1, path: "" }, "the sweep file is empty");
    return;
  }
  for (const { key, keyNode, value } of r.entries(root, "")) {
    switch (key) {
      case "description":
        break;
      case "name":
      case "group":
      case "dir": {
        const text = r.str(value, key);
        if (text !== undefined) draft[key] = template(text, r.at(value, key), issues);
        break;
      }
      case "command":
        readCommand(r, value, draft.command, "command");
        break;
      case "args":
        readArgs(r, value, draft.command, "args");
        break;
      case "stages":
        readStages(r, value, draft);
        break;
      case "params":
        for (const e of r.entries(value, key)) {
          const path = `params.${e.key}`;
          if (!PARAM_KEY.test(e.key)) r.fail(e.keyNode, path, `bad parameter name "${e.key}" (letters, digits, _ . -; may start with + ++ ~ for Hydra)`);
          const v = r.val(e.value, path);
          if (v) draft.base.set(e.key, v);
        }
        break;
      case "grid":
        for (const e of r.entries(value, key)) {
          const path = `grid.${e.key}`;
          if (!PARAM_KEY.test(e.key)) r.fail(e.keyNode, path, `bad parameter name "${e.key}"`);
          const axis = readAxis(r, e.key, e.value, path);
          if (axis) draft.axes.set(e.key, axis);
        }
        break;
      case "zip":
        if (!isSeq(value)) r.fail(value, key, "expected a list of groups, e.g. zip: [[lr, warmup]]");
        else
          value.items.forEach((item, i) => {
            const keys = r.strings(item as Node, `zip[${i}]`).map((s) => s.text);
            draft.zips.push({ value: keys, at: r.at(item as Node, `zip[${i}]`) });
          });
        break;
      case "variants":
        readVariants(r, value, draft);
        break;
      case "sample":
        draft.sample.at = r.at(value, key);
        for (const e of r.entries(value, key)) {
          const path = `sample.${e.key}`;
          if (e.key === "n") draft.sample.n = r.num(e.value, path, (n) => Number.isInteger(n) && n > 0, "a positive integer");
          else if (e.key === "seed") draft.sample.seed = r.num(e.value, path, (n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32, "an integer 0..4294967295");
          else if (e.key === "method") {
            const m = r.str(e.value, path);
            if (m !== undefined && !SAMPLE_METHODS.includes(m as SampleMethod)) r.fail(e.value, path, `unknown method "${m}" (random, sobol, halton)`);
            else if (m !== undefined) draft.sample.method = m as SampleMethod;
          } else r.fail(e.keyNode, path, `unknown key "${e.key}" (known: ${SAMPLE_KEYS.join(", ")})`);
        }
        break;
      case "filter":
      case "exclude":
        for (const [i, s] of r.strings(value, key).entries()) {
          const at = r.at(s.node, isSeq(value) ? `${key}[${i}]` : key);
          const f = filterAt(s.text, at, issues);
          if (f) (key === "filter" ? draft.filters : draft.excludes).push(f);
        }
        break;
      case "resources":
        draft.resources = readResources(r, value, key);
        break;
      case "priority":
        draft.priority = r.num(value, key, () => true, "a number");
        break;
      case "outputs":
        draft.outputs = r.strings(value, key).map((s, i) => {
          if (s.text.trim() === "") r.fail(s.node, `outputs[${i}]`, "empty output pattern");
          return s.text;
        });
        break;
      case "max_name_length":
        draft.maxNameLength = r.num(value, key, (n) => Number.isInteger(n) && n >= 8 && n <= 200, "an integer 8..200") ?? draft.maxNameLength;
        break;
      default:
        r.fail(keyNode, key, `unknown key "${key}"${closest(key, TOP_LEVEL_KEYS)} (known: ${TOP_LEVEL_KEYS.join(", ")})`);
    }
  }
}

function readAxis(r: Reader, key: string, node: Node | null, path: string): Axis | undefined {
  const at = r.at(node, path);
  if (isSeq(node)) {
    if (node.items.length === 0) {
      r.fail(node, path, "empty axis: give at least one value");
      return undefined;
    }
    const values = new AxisValues();
    node.items.forEach((item, i) => {
      const v = r.val(item as Node, `${path}[${i}]`);
      if (v) values.push(v);
    });
    return { kind: "list", key, values, at, fromFlag: false };
  }
  if (isScalar(node) && typeof node.value === "string" && isRange(node.value)) {
    try {
      const values = new AxisValues();
      values.pushRange(parseRange(node.value), at);
      return { kind: "list", key, values, at, fromFlag: false };
    } catch (e) {
      r.fail(node, path, (e as AxisSyntaxError).message);
      return undefined;
    }
  }
  if (isMap(node)) {
    const entries = r.entries(node, path);
    const kinds = entries.filter((e) => (DISTRIBUTIONS as readonly string[]).includes(e.key));
    for (const e of entries) {
      if (e.key !== "digits" && !kinds.includes(e)) r.fail(e.keyNode, `${path}.${e.key}`, `unknown key "${e.key}" (known: ${DISTRIBUTIONS.join(", ")}, digits)`);
    }
    if (kinds.length !== 1) {
      r.fail(node, path, `give exactly one distribution: ${DISTRIBUTIONS.join(", ")}`);
      return undefined;
    }
    const { key: kind, value } = kinds[0]!;
    const dpath = `${path}.${kind}`;
    const digitsEntry = entries.find((e) => e.key === "digits");
    const digits = digitsEntry ? r.num(digitsEntry.value, `${path}.digits`, (n) => Number.isInteger(n) && n >= 1 && n <= 15, "an integer 1..15") : 4;
    let dist: Distribution | undefined;
    if (kind === "choice") {
      if (!isSeq(value) || value.items.length === 0) r.fail(value, dpath, "choice needs a non-empty list of values");
      else dist = { kind, values: value.items.map((it, i) => r.val(it as Node, `${dpath}[${i}]`)).filter((v): v is Val => v !== undefined) };
    } else {
      const bounds = isSeq(value) && value.items.length === 2 ? (r.json(value, dpath) as Json[] | undefined) : undefined;
      const problem = bounds ? checkBounds(kind as "uniform", bounds[0], bounds[1]) : `${kind} needs [low, high]`;
      if (problem) r.fail(value, dpath, problem);
      else dist = { kind: kind as "uniform", lo: bounds![0] as number, hi: bounds![1] as number };
    }
    if (!dist || digits === undefined) return undefined;
    return { kind: "sampled", axis: { key, dist, digits, at }, fromFlag: false };
  }
  // A single value: an axis of one (same as a fixed parameter, but it may be zipped or overridden).
  const v = r.val(node, path);
  if (!v) return undefined;
  const values = new AxisValues();
  values.push(v);
  return { kind: "list", key, values, at, fromFlag: false };
}

function readVariants(r: Reader, value: Node | null, draft: Draft): void {
  const entries = r.entries(value, "variants");
  if (isMap(value) && entries.length === 0) r.fail(value, "variants", "no variants: remove the key or name at least one");
  for (const e of entries) {
    const path = `variants.${e.key}`;
    const at = r.at(e.keyNode, path);
    if (!NAME_CHARS.test(e.key) || !/^[A-Za-z0-9]/.test(e.key)) r.fail(e.keyNode, path, `variant name "${e.key}" is not safe in run names (use letters, digits and _ . + = -)`);
    const variant: Variant = { name: e.key, params: new Map(), at };
    const body = isScalar(e.value) && e.value.value === null ? [] : r.entries(e.value, path);
    for (const b of body) {
      const bpath = `${path}.${b.key}`;
      if (b.key === "params") {
        for (const p of r.entries(b.value, bpath)) {
          const v = r.val(p.value, `${bpath}.${p.key}`);
          if (!PARAM_KEY.test(p.key)) r.fail(p.keyNode, `${bpath}.${p.key}`, `bad parameter name "${p.key}"`);
          if (v) variant.params.set(p.key, v);
        }
      } else if (b.key === "priority") variant.priority = r.num(b.value, bpath, () => true, "a number");
      else if (b.key === "resources") variant.resources = readResources(r, b.value, bpath);
      else if (b.key !== "description") r.fail(b.keyNode, bpath, `unknown key "${b.key}"${closest(b.key, VARIANT_KEYS)} (known: ${VARIANT_KEYS.join(", ")})`);
    }
    draft.variants.push(variant);
  }
}

export function readResources(r: Reader, node: Node | null, path: string): Resources | undefined {
  const value = r.json(node, path);
  if (value === undefined) return undefined;
  const parsed = Resources.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const sub = issue.path.map(String);
      const target = sub.length && isMap(node) ? (node.get(sub[0], true) as Node | undefined) : node;
      r.fail(target ?? node, [path, ...sub].join("."), issue.message);
    }
    return undefined;
  }
  const res = parsed.data;
  const valueNode = (k: string) => (isMap(node) ? (node.get(k, true) as Node) : node);
  if (res.time !== undefined && parseDuration(res.time) === undefined) r.fail(valueNode("time"), `${path}.time`, `not a Slurm time limit: "${res.time}" (e.g. 02:00:00, 1-00:00:00, 90)`);
  if (res.mem !== undefined && parseMemory(res.mem) === undefined) r.fail(valueNode("mem"), `${path}.mem`, `not a Slurm memory size: "${res.mem}" (e.g. 32G, 4000M)`);
  for (const k of Object.keys(res)) {
    if (!RESOURCE_KEYS.has(k)) r.issues.warnings.push(`${r.source}:${r.at(valueNode(k), "").line}: ${path}.${k} is not a core resource field; passed through for slurm-render`);
  }
  return res;
}
