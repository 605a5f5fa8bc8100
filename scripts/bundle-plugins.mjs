// esbuild plugins shared by scripts/bundle.mjs (each command's dist/) and packages/slurmpipe's
// release build (all seven commands in one file and one executable).
import { dirname, join } from "node:path";
import { isBuiltin } from "node:module";
import { build } from "esbuild";

/**
 * zod re-exports all of its ~50 message locales (`z.locales`, 265 kB of the ~850 kB bundle), and
 * node parses every byte of the bundle at start, even code that never runs. slurmpipe uses only
 * zod's default English messages (registered from locales/en.js, which stays), so the standalone
 * command bundles carry `z.locales.en` alone. The library build (dist/index.mjs) is untouched.
 */
export const zodEnglishOnly = {
  name: "zod-english-only",
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => {
      if (!/[\\/]zod[\\/]v4[\\/]/.test(args.importer)) return undefined;
      return { path: join(dirname(args.importer), "../locales/en.js"), namespace: "zod-english-only" };
    });
    b.onLoad({ filter: /.*/, namespace: "zod-english-only" }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      resolveDir: dirname(args.path),
    }));
  },
};

/**
 * esbuild hoists every `import ... from "node:x"` of the bundled ESM code to the top of the file, so
 * node loads child_process, stream, crypto, ... before `--help` even for code that runs only inside
 * `run`. Importing builtins through a CommonJS shim (`module.exports = require("node:x")`) moves each
 * load into the init function of the module that uses it: loaded when that module is, not at start.
 */
export const lazyBuiltins = {
  name: "lazy-node-builtins",
  setup(b) {
    b.onResolve({ filter: /^(node:)?[a-z_]+(\/[a-z_]+)?$/ }, (args) => {
      if (args.namespace === "lazy-builtin" || args.kind !== "import-statement" || !isBuiltin(args.path)) return undefined;
      return { path: args.path.startsWith("node:") ? args.path : `node:${args.path}`, namespace: "lazy-builtin" };
    });
    b.onLoad({ filter: /.*/, namespace: "lazy-builtin" }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: "js" }));
  },
};

/**
 * A plugin that replaces a source file (`filter`) with `export function <fn>() { return "<text>"; }`,
 * the text being `entry` (beside it) bundled by esbuild with `options`: how the job runner, the
 * bare-box backend and log-parse's workers travel inside a command's bundle as strings (each
 * module's own comment tells why it is a text). `check` may refuse the result (an error text).
 */
function textModule({ name, filter, entry, fn, options, check }) {
  return {
    name,
    setup(b) {
      b.onLoad({ filter }, async (args) => {
        const result = await build({ entryPoints: [join(dirname(args.path), entry)], bundle: true, platform: "node", target: "node20", legalComments: "none", logLevel: "silent", ...options, write: false, metafile: true });
        const refused = check?.(result);
        if (refused) return { errors: [{ text: refused }] };
        return {
          contents: `export function ${fn}() { return ${JSON.stringify(result.outputFiles[0].text)}; }\n`,
          loader: "js",
          watchFiles: Object.keys(result.metafile.inputs).map((p) => join(process.cwd(), p)),
        };
      });
    },
  };
}

/**
 * core's local backend starts its job runner as `node -e <text>` (src/local/job-runner.ts tells
 * why): job-runner.ts becomes `jobRunnerSource()`, the text of src/local/runner-process.ts bundled
 * into one ESM module. Used by every build: core's, and the commands' (their tsconfig `paths` map
 * @slurmpipe/core to core's sources, which esbuild follows, so each command bundles core's
 * job-runner.ts itself). The settings are job-runner.ts's RUNNER_BUILD_OPTIONS (used when the
 * sources run, under vitest): keep in step. The runner may import node builtins only (it runs
 * detached, with nothing but node).
 */
export const jobRunnerSource = textModule({
  name: "job-runner-source",
  filter: /[\\/]core[\\/]src[\\/]local[\\/]job-runner\.ts$/,
  entry: "runner-process.ts",
  fn: "jobRunnerSource",
  options: { packages: "external", format: "esm" },
  check(result) {
    const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
    const foreign = imports.filter((p) => !isBuiltin(p));
    return foreign.length > 0 ? `the job runner (runner-process.ts) may import node builtins only, not ${foreign.join(", ")}` : undefined;
  },
});

/**
 * Bare-box mode sends the local backend to HOST as a text (core's src/local/host-source.ts tells
 * why): host-source.ts becomes `localHostSource()`, the text of src/local/host-entry.ts bundled
 * with everything it imports into one CommonJS script, the job runner's text inside. Settings as
 * host-source.ts's HOST_BUILD_OPTIONS (keep in step).
 */
export const localHostSource = textModule({
  name: "local-host-source",
  filter: /[\\/]core[\\/]src[\\/]local[\\/]host-source\.ts$/,
  entry: "host-entry.ts",
  fn: "localHostSource",
  options: { format: "cjs", minify: true, define: { "import.meta.url": '"file:///slurmpipe/local-host.js"' }, plugins: [jobRunnerSource] },
});

/**
 * log-parse's `--jobs` workers run parse-worker.ts from a text (src/worker-source.ts tells why):
 * worker-source.ts becomes `parseWorkerSource()`, the text of parse-worker.ts bundled with
 * everything it imports into one CommonJS script (a worker started with `eval` is CommonJS and has
 * nothing but node beside it). Settings as worker-source.ts's PARSE_WORKER_BUILD_OPTIONS (keep in
 * step), plus the plugins the command bundles use for core's sources; `import.meta.url` (read by
 * modules the worker never runs, e.g. the job runner's source) becomes a placeholder URL, as in the
 * single executable's build.
 */
export const parseWorkerSource = textModule({
  name: "parse-worker-source",
  filter: /[\\/]log-parse[\\/]src[\\/]worker-source\.ts$/,
  entry: "parse-worker.ts",
  fn: "parseWorkerSource",
  options: { format: "cjs", minify: true, define: { "import.meta.url": '"file:///slurmpipe/log-parse-worker.js"' }, plugins: [jobRunnerSource, localHostSource, zodEnglishOnly] },
});
