// Shared vitest settings: tests import @slurmpipe/core from source, so a change in core is
// seen by every package's tests without a rebuild.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export const coreSource = fileURLToPath(new URL("./packages/core/src/index.ts", import.meta.url));
export const coreCliSource = fileURLToPath(new URL("./packages/core/src/cli/index.ts", import.meta.url));

// Exact-match aliases: a plain "@slurmpipe/core" alias would also rewrite "@slurmpipe/core/cli"
// into ".../index.ts/cli".
export const coreAliases = [
  { find: /^@slurmpipe\/core$/, replacement: coreSource },
  { find: /^@slurmpipe\/core\/cli$/, replacement: coreCliSource },
];

export default defineConfig({
  resolve: { alias: coreAliases },
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    testTimeout: 20_000,
    pool: "forks",
  },
});
