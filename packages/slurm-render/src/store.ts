import { basename, dirname, extname, join } from "node:path";
import { type RemoteOptions, sha256, uploadFile } from "@slurmpipe/core";
import { placeFor, writeRunFiles } from "./files.ts";
import { RunError } from "./resolve.ts";

/**
 * Where a run's files are written: this machine (placeFor + writeRunFiles) or, with --remote, the
 * run directory on HOST, uploaded through the shared ssh connection with the same rules: an
 * unchanged file is kept, a changed one goes beside it as `<stem>.<sha256 prefix><ext>`, nothing
 * is ever replaced, no half-written file is ever visible. Returns the paths the files are at.
 */
export interface ScriptStore {
  put(dir: string, files: readonly [path: string, text: string][]): Promise<string[]>;
}

export const localStore: ScriptStore = {
  async put(dir, files) {
    const placed: [string, string][] = [];
    for (const [path, text] of files) placed.push([await placeFor(path, text), text]);
    await writeRunFiles(dir, placed);
    return placed.map(([p]) => p);
  },
};

/** `job.sbatch` -> `job.<first 8 hex digits of sha256(text)>.sbatch`, as placeFor names it. */
function alternativeOf(path: string, text: string): string {
  const ext = extname(path);
  return join(dirname(path), `${basename(path, ext)}.${sha256(text).slice(0, 8)}${ext}`);
}

export function remoteStore(remote: RemoteOptions): ScriptStore {
  return {
    async put(dir, files) {
      const out: string[] = [];
      for (const [path, text] of files) {
        const r = await uploadFile({ dir, alsoMake: [`${dir}/logs`], candidates: [path, alternativeOf(path, text)], content: text }, remote);
        if (r.status === "taken") throw new RunError(`${path} and ${alternativeOf(path, text)} both exist on ${remote.host} with other content; slurm-render never replaces a script (a submitted job may still run it): move one away`, "script", "script_exists");
        if (r.status === "failed") throw new RunError(`${r.message}: give --out a writable directory on ${remote.host}`, "script", r.connection ? "remote_unreachable" : "write_failed");
        out.push(r.path);
      }
      return out;
    },
  };
}
