import { type Json, valueText } from "./values.ts";

/**
 * The filter language, kept small on purpose (no eval):
 *   EXPR := COND ( "&&" COND )*
 *   COND := KEY OP VALUE       OP: = == != < <= > >=
 *   VALUE: a word; for = and != a comma list means "any of" (`variant=S-core,S-adamw`).
 * Numbers compare as numbers (`wd=1e-4` matches 0.0001), `<` `<=` `>` `>=` need numbers on both
 * sides, a missing key only satisfies `!=`.
 */
export type Op = "=" | "!=" | "<" | "<=" | ">" | ">=";
export interface Condition {
  key: string;
  op: Op;
  values: string[];
}
export interface Filter {
  text: string;
  conditions: Condition[];
}

export class FilterSyntaxError extends Error {}

const COND = /^\s*([A-Za-z_+~][A-Za-z0-9_.+-]*)\s*(==|!=|<=|>=|=|<|>)\s*(.*?)\s*$/;
const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

export function parseFilter(text: string): Filter {
  if (text.trim() === "") throw new FilterSyntaxError("empty filter expression");
  const conditions = text.split("&&").map((part) => {
    const m = COND.exec(part);
    if (!m) throw new FilterSyntaxError(`cannot read ${JSON.stringify(part.trim())}: expected KEY OP VALUE, e.g. lr>0.05 or variant=S-core (OP: = != < <= > >=)`);
    const op = (m[2] === "==" ? "=" : m[2]) as Op;
    const value = m[3]!;
    if (value === "") throw new FilterSyntaxError(`missing value after ${m[1]}${m[2]}`);
    const values = op === "=" || op === "!=" ? value.split(",").map((v) => v.trim()) : [value];
    if (values.some((v) => v === "")) throw new FilterSyntaxError(`empty item in the list ${JSON.stringify(value)}`);
    if (op !== "=" && op !== "!=" && !NUMBER.test(value)) throw new FilterSyntaxError(`${op} needs a number, got ${JSON.stringify(value)}`);
    return { key: m[1]!, op, values };
  });
  return { text, conditions };
}

export interface FilterValue {
  value: Json;
  /** Spelling of the value (numbers as written in the sweep), compared as text when not numeric. */
  text?: string;
}

function equals(actual: FilterValue, expected: string): boolean {
  const v = actual.value;
  if (typeof v === "number" && NUMBER.test(expected)) return v === Number(expected);
  if (typeof v === "number" || typeof v === "boolean" || v === null) return valueText(v, actual.text) === expected || String(v) === expected;
  return valueText(v) === expected;
}

function holds(c: Condition, actual: FilterValue | undefined): boolean {
  if (c.op === "!=") return actual === undefined || !c.values.some((e) => equals(actual, e));
  if (actual === undefined) return false;
  if (c.op === "=") return c.values.some((e) => equals(actual, e));
  if (typeof actual.value !== "number") return false;
  const x = actual.value;
  const y = Number(c.values[0]);
  return c.op === "<" ? x < y : c.op === "<=" ? x <= y : c.op === ">" ? x > y : x >= y;
}

/** True when every condition of the expression holds for the run. */
export function matchesFilter(f: Filter, lookup: (key: string) => FilterValue | undefined): boolean {
  return f.conditions.every((c) => holds(c, lookup(c.key)));
}
