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
import { build } from "esbuild";
import { jobRunnerSource, lazyBuiltins, localHostSource, parseWorkerSource, zodEnglishOnly } from "./bundle-plugins.mjs";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
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
  plugins: [jobRunnerSource, localHostSource, parseWorkerSource],
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
    // SP_NOMINIFY=1: a bundle a CPU profile can name functions in (how bench 8's tick was profiled).
    minify: !process.env.SP_NOMINIFY,
    plugins: [jobRunnerSource, localHostSource, parseWorkerSource, zodEnglishOnly, lazyBuiltins],
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
