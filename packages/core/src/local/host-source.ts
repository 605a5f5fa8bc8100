/**
 * The JavaScript text of host-entry.ts (the local backend as one CommonJS script, node builtins
 * only at run time), sent to HOST on stdin in bare-box mode. Made the way job-runner.ts makes the
 * job runner's text: replaced at build time by scripts/bundle-plugins.mjs ("local-host-source")
 * with `export function localHostSource() { return "<text>"; }`; from the TypeScript sources
 * (vitest) bundled here with esbuild (a dev dependency) on first use. The settings are
 * HOST_BUILD_OPTIONS; the plugin repeats them: keep in step.
 *
 * The job runner's own text is inside it (sbatch on HOST starts the runner from it). At build time
 * the job-runner-source plugin puts it there; from the sources, buildSync takes no plugins, so the
 * text made here is handed over in a global that job-runner.ts reads first.
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type * as esbuild from "esbuild";
import { JOB_RUNNER_SOURCE_GLOBAL, jobRunnerSource } from "./job-runner.ts";

/** `import.meta.url` is read only by code the program never runs on HOST (job-runner.ts from sources). */
const HOST_BUILD_OPTIONS = { bundle: true, platform: "node", target: "node20", format: "cjs", legalComments: "none", logLevel: "silent", minify: true, define: { "import.meta.url": '"file:///slurmpipe/local-host.js"' } } as const;

let cached: string | undefined;

export function localHostSource(): string {
  if (cached !== undefined) return cached;
  const { buildSync } = createRequire(import.meta.url)("esbuild") as typeof esbuild;
  const entry = fileURLToPath(new URL("./host-entry.ts", import.meta.url));
  const text = buildSync({ ...HOST_BUILD_OPTIONS, entryPoints: [entry], write: false }).outputFiles[0]!.text;
  cached = `globalThis[${JSON.stringify(JOB_RUNNER_SOURCE_GLOBAL)}] = ${JSON.stringify(jobRunnerSource())};\n${text}`;
  return cached;
}
