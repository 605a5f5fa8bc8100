/**
 * The JavaScript text of the detached job runner: runner-process.ts (a real, type-checked and
 * linted module) bundled into one self-contained ESM module that imports node builtins only.
 * sbatch.ts starts it as `node --input-type=module -e <text> <dir> <ids> <maxParallel>`.
 *
 * A text, not a file path: core is bundled INTO every command's standalone dist/cli.mjs (and its
 * chunks), which is copied onto login nodes with no node_modules and no core files beside it; a
 * string literal travels with the bundle, and `node -e` needs nothing else on disk.
 *
 * Two ways this module is made:
 * - Built (scripts/bundle.mjs, plugin "job-runner-source", in core's build and in every command's,
 *   which bundle core's sources): the whole module is replaced by
 *   `export function jobRunnerSource() { return "<runner-process.ts, bundled>"; }`, bundled once at
 *   build time; the code below (and esbuild) is not in any dist.
 * - From TypeScript sources (vitest of ANY package: they all import core's src, and so does
 *   test/vitest.config.ts): the code below bundles runner-process.ts with esbuild (a dev
 *   dependency, present wherever the sources run) on first use. This, rather than a
 *   `./runner-process.ts?source` import with a vite plugin, because that import would need the
 *   plugin in every vitest config and an ambient module declaration in every tsconfig that reaches
 *   core's sources; here each tool sees a plain TypeScript module.
 * Both build with RUNNER_BUILD_OPTIONS' settings (scripts/bundle.mjs repeats them: keep in step)
 * and refuse a runner that imports anything but node builtins.
 */
import { createRequire, isBuiltin } from "node:module";
import { fileURLToPath } from "node:url";
import type * as esbuild from "esbuild";

/**
 * How runner-process.ts is bundled; scripts/bundle.mjs uses the same settings. Packages stay
 * external so that an import of one shows in the metafile's imports and is refused.
 */
const RUNNER_BUILD_OPTIONS = { bundle: true, packages: "external", platform: "node", target: "node20", format: "esm", legalComments: "none", logLevel: "silent" } as const;

let cached: string | undefined;

/**
 * The global that host-source.ts (from the sources, bare-box mode) sets to the runner's text in the
 * program it sends to HOST: there, without esbuild, that text is the runner.
 */
export const JOB_RUNNER_SOURCE_GLOBAL = "__slurmpipeJobRunnerSource";

export function jobRunnerSource(): string {
  if (cached !== undefined) return cached;
  const given = (globalThis as Record<string, unknown>)[JOB_RUNNER_SOURCE_GLOBAL];
  if (typeof given === "string") return (cached = given);
  const { buildSync } = createRequire(import.meta.url)("esbuild") as typeof esbuild;
  const entry = fileURLToPath(new URL("./runner-process.ts", import.meta.url));
  const result = buildSync({ ...RUNNER_BUILD_OPTIONS, entryPoints: [entry], write: false, metafile: true });
  const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
  const foreign = imports.filter((p) => !isBuiltin(p));
  if (foreign.length > 0) throw new Error(`the job runner (runner-process.ts) may import node builtins only, not ${foreign.join(", ")}`);
  cached = result.outputFiles[0]!.text;
  return cached;
}
