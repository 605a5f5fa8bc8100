import { Resources, UsageError, parseDuration, parseMemory } from "@slurmpipe/core";
import { split as shellSplit } from "shlex";
import { type Document, LineCounter, type Node, isMap, isScalar, isSeq, parseDocument } from "yaml";
import { type AxisSyntaxError, DISTRIBUTIONS, checkBounds, expandRange, isRange } from "./axes.ts";
import { type Filter, FilterSyntaxError, parseFilter } from "./filter.ts";
import { Issues, formatIssue } from "./issues.ts";
import {
  type ArgsStyle,
  type CommandPlan,
  DEFAULT_MAX_NAME_LENGTH,
  type Distribution,
  type Factor,
  type Located,
  type Plan,
  type SampledAxis,
  type Variant,
} from "./plan.ts";
import { SAMPLE_METHODS, type SampleMethod } from "./sample.ts";
import { type Template, TemplateSyntaxError, parseTemplate } from "./template.ts";
import { type Json, NAME_CHARS, type Val, type Where, isJson, makeVal, parseFlagValue } from "./values.ts";

/** Options given on the command line; they override or extend the sweep file. */
export interface FlagOverrides {
  /** `-p key=a,b,c`, `-p key=a..b[:step]`, `-p key=log_uniform(1e-5,1e-1)`. */
  params?: string[];
  name?: string;
  /** A shell-words string, or an argv array (words after `--`). */
  command?: string | string[];
  args?: ArgsStyle;
  filter?: string[];
  exclude?: string[];
  sample?: number;
  seed?: number;
  method?: SampleMethod;
  maxNameLength?: number;
  dir?: string;
}

export interface SweepFile {
  /** Name used in messages (the path as given). */
  source: string;
  text: string;
}

export interface CompiledSweep extends Plan {
  warnings: string[];
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
] as const;
const VARIANT_KEYS = ["description", "params", "priority", "resources"];
const SAMPLE_KEYS = ["n", "seed", "method"];
const PARAM_KEY = /^(\+\+|\+|~)?[A-Za-z_][A-Za-z0-9_.-]*$/;
const RESOURCE_KEYS = new Set(Object.keys(Resources.shape));

type ListAxis = { kind: "list"; key: string; values: Val[]; at: Where; fromFlag: boolean };
type Axis = ListAxis | { kind: "sampled"; axis: SampledAxis; fromFlag: boolean };

interface Draft {
  base: Map<string, Val>;
  axes: Map<string, Axis>;
  zips: Located<string[]>[];
  variants: Variant[];
  name?: Located<Template>;
  group?: Located<Template>;
  dir?: Located<Template>;
  command: CommandPlan;
  resources?: Resources;
  priority?: number;
  outputs?: string[];
  filters: Located<Filter>[];
  excludes: Located<Filter>[];
  sample: { n?: number; seed?: number; method?: SampleMethod; at: Where };
  maxNameLength: number;
}

/** Reads a sweep file (YAML or JSON; JSON is YAML) keeping the line of every key and value. */
class Reader {
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
    const value = node.toJS(this.doc) as unknown;
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

function describe(node: Node | null | undefined): string {
  if (node === null || node === undefined) return "nothing";
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) return node.value === null ? "null" : `${typeof node.value} ${JSON.stringify(node.value)}`;
  return "an alias";
}

function closest(word: string, known: readonly string[]): string {
  const near = known.find((k) => k.startsWith(word.slice(0, 3)) || word.startsWith(k.slice(0, 3)));
  return near ? ` (did you mean "${near}"?)` : "";
}

function template(text: string, at: Where, issues: Issues): Located<Template> | undefined {
  try {
    return { value: parseTemplate(text), at };
  } catch (e) {
    if (!(e instanceof TemplateSyntaxError)) throw e;
    issues.add(at, e.message);
    return undefined;
  }
}

function emptyDraft(source: string): Draft {
  return {
    base: new Map(),
    axes: new Map(),
    zips: [],
    variants: [],
    command: { style: "none", skip: new Set(), at: { source, path: "command" } },
    filters: [],
    excludes: [],
    sample: { at: { source, path: "sample" } },
    maxNameLength: DEFAULT_MAX_NAME_LENGTH,
  };
}

