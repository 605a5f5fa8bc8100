import { type Node, isMap, isScalar, isSeq } from "yaml";
import { type Draft, PARAM_KEY, type StageDraft, type StageScope, filterAt, template } from "./draft.ts";
import { readArgs, readCommand } from "./read-command.ts";
import { type Reader, closest, readResources } from "./read-file.ts";
import { NAME_CHARS } from "./values.ts";

const STAGE_KEYS = ["description", "for_each", "depends_on", "command", "args", "params", "resources", "priority", "name", "dir", "outputs", "filter", "exclude"];
const SCOPES: StageScope[] = ["run", "group", "sweep"];

/**
 * `stages:` — a mapping of stage name to what its runs change (command, resources, ...) and what
 * they wait for (`depends_on`). Cross-checks (unknown stages, cycles) come later, in stages.ts.
 */
export function readStages(r: Reader, value: Node | null, draft: Draft): void {
  const entries = r.entries(value, "stages");
  if (isMap(value) && entries.length === 0) r.fail(value, "stages", "no stages: remove the key or name at least one");
  for (const e of entries) {
    const path = `stages.${e.key}`;
    if (!NAME_CHARS.test(e.key) || !/^[A-Za-z0-9_]/.test(e.key)) r.fail(e.keyNode, path, `bad stage name "${e.key}" (letters, digits and _ . + = -, starting with a letter, digit or _)`);
    const stage: StageDraft = { name: e.key, at: r.at(e.keyNode, path), forEach: "run", dependsOn: [], dependsAt: r.at(e.keyNode, path), params: new Map(), filters: [], excludes: [] };
    const body = e.value === null || (isScalar(e.value) && e.value.value === null) ? [] : r.entries(e.value, path);
    for (const b of body) {
      const bpath = `${path}.${b.key}`;
      switch (b.key) {
        case "description":
          break;
        case "for_each": {
          const s = r.str(b.value, bpath);
          if (s !== undefined && !SCOPES.includes(s as StageScope)) r.fail(b.value, bpath, `unknown for_each "${s}" (run: one per run of the sweep, group: one per group, sweep: one in all)`);
          else if (s !== undefined) stage.forEach = s as StageScope;
          break;
        }
        case "depends_on":
          stage.dependsAt = r.at(b.value, bpath);
          for (const [i, s] of r.strings(b.value, bpath).entries()) stage.dependsOn.push({ value: s.text, at: r.at(s.node, isSeq(b.value) ? `${bpath}[${i}]` : bpath) });
          break;
        case "command":
          stage.command ??= { style: "none", skip: new Set(), at: r.at(b.value, bpath) };
          readCommand(r, b.value, stage.command, bpath);
          break;
        case "args":
          stage.command ??= { style: "none", skip: new Set(), at: r.at(b.value, bpath) };
          stage.argsGiven = true;
          readArgs(r, b.value, stage.command, bpath);
          break;
        case "params":
          for (const p of r.entries(b.value, bpath)) {
            if (!PARAM_KEY.test(p.key)) r.fail(p.keyNode, `${bpath}.${p.key}`, `bad parameter name "${p.key}"`);
            const v = r.val(p.value, `${bpath}.${p.key}`);
            if (v) stage.params.set(p.key, v);
          }
          break;
        case "resources":
          stage.resources = readResources(r, b.value, bpath);
          break;
        case "priority":
          stage.priority = r.num(b.value, bpath, () => true, "a number");
          break;
        case "name":
        case "dir": {
          const text = r.str(b.value, bpath);
          const t = text === undefined ? undefined : template(text, r.at(b.value, bpath), r.issues);
          if (b.key === "name") stage.name_ = t;
          else stage.dir = t;
          break;
        }
        case "outputs":
          stage.outputs = r.strings(b.value, bpath).map((s) => s.text);
          break;
        case "filter":
        case "exclude":
          for (const [i, s] of r.strings(b.value, bpath).entries()) {
            const f = filterAt(s.text, r.at(s.node, isSeq(b.value) ? `${bpath}[${i}]` : bpath), r.issues);
            if (f) (b.key === "filter" ? stage.filters : stage.excludes).push(f);
          }
          break;
        default:
          r.fail(b.keyNode, bpath, `unknown key "${b.key}"${closest(b.key, STAGE_KEYS)} (known: ${STAGE_KEYS.join(", ")})`);
      }
    }
    draft.stages.push(stage);
  }
}
