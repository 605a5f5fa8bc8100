import { split as shellSplit } from "shlex";
import { type Node, isScalar, isSeq } from "yaml";
import { template } from "./draft.ts";
import type { CommandPlan } from "./plan.ts";
import { type Reader, describe } from "./read-file.ts";
import type { Where } from "./values.ts";

// `command:` and `args:`, of the sweep or of one of its stages (`key` is where, for messages).

export function readCommand(r: Reader, value: Node | null, target: CommandPlan, key: string): void {
  const at = r.at(value, key);
  target.at = at;
  let words: { text: string; at: Where }[] = [];
  if (isScalar(value) && typeof value.value === "string") {
    try {
      words = shellSplit(value.value).map((text) => ({ text, at }));
    } catch (e) {
      r.fail(value, key, `cannot split into words: ${(e as Error).message}`);
      return;
    }
  } else if (isSeq(value)) {
    value.items.forEach((item, i) => {
      const node = item as Node;
      const path = `${key}[${i}]`;
      if (isScalar(node) && (typeof node.value === "string" || typeof node.value === "number")) {
        words.push({ text: typeof node.value === "number" ? (node.source ?? String(node.value)) : node.value, at: r.at(node, path) });
      } else r.fail(node, path, `command words must be strings, got ${describe(node)}`);
    });
  } else {
    r.fail(value, key, `expected an argv list (["python", "train.py"]) or a string, got ${describe(value)}`);
    return;
  }
  if (words.length === 0) r.fail(value, key, "the command is empty");
  const tpls = words.map((w) => template(w.text, w.at, r.issues));
  if (tpls.every((t) => t !== undefined)) target.words = tpls.map((t) => t!.value);
}

export function readArgs(r: Reader, value: Node | null, target: CommandPlan, key: string): void {
  const styleOf = (node: Node | null, path: string) => {
    const s = r.str(node, path);
    if (s === undefined) return;
    if (s !== "none" && s !== "hydra" && s !== "argparse") r.fail(node, path, `unknown args style "${s}" (hydra, argparse, none)`);
    else target.style = s;
  };
  if (isScalar(value)) {
    styleOf(value, key);
    return;
  }
  for (const e of r.entries(value, key)) {
    if (e.key === "style") styleOf(e.value, `${key}.style`);
    else if (e.key === "skip") for (const s of r.strings(e.value, `${key}.skip`)) target.skip.add(s.text);
    else r.fail(e.keyNode, `${key}.${e.key}`, `unknown key "${e.key}" (known: style, skip)`);
  }
}
