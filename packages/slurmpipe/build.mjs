#!/usr/bin/env node
// Builds the slurmpipe distribution from the seven commands' sources (see README.md):
//   dist/npm/            the npm package's code: ES module chunks (no node_modules needed); its bin
//                        entries all point at dist/npm/slurmpipe.mjs.
//   dist/slurmpipe.cjs   every command in one standalone CommonJS file, for the executable;
//   with --sea: dist/slurmpipe-linux-x64, a Node single-executable application embedding it.
// CommonJS because Node 20's single-executable applications run a CommonJS main script only.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { manPage } from "./man.mjs";
import { jobRunnerSource, lazyBuiltins, localHostSource, parseWorkerSource, zodEnglishOnly } from "../../scripts/bundle-plugins.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const packages = resolve(here, "..");
export const COMMANDS = ["sweep-gen", "slurm-render", "slurm-submit", "slurm-poll", "log-parse", "summary-md", "archive"];
const pkg = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));

/**
 * Each command's src/cli.ts ends in `await runCommand({...})`, run when the module loads; top-level
 * await has no CommonJS form, so here that statement becomes `export const main = () => runCommand(...)`,
 * called by the dispatcher. The command packages stay as they are (none imports another).
 */
const cliAsMain = {
  name: "cli-as-main",
  setup(b) {
    b.onLoad({ filter: /[\\/]packages[\\/][a-z-]+[\\/]src[\\/]cli\.ts$/ }, (args) => {
      const text = readFileSync(args.path, "utf8");
      if (!/^await runCommand\(/m.test(text)) return { errors: [{ text: `${args.path}: no top-level \`await runCommand(\`` }] };
      return { contents: text.replace(/^await runCommand\(/m, "export const main = () => runCommand("), loader: "ts" };
    });
  },
};

/**
 * The job runner (core's src/local/runner-process.ts) is a script with top-level await too: its
 * one-line imports stay, and the rest becomes the body of `export async function main()`.
 */
const runnerAsMain = {
  name: "runner-as-main",
  setup(b) {
    b.onLoad({ filter: /[\\/]core[\\/]src[\\/]local[\\/]runner-process\.ts$/ }, (args) => {
      const lines = readFileSync(args.path, "utf8").split("\n");
      const imports = lines.filter((l) => /^import .* from "[^"]+";$/.test(l));
      const body = lines.filter((l) => !/^import .* from "[^"]+";$/.test(l));
      if (body.some((l) => /^(import|export)\b/.test(l))) return { errors: [{ text: `${args.path}: an import or export the wrapper cannot keep at top level` }] };
      return { contents: `${imports.join("\n")}\nexport async function main() {\n${body.join("\n")}\n}\n`, loader: "ts" };
    });
  },
};

const entry = [
  'import { dispatch } from "./src/dispatch.ts";',
  "dispatch({",
  ...COMMANDS.map((c) => `  ${JSON.stringify(c)}: () => import(${JSON.stringify(join(packages, c, "src/cli.ts"))}),`),
  `}, async () => (await import(${JSON.stringify(join(packages, "core/src/local/runner-process.ts"))})).main()).catch((e) => { console.error(e); process.exit(1); });`,
].join("\n");

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) await buildAll();

async function buildAll() {
mkdirSync(join(here, "dist"), { recursive: true });
const out = join(here, "dist/slurmpipe.cjs");
await build({
  stdin: { contents: entry, resolveDir: here, sourcefile: "slurmpipe-entry.ts", loader: "ts" },
  outfile: out,
  platform: "node",
  target: "node20",
  format: "cjs",
  bundle: true,
  minify: true,
  legalComments: "none",
  logLevel: "warning",
  // The commands are ESM sources: import.meta.url names this file.
  define: { "import.meta.url": "__spImportMetaUrl", "process.env.SLURMPIPE_VERSION": JSON.stringify(pkg.version) },
  banner: { js: '#!/usr/bin/env node\nconst __spImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
  loader: { ".yaml": "text", ".md": "text" },
  plugins: [cliAsMain, runnerAsMain, jobRunnerSource, localHostSource, parseWorkerSource, zodEnglishOnly, lazyBuiltins],
});

// One man page per command (and slurmpipe's), from the built file's own --help.
mkdirSync(join(here, "dist/man"), { recursive: true });
for (const command of ["slurmpipe", ...COMMANDS]) {
  const args = command === "slurmpipe" ? ["--help"] : [command, "--help"];
  const help = execFileSync(process.execPath, [out, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1", COLUMNS: "80" } });
  writeFileSync(join(here, `dist/man/${command}.1`), manPage(command, help, pkg.version));
}

// The npm package: the same entry as ES modules split into chunks (dist/npm/), as each command's
// dist/cli.mjs is, so a command loads its own code only; node never reads the other six. (The
// single executable cannot load files beside it: it keeps the one CommonJS file.)
const npmDir = join(here, "dist/npm");
rmSync(npmDir, { recursive: true, force: true });
await build({
  stdin: { contents: entry, resolveDir: here, sourcefile: "slurmpipe-entry.ts", loader: "ts" },
  outdir: npmDir,
  entryNames: "slurmpipe",
  outExtension: { ".js": ".mjs" },
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  platform: "node",
  target: "node20",
  format: "esm",
  bundle: true,
  minify: true,
  legalComments: "none",
  logLevel: "warning",
  define: { "process.env.SLURMPIPE_VERSION": JSON.stringify(pkg.version) },
  banner: { js: ['#!/usr/bin/env node', 'import { createRequire as __spCreateRequire } from "node:module";', "const require = __spCreateRequire(import.meta.url);"].join("\n") },
  loader: { ".yaml": "text", ".md": "text" },
  plugins: [cliAsMain, runnerAsMain, jobRunnerSource, localHostSource, parseWorkerSource, zodEnglishOnly, lazyBuiltins],
});
chmodSync(join(npmDir, "slurmpipe.mjs"), 0o755);

if (process.argv.includes("--sea")) {
  // https://nodejs.org/docs/latest-v20.x/api/single-executable-applications.html
  const blob = join(here, "dist/sea-prep.blob");
  const config = join(here, "dist/sea-config.json");
  // useCodeCache: V8's code for slurmpipe.cjs goes into the blob; a start skips compiling it (bench 4).
  writeFileSync(config, JSON.stringify({ main: out, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }));
  execFileSync(process.execPath, ["--experimental-sea-config", config], { stdio: "inherit" });
  const exe = join(here, "dist/slurmpipe-linux-x64");
  copyFileSync(process.execPath, exe);
  const postject = join(here, "node_modules/postject/dist/cli.js");
  execFileSync(process.execPath, [postject, exe, "NODE_SEA_BLOB", blob, "--sentinel-fuse", "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2"], { stdio: "inherit" });
}
}
