#!/usr/bin/env node
// Builds the package in the current directory with esbuild:
//   dist/index.mjs  the library (dependencies stay external, as any npm package); with --lib and a
//                   src/cli/index.ts also dist/cli.mjs, the light CLI-shell entry (shared chunk)
//   dist/cli.mjs    the command, standalone: every dependency is inlined into dist/cli.mjs and the
//                   chunks beside it in dist/cli-chunks/, so the dist/ directory can be copied onto
//                   a cluster login node and run with plain `node`, no node_modules. The library a
//                   command imports lazily inside `run` is its own chunk: `--help` and usage errors
//                   never read or compile it (that was 15-35 ms of a ~100 ms start as one file).
// `--lib` builds only the library (packages without a command, i.e. core).
import { existsSync, readFileSync, rmSync } from "node:fs";
import { isBuiltin } from "node:module";
import { dirname, join } from "node:path";
import { build } from "esbuild";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
/**
 * zod re-exports all of its ~50 message locales (`z.locales`, 265 kB of the ~850 kB bundle), and
 * node parses every byte of the bundle at start, even code that never runs. slurmpipe uses only
 * zod's default English messages (registered from locales/en.js, which stays), so the standalone
 * command bundles carry `z.locales.en` alone. The library build (dist/index.mjs) is untouched.
 */
const zodEnglishOnly = {
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
const lazyBuiltins = {
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
 * core's local backend starts its job runner as `node -e <text>` (src/local/job-runner.ts tells
 * why): this replaces job-runner.ts with `export function jobRunnerSource() { return "<text>"; }`,
 * the text being src/local/runner-process.ts bundled into one ESM module. Used by every build:
 * core's, and the commands' (their tsconfig `paths` map @slurmpipe/core to core's sources, which
 * esbuild follows, so each command bundles core's job-runner.ts itself). The settings are
 * job-runner.ts's RUNNER_BUILD_OPTIONS (used when the sources run, under vitest): keep in step.
 * The runner may import node builtins only (it runs detached, with nothing but node).
 */
const jobRunnerSource = {
  name: "job-runner-source",
  setup(b) {
    b.onLoad({ filter: /[\\/]core[\\/]src[\\/]local[\\/]job-runner\.ts$/ }, async (args) => {
      const entry = join(dirname(args.path), "runner-process.ts");
      const result = await build({
        entryPoints: [entry],
        bundle: true,
        packages: "external",
        platform: "node",
        target: "node20",
        format: "esm",
        legalComments: "none",
        logLevel: "silent",
        write: false,
        metafile: true,
      });
      const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
      const foreign = imports.filter((p) => !isBuiltin(p));
      if (foreign.length > 0) return { errors: [{ text: `the job runner (runner-process.ts) may import node builtins only, not ${foreign.join(", ")}` }] };
      return {
        contents: `export function jobRunnerSource() { return ${JSON.stringify(result.outputFiles[0].text)}; }\n`,
        loader: "js",
        watchFiles: Object.keys(result.metafile.inputs).map((p) => join(process.cwd(), p)),
      };
    });
  },
};

const common = { platform: "node", target: "node20", format: "esm", bundle: true, logLevel: "warning", legalComments: "none" };

// A library with a light CLI-shell entry (core: `@slurmpipe/core/cli`, src/cli/index.ts) is built as
// two entries sharing one chunk, so both entries load the SAME module instances: an error class
// thrown through one entry is `instanceof` the class exported by the other.
const libEntries = [{ in: "src/index.ts", out: "index" }];
if (process.argv.includes("--lib") && existsSync("src/cli/index.ts")) libEntries.push({ in: "src/cli/index.ts", out: "cli" });
await build({
  ...common,
  entryPoints: libEntries,
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
  splitting: libEntries.length > 1,
  chunkNames: "chunks/[name]-[hash]",
  packages: "external",
  sourcemap: true,
  plugins: [jobRunnerSource],
});

if (!process.argv.includes("--lib") && existsSync("src/cli.ts")) {
  // Chunk names carry a content hash: clear the last build's so none goes stale beside the new ones.
  rmSync("dist/cli-chunks", { recursive: true, force: true });
  await build({
    ...common,
    entryPoints: { cli: "src/cli.ts" },
    outdir: "dist",
    outExtension: { ".js": ".mjs" },
    splitting: true,
    chunkNames: "cli-chunks/[name]-[hash]",
    minify: true,
    plugins: [jobRunnerSource, zodEnglishOnly, lazyBuiltins],
    // CommonJS dependencies (yargs, split2, ...) call require() for node builtins; an ESM bundle has none.
    banner: {
      js: [
        "#!/usr/bin/env node",
        'import { createRequire as __spCreateRequire } from "node:module";',
        "const require = __spCreateRequire(import.meta.url);",
      ].join("\n"),
    },
    define: { "process.env.SLURMPIPE_VERSION": JSON.stringify(pkg.version) },
    // Files a command reads at run time next to itself (cluster profiles) are inlined by the
    // package's own code with `import ... with { type: "text" }`-free static imports.
    loader: { ".yaml": "text", ".md": "text" },
  });
}
