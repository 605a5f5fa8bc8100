import { posix } from "node:path";
import { type RemoteEntry, type RemoteOptions, type RemoteTree, listRemoteTrees } from "@slurmpipe/core";
import picomatch from "picomatch";
import type { Candidate, Problem, RunInput } from "./collect.ts";
import { inside, safeArchivePath } from "./layout.ts";
import { classify } from "./roles.ts";

/** A regular file on HOST to archive: a candidate whose `source` is its path there, with HOST's sha256 ("" when not hashed: --check-only). */
export interface RemoteCandidate extends Candidate {
  sha256: string;
}

export interface RemoteCollected {
  files: RemoteCandidate[];
  problems: Problem[];
  /** Each run's real directory on HOST (runs whose directory exists). */
  realDirs: Map<RunInput, string>;
}

/**
 * What collect.ts finds locally, from one listing of the run directories on HOST: every file of
 * each run directory (less --exclude), the declared outputs checked against it. Only regular
 * files are archived: HOST's links are never followed (reported as `link_not_followed`; a link to
 * a file of the run is archived anyway under the file's own path), FIFOs, sockets and devices are
 * never opened (`special_file`). Logs and scripts outside a run directory are not archived (the
 * caller says so once).
 */
export async function collectRemote(runs: RunInput[], remote: RemoteOptions, options: { exclude: string[]; hash: boolean }): Promise<RemoteCollected> {
  const withDir = runs.filter((r) => r.record.dir !== undefined);
  const dirs = [...new Set(withDir.map((r) => r.record.dir!))];
  const listed = await listRemoteTrees(dirs, remote, { hash: options.hash });
  if (!listed.ok) throw new Error(listed.message);
  const trees = new Map<string, RemoteTree>(listed.trees.map((t) => [t.dir, t]));
  const excluded = options.exclude.length > 0 ? picomatch(options.exclude, { dot: true }) : () => false;
  const files: RemoteCandidate[] = [];
  const problems: Problem[] = [];
  const realDirs = new Map<RunInput, string>();
  for (const run of runs) {
    const r = run.record;
    const who = { run_id: r.id, name: r.name };
    if (r.dir === undefined) {
      problems.push({ ...who, problem: "no_dir", severity: "warning", message: `${r.name}: record has no "dir"; nothing of it is on ${remote.host} to archive` });
      continue;
    }
    const tree = trees.get(r.dir);
    if (!tree || tree.kind === "missing") {
      problems.push({ ...who, problem: "missing_dir", severity: "error", path: r.dir, message: `run directory ${r.dir} does not exist on ${remote.host}` });
      continue;
    }
    realDirs.set(run, tree.realDir);
    const declared = new Set<string>();
    for (const pattern of r.outputs ?? []) {
      const match = picomatch(pattern, { dot: true });
      const hits = tree.entries.filter((e) => match(e.rel));
      if (hits.length === 0) problems.push({ ...who, problem: "missing_output", severity: "error", pattern, message: `${r.name}: no file matches declared output ${pattern} in ${r.dir} on ${remote.host}` });
      for (const e of hits) declared.add(e.rel);
    }
    for (const e of tree.entries) {
      if (excluded(e.rel) && !declared.has(e.rel)) continue;
      const c = candidate(run, tree.realDir, e, declared.has(e.rel), options.hash);
      if ("problem" in c) problems.push({ ...who, ...c });
      else files.push(c);
    }
  }
  return { files, problems, realDirs };
}

function candidate(run: RunInput, realDir: string, e: RemoteEntry, declared: boolean, hashed: boolean): RemoteCandidate | Omit<Problem, "run_id" | "name"> {
  const source = posix.join(realDir, e.rel);
  if (e.type === "symlink") return { problem: "link_not_followed", severity: declared ? "error" : "warning", path: source, message: `${source}: a symlink; with --remote links are not followed, so it is not archived` };
  if (e.type !== "file") return { problem: "special_file", severity: declared ? "error" : "warning", path: source, message: `${source}: a ${e.type.replace("_", " ")}, never opened; not archived` };
  if (hashed && e.sha256 === undefined) return { problem: "unreadable", severity: "error", path: source, message: `${source}: cannot be read on HOST; not archived` };
  const path = `${run.prefix}/${e.rel}`;
  // SHA256SUMS has one line per file (`sha256sum -c` reads it so): a name with a line break cannot be in it.
  if (/[\n\r]/.test(e.rel)) return { problem: "unsafe_path", severity: "error", path: source, message: `${JSON.stringify(source)}: a line break in a file name cannot be listed in SHA256SUMS; not archived` };
  try {
    safeArchivePath(path);
  } catch (err) {
    return { problem: "unsafe_path", severity: "error", path: source, message: `${source}: ${(err as Error).message}; not archived` };
  }
  return { source, readFrom: source, path, run_id: run.record.id, run_name: run.record.name, role: classify(path), size: e.size, mtimeMs: e.mtimeMs, mode: e.mode, declared, sha256: e.sha256 ?? "" };
}

/** The runs' logs and scripts that are outside their run directory (not archived with --remote). */
export function outsideRunDirs(runs: RunInput[]): string[] {
  const out: string[] = [];
  for (const { record: r } of runs) {
    for (const p of [r.logs?.stdout, r.logs?.stderr, r.script?.path]) {
      if (p === undefined || r.dir === undefined) continue;
      // A relative log pattern is read from --log-base, which --remote does not know on HOST: outside.
      if (!posix.isAbsolute(p) || inside(r.dir, p) === undefined) out.push(p);
    }
  }
  return out;
}
