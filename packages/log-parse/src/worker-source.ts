/**
 * The JavaScript text of a `--jobs` worker (parse-worker.ts bundled with everything it imports into
 * one CommonJS script), the same way core's job-runner.ts makes the job runner's: replaced at build
 * time by scripts/bundle-plugins.mjs ("parse-worker-source") with
 * `export function parseWorkerSource() { return "<text>"; }`; from the TypeScript sources (vitest),
 * bundled here with esbuild (a dev dependency) on first use. A text rather than a file because the
 * commands' standalone builds and the single executable carry no file to start a worker from.
 * The settings are PARSE_WORKER_BUILD_OPTIONS; the plugin repeats them: keep in step.
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type * as esbuild from "esbuild";

const PARSE_WORKER_BUILD_OPTIONS = { bundle: true, platform: "node", target: "node20", format: "cjs", legalComments: "none", logLevel: "silent", minify: true } as const;

let cached: string | undefined;

export function parseWorkerSource(): string {
  if (cached !== undefined) return cached;
  const { buildSync } = createRequire(import.meta.url)("esbuild") as typeof esbuild;
  const entry = fileURLToPath(new URL("./parse-worker.ts", import.meta.url));
  cached = buildSync({ ...PARSE_WORKER_BUILD_OPTIONS, entryPoints: [entry], write: false }).outputFiles[0]!.text;
  return cached;
}
