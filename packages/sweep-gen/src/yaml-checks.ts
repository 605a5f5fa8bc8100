import { type Document, type LineCounter, type Node, isAlias, isNode, visit } from "yaml";
import type { Issues } from "./issues.ts";

/**
 * Tags a sweep file may use: YAML 1.2's core schema (what plain values resolve to anyway).
 * Anything else (`!!js/function`, `!!python/object`, `!!binary`, a custom `!foo`) is an error at
 * its line: the yaml library would read an unknown tag as a plain string without a word, and a
 * sweep that means something else than it says is worse than one that stops.
 */
const CORE_TAGS = new Set(["str", "int", "float", "bool", "null", "map", "seq"].map((t) => `tag:yaml.org,2002:${t}`));

/** The longest chain of nested collections a sweep file may have (ordinary ones have 3 or 4). */
export const MAX_YAML_DEPTH = 64;

/** Reports tags outside the core schema and nesting deeper than MAX_YAML_DEPTH, each at its line. */
export function checkDocument(doc: Document, lc: LineCounter, source: string, issues: Issues): void {
  const line = (node: Node) => (node.range ? lc.linePos(node.range[0]).line : undefined);
  let deep = false;
  visit(doc, (_key, node, path) => {
    if (!isNode(node) || isAlias(node)) return undefined;
    if (node.tag && !CORE_TAGS.has(node.tag)) {
      issues.add({ source, line: line(node), path: "" }, `YAML tag ${node.tag.replace(/^tag:yaml\.org,2002:/, "!!")} is not allowed (sweep files hold plain values: strings, numbers, booleans, null, lists and mappings)`);
    }
    if (!deep && path.length > 2 * MAX_YAML_DEPTH) {
      deep = true;
      issues.add({ source, line: line(node), path: "" }, `YAML nested deeper than ${MAX_YAML_DEPTH} levels`);
      return visit.BREAK;
    }
    return undefined;
  });
}
