import { canonicalJson } from "@slurmpipe/core";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Where a value or key came from, for error messages: `file:line: field "path"`. */
export interface Where {
  source: string;
  line?: number;
  path: string;
}

/**
 * One parameter value plus the text it shows in run names. `label` is undefined when the value
 * cannot be made safe for a name (an object, or a string with nothing printable left).
 */
export interface Val {
  value: Json;
  label: string | undefined;
  /** How a number was spelled in the input (`1e-4`), reused in commands so they read like the file. */
  text: string;
  at: Where;
}

/** Characters allowed in run names: safe in directory names, job names and unquoted shell words. */
export const NAME_CHARS = /^[A-Za-z0-9_.+=-]+$/;
const UNSAFE_RUN = /[^A-Za-z0-9_.+=-]+/g;
const READABLE_NUMBER = /^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$/;

/**
 * Stable, readable number text: the shorter of the plain and the exponent form, plain on a tie
 * (0.1 -> "0.1", 0.0001 -> "1e-4", 0.01 -> "0.01", 1.5e-5 -> "1.5e-5"). Never locale-dependent.
 */
export function formatNumber(x: number): string {
  if (Number.isInteger(x) && Math.abs(x) < 1e21) return String(x);
  const plain = String(x);
  const exp = x.toExponential().replace("e+", "e");
  return exp.length < plain.length ? exp : plain;
}

/**
 * Number text for names and commands: the input spelling when it is a plain readable number
 * (`1e-4` stays `1e-4`, `1.0` stays `1.0`), else the canonical form (hex, `.5`, computed values).
 */
export function numberText(x: number, spelled?: string): string {
  if (spelled !== undefined && READABLE_NUMBER.test(spelled) && Number(spelled) === x) {
    return spelled.replace(/^\+/, "").replace(/E/, "e").replace("e+", "e");
  }
  return formatNumber(x);
}

/** The text a value stands for inside a command template or a filter comparison. */
export function valueText(value: Json, spelled?: string): string {
  if (value === null) return "null";
  if (typeof value === "number") return numberText(value, spelled);
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return String(value);
  return canonicalJson(value);
}

/**
 * The text of a value inside a run name, made safe: runs of characters outside [A-Za-z0-9_.+=-]
 * become "-" (and are trimmed at the ends), list elements are joined with "-". Undefined when
 * nothing readable is left (objects, strings of only symbols or non-ASCII letters).
 */
export function nameLabel(value: Json, spelled?: string): string | undefined {
  if (value === null) return "null";
  if (typeof value === "number") return numberText(value, spelled);
  if (typeof value === "boolean") return String(value);
  if (typeof value === "string") {
    const s = value.replace(UNSAFE_RUN, "-").replace(/^-+|-+$/g, "");
    return /[A-Za-z0-9]/.test(s) ? s : undefined;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return undefined;
    const parts = value.map((v) => nameLabel(v));
    return parts.every((p) => p !== undefined) ? parts.join("-") : undefined;
  }
  return undefined;
}

export function makeVal(value: Json, at: Where, spelled?: string): Val {
  return { value, label: nameLabel(value, spelled), text: valueText(value, spelled), at };
}

/** True for values JSON can carry unchanged (no NaN/Infinity, no undefined, no Dates). */
export function isJson(value: unknown): value is Json {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isJson);
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) return Object.values(value as object).every(isJson);
  return false;
}

/** Typed value of a command-line word: numbers and booleans become themselves, the rest stays text. */
export function parseFlagValue(text: string): Json {
  if (text === "true") return true;
  if (text === "false") return false;
  if (text === "null") return null;
  if (READABLE_NUMBER.test(text) || /^[-+]?\.\d+$/.test(text)) return Number(text);
  return text;
}