function readFile(file: SweepFile, issues: Issues, draft: Draft): void {
  const r = new Reader(file.source, issues);
  r.doc = parseDocument(file.text, { lineCounter: r.lc, keepSourceTokens: true, uniqueKeys: true });
  for (const e of r.doc.errors) {
    const message = e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    issues.add({ source: file.source, line: e.linePos?.[0]?.line ?? r.lc.linePos(e.pos[0]).line, path: "" }, `YAML: ${message}`);
  }
  if (r.doc.errors.length > 0) return;
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
        readCommand(r, value, draft);
        break;
      case "args":
        readArgs(r, value, draft);
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

function readCommand(r: Reader, value: Node | null, draft: Draft): void {
  const at = r.at(value, "command");
  draft.command.at = at;
  let words: { text: string; at: Where }[] = [];
  if (isScalar(value) && typeof value.value === "string") {
    try {
      words = shellSplit(value.value).map((text) => ({ text, at }));
    } catch (e) {
      r.fail(value, "command", `cannot split into words: ${(e as Error).message}`);
      return;
    }
  } else if (isSeq(value)) {
    value.items.forEach((item, i) => {
      const node = item as Node;
      const path = `command[${i}]`;
      if (isScalar(node) && (typeof node.value === "string" || typeof node.value === "number")) {
        words.push({ text: typeof node.value === "number" ? (node.source ?? String(node.value)) : node.value, at: r.at(node, path) });
      } else r.fail(node, path, `command words must be strings, got ${describe(node)}`);
    });
  } else {
    r.fail(value, "command", `expected an argv list (["python", "train.py"]) or a string, got ${describe(value)}`);
    return;
  }
  if (words.length === 0) r.fail(value, "command", "the command is empty");
  const tpls = words.map((w) => template(w.text, w.at, r.issues));
  if (tpls.every((t) => t !== undefined)) draft.command.words = tpls.map((t) => t!.value);
}

function readArgs(r: Reader, value: Node | null, draft: Draft): void {
  const styleOf = (node: Node | null, path: string) => {
    const s = r.str(node, path);
    if (s === undefined) return;
    if (s !== "none" && s !== "hydra" && s !== "argparse") r.fail(node, path, `unknown args style "${s}" (hydra, argparse, none)`);
    else draft.command.style = s;
  };
  if (isScalar(value)) {
    styleOf(value, "args");
    return;
  }
  for (const e of r.entries(value, "args")) {
    if (e.key === "style") styleOf(e.value, "args.style");
    else if (e.key === "skip") for (const s of r.strings(e.value, "args.skip")) draft.command.skip.add(s.text);
    else r.fail(e.keyNode, `args.${e.key}`, `unknown key "${e.key}" (known: style, skip)`);
  }
}

function readAxis(r: Reader, key: string, node: Node | null, path: string): Axis | undefined {
  const at = r.at(node, path);
  if (isSeq(node)) {
    if (node.items.length === 0) {
      r.fail(node, path, "empty axis: give at least one value");
      return undefined;
    }
    const values = node.items.map((item, i) => r.val(item as Node, `${path}[${i}]`)).filter((v): v is Val => v !== undefined);
    return { kind: "list", key, values, at, fromFlag: false };
  }
  if (isScalar(node) && typeof node.value === "string" && isRange(node.value)) {
    try {
      return { kind: "list", key, values: expandRange(node.value).map((x) => makeVal(x, at)), at, fromFlag: false };
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
  return v ? { kind: "list", key, values: [v], at, fromFlag: false } : undefined;
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

function readResources(r: Reader, node: Node | null, path: string): Resources | undefined {
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

function filterAt(text: string, at: Where, issues: Issues): Located<Filter> | undefined {
  try {
    return { value: parseFilter(text), at };
  } catch (e) {
    if (!(e instanceof FilterSyntaxError)) throw e;
    issues.add(at, e.message);
    return undefined;
  }
}

const FLAG_DIST = /^(uniform|log_uniform|int_uniform)\(\s*([^,()]+?)\s*,\s*([^,()]+?)\s*\)$/;

/** `-p key=...`: replaces the axis (or fixed parameter) of the same name from the sweep file. */
function applyParamFlag(text: string, draft: Draft): void {
  const eq = text.indexOf("=");
  const key = eq > 0 ? text.slice(0, eq).trim() : "";
  const spec = eq > 0 ? text.slice(eq + 1).trim() : "";
  if (!PARAM_KEY.test(key)) throw new UsageError(`-p ${JSON.stringify(text)}: expected KEY=VALUES, e.g. -p lr=0.05,0.1 or -p seed=0..5`);
  if (spec === "") throw new UsageError(`-p ${key}=: empty axis, give at least one value`);
  const at: Where = { source: "-p", path: key };
  const dist = FLAG_DIST.exec(spec);
  if (dist) {
    const kind = dist[1] as "uniform" | "log_uniform" | "int_uniform";
    const lo = Number(dist[2]);
    const hi = Number(dist[3]);
    const problem = checkBounds(kind, lo, hi);
    if (problem) throw new UsageError(`-p ${key}: ${problem}`);
    draft.axes.set(key, { kind: "sampled", axis: { key, dist: { kind, lo, hi }, digits: 4, at }, fromFlag: true });
  } else {
    const values: Val[] = [];
    for (const item of spec.split(",")) {
      const word = item.trim();
      if (word === "") throw new UsageError(`-p ${key}=${spec}: empty item in the list`);
      if (isRange(word)) {
        try {
          for (const x of expandRange(word)) values.push(makeVal(x, at));
        } catch (e) {
          throw new UsageError(`-p ${key}: ${(e as Error).message}`);
        }
      } else {
        const v = parseFlagValue(word);
        values.push(makeVal(v, at, typeof v === "number" ? word : undefined));
      }
    }
    draft.axes.set(key, { kind: "list", key, values, at, fromFlag: true });
  }
  draft.base.delete(key);
}

function applyFlags(flags: FlagOverrides, draft: Draft): void {
  for (const p of flags.params ?? []) applyParamFlag(p, draft);
  const flagTemplate = (text: string, flag: string) => {
    try {
      return { value: parseTemplate(text), at: { source: flag, path: "" } };
    } catch (e) {
      throw new UsageError(`${flag}: ${(e as Error).message}`);
    }
  };
  if (flags.name !== undefined) draft.name = flagTemplate(flags.name, "--name");
  if (flags.dir !== undefined) draft.dir = flagTemplate(flags.dir, "--dir");
  if (flags.command !== undefined) {
    let words: string[];
    try {
      words = typeof flags.command === "string" ? shellSplit(flags.command) : flags.command;
    } catch (e) {
      throw new UsageError(`--command: cannot split into words: ${(e as Error).message}`);
    }
    if (words.length === 0) throw new UsageError("--command is empty");
    draft.command.words = words.map((w) => flagTemplate(w, "--command").value);
    draft.command.at = { source: "--command", path: "" };
  }
  if (flags.args !== undefined) draft.command.style = flags.args;
  for (const [flag, list, into] of [
    ["--filter", flags.filter, draft.filters],
    ["--exclude", flags.exclude, draft.excludes],
  ] as const) {
    for (const text of list ?? []) {
      try {
        into.push({ value: parseFilter(text), at: { source: flag, path: "" } });
      } catch (e) {
        throw new UsageError(`${flag} ${JSON.stringify(text)}: ${(e as Error).message}`);
      }
    }
  }
  if (flags.sample !== undefined) draft.sample.n = flags.sample;
  if (flags.seed !== undefined) draft.sample.seed = flags.seed;
  if (flags.method !== undefined) draft.sample.method = flags.method;
  if (flags.maxNameLength !== undefined) draft.maxNameLength = flags.maxNameLength;
}

/** Turns a sweep file and/or flags into a checked plan; throws SweepError (exit 1) or UsageError (exit 2). */
export function compileSweep(file: SweepFile | undefined, flags: FlagOverrides = {}): CompiledSweep {
  const source = file?.source ?? "flags";
  const issues = new Issues();
  const draft = emptyDraft(source);
  if (file) readFile(file, issues, draft);
  issues.throwIfAny();
  applyFlags(flags, draft);
  const plan = finish(draft, source, issues);
  // Problems that only concern command-line flags are usage errors (exit 2).
  if (issues.list.length > 0 && issues.list.every((i) => i.source.startsWith("-"))) throw new UsageError(issues.list.map(formatIssue).join("\n"));
  issues.throwIfAny();
  return { ...plan, warnings: issues.warnings };
}

function finish(d: Draft, source: string, issues: Issues): Plan {
  // Fixed parameters and axes must not overlap: which value would a run get?
  for (const [key, axis] of d.axes) {
    const at = axis.kind === "list" ? axis.at : axis.axis.at;
    const fixed = d.base.get(key);
    if (fixed && !axis.fromFlag) issues.add(at, `"${key}" is both a fixed parameter (params.${key}, line ${fixed.at.line}) and a grid axis`);
    for (const v of d.variants) {
      const set = v.params.get(key);
      if (set) issues.add(set.at, `variant ${v.name} sets "${key}", which is also a grid axis (${at.source}${at.line ? `:${at.line}` : ""}); make it a fixed parameter or drop it from the variant`);
    }
  }
  const factors = buildFactors(d, issues);
  const sampled = [...d.axes.values()].filter((a) => a.kind === "sampled").map((a) => a.axis);
  let sample: Plan["sample"];
  if (sampled.length > 0) {
    if (d.sample.n === undefined) issues.add(sampled[0]!.at, `"${sampled[0]!.key}" is a distribution: say how many points to draw with sample: {n: N} or --sample N`);
    else sample = { n: d.sample.n, seed: d.sample.seed ?? 0, method: d.sample.method ?? "random" };
  } else if (d.sample.n !== undefined) {
    issues.add(d.sample.at, "sampling needs at least one distribution axis (uniform, log_uniform, int_uniform or choice), e.g. grid: {lr: {log_uniform: [1e-5, 1e-1]}}");
  }
  const variants: Variant[] = d.variants.length > 0 ? d.variants : [{ params: new Map(), at: { source, path: "" } }];
  const named = d.variants.length > 0;
  const name = d.name ?? defaultName(d, named, source);
  const plan: Plan = {
    source,
    base: d.base,
    factors,
    sampled,
    sample,
    variants,
    name,
    group: d.group,
    dir: d.dir,
    command: d.command,
    resources: d.resources,
    priority: d.priority,
    outputs: d.outputs,
    filters: d.filters,
    excludes: d.excludes,
    maxNameLength: d.maxNameLength,
  };
  checkPlaceholders(plan, named, issues);
  return plan;
}

function buildFactors(d: Draft, issues: Issues): Factor[] {
  const zipOf = new Map<string, Located<string[]>>();
  for (const z of d.zips) {
    if (z.value.length < 2) issues.add(z.at, "a zip group needs at least two axes");
    for (const key of z.value) {
      const axis = d.axes.get(key);
      if (!axis) issues.add(z.at, `zip names "${key}", which is not a grid axis`);
      else if (axis.kind !== "list") issues.add(z.at, `"${key}" is a distribution; only listed axes can be zipped`);
      else if (zipOf.has(key)) issues.add(z.at, `"${key}" is already zipped in another group`);
      else zipOf.set(key, z);
    }
    const lengths = z.value.map((k) => d.axes.get(k)).filter((a): a is ListAxis => a?.kind === "list").map((a) => `${a.key}: ${a.values.length}`);
    if (new Set(lengths.map((l) => l.split(": ")[1])).size > 1) issues.add(z.at, `zipped axes must have the same length (${lengths.join(", ")})`);
  }
  const factors: Factor[] = [];
  const done = new Set<string>();
  for (const axis of d.axes.values()) {
    if (axis.kind !== "list" || done.has(axis.key)) continue;
    const z = zipOf.get(axis.key);
    const zipped = z?.value.map((k) => d.axes.get(k)).filter((a): a is ListAxis => a?.kind === "list");
    const members = zipped && zipped.length === z!.value.length ? zipped : [axis];
    for (const m of members) done.add(m.key);
    const n = Math.min(...members.map((m) => m.values.length));
    factors.push({ keys: members.map((m) => m.key), rows: Array.from({ length: n }, (_, i) => members.map((m) => m.values[i]!)), at: z ? z.at : axis.at });
    for (const m of members) checkDistinct(m, issues);
  }
  return factors;
}

/** The same value twice in one axis would make two identical runs. */
function checkDistinct(axis: ListAxis, issues: Issues): void {
  const seen = new Map<string, Val>();
  for (const v of axis.values) {
    const k = JSON.stringify(v.value);
    const first = seen.get(k);
    if (first) issues.add(v.at, `duplicate value ${v.text} in axis "${axis.key}"${first.at.line ? ` (first on line ${first.at.line})` : ""}`);
    else seen.set(k, v);
  }
}

function defaultName(d: Draft, named: boolean, source: string): Located<Template> {
  const parts: string[] = named ? ["{variant}"] : [];
  for (const axis of d.axes.values()) {
    const varies = axis.kind === "sampled" || axis.values.length > 1;
    if (varies && /^[A-Za-z_]/.test(axis.kind === "list" ? axis.key : axis.axis.key)) {
      const key = axis.kind === "list" ? axis.key : axis.axis.key;
      parts.push(`${key}{${key}}`);
    }
  }
  const text = parts.length ? parts.join("_") : "run";
  return { value: parseTemplate(text), at: { source, path: `name (default "${text}")` } };
}

/** Which values a key can take in a variant: for checking that templates only use what exists. */
function valuesOf(plan: Plan, v: Variant, key: string): Val[] | "sampled" | undefined {
  const f = plan.factors.find((x) => x.keys.includes(key));
  if (f) {
    const k = f.keys.indexOf(key);
    return f.rows.map((r) => r[k]!);
  }
  const s = plan.sampled.find((x) => x.key === key);
  if (s) return s.dist.kind === "choice" ? s.dist.values : "sampled";
  const fixed = v.params.get(key) ?? plan.base.get(key);
  return fixed ? [fixed] : undefined;
}

function checkPlaceholders(plan: Plan, named: boolean, issues: Issues): void {
  const check = (t: Located<Template> | undefined, what: string, extra: string[], needLabel: boolean) => {
    if (!t) return;
    for (const key of t.value.keys) {
      if (key === "index" || extra.includes(key)) continue;
      if (key === "variant") {
        if (!named) issues.add(t.at, `{variant} is used in ${what} but the sweep has no variants`);
        continue;
      }
      for (const v of plan.variants) {
        const vals = valuesOf(plan, v, key);
        if (vals === undefined) {
          issues.add(t.at, `{${key}} in ${what} is not a parameter${v.name ? ` of variant ${v.name}` : ""}`);
          break;
        }
        if (needLabel && vals !== "sampled") {
          for (const val of vals) {
            if (val.label === undefined) issues.add(val.at, `value ${val.text.slice(0, 60)} cannot be made safe for a run name (used by {${key}} in ${what}); give it a plain name, or leave {${key}} out of the name`);
          }
        }
      }
    }
  };
  check(plan.name, "the name", [], true);
  check(plan.group, "the group", [], true);
  check(plan.dir, "dir", ["name"], false);
  for (const w of plan.command.words ?? []) check({ value: w, at: plan.command.at }, "the command", ["name"], false);
  const known = new Set<string>(["variant", "index", "name", "group"]);
  for (const v of plan.variants) for (const k of v.params.keys()) known.add(k);
  for (const k of plan.base.keys()) known.add(k);
  for (const f of plan.factors) for (const k of f.keys) known.add(k);
  for (const s of plan.sampled) known.add(s.key);
  for (const f of [...plan.filters, ...plan.excludes]) {
    for (const c of f.value.conditions) {
      if (!known.has(c.key)) issues.add(f.at, `filter key "${c.key}" is not a parameter (known: ${[...known].sort().join(", ")})`);
    }
  }
}
