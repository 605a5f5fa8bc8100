import { UsageError } from "@slurmpipe/core";
import { split as shellSplit } from "shlex";
import { checkBounds, isRange, parseRange } from "./axes.ts";
import { AxisValues } from "./axis-values.ts";
import { type Draft, PARAM_KEY } from "./draft.ts";
import { parseFilter } from "./filter.ts";
import type { ArgsStyle } from "./plan.ts";
import type { SampleMethod } from "./sample.ts";
import { parseTemplate } from "./template.ts";
import { type Where, makeVal, parseFlagValue } from "./values.ts";

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
    const values = new AxisValues();
    for (const item of spec.split(",")) {
      const word = item.trim();
      if (word === "") throw new UsageError(`-p ${key}=${spec}: empty item in the list`);
      if (isRange(word)) {
        try {
          values.pushRange(parseRange(word), at);
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

export function applyFlags(flags: FlagOverrides, draft: Draft): void {
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
