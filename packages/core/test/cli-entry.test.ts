import { fileURLToPath } from "node:url";
import * as coreEntry from "@slurmpipe/core";
import * as cliEntry from "@slurmpipe/core/cli";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

// `@slurmpipe/core/cli` is what every command's --help evaluates: it must stay free of zod,
// execa and the local backend, and share its classes with the main entry (instanceof checks
// in runCommand see errors thrown by library code).
describe("@slurmpipe/core/cli", () => {
  it("exports the same objects as @slurmpipe/core", () => {
    const cli: Record<string, unknown> = { ...cliEntry };
    const core: Record<string, unknown> = { ...coreEntry };
    for (const name of ["runCommand", "exitCodeFor", "createLogger", "parseHumanDuration", "parseRate", "wordWrap", "UsageError", "InputError", "PipeClosedError"]) {
      expect(cli[name], name).toBeDefined();
      expect(cli[name], name).toBe(core[name]);
    }
  });

  it("imports yargs and nothing heavy", async () => {
    const entry = fileURLToPath(new URL("../src/cli/index.ts", import.meta.url));
    const result = await build({ entryPoints: [entry], bundle: true, write: false, metafile: true, platform: "node", format: "esm", packages: "external", logLevel: "silent" });
    const output = Object.values(result.metafile.outputs)[0]!;
    const externals = output.imports.filter((i) => i.external).map((i) => i.path);
    expect(externals.every((p) => p.startsWith("yargs") || p.startsWith("node:"))).toBe(true);
    expect(externals).toContain("yargs");
    const sources = Object.keys(output.inputs);
    expect(sources.some((s) => /schemas|local|runner|zod|execa/.test(s))).toBe(false);
  });
});
