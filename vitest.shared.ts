// Shared vitest settings: tests import @slurmpipe/core from source, so a change in core is
// seen by every package's tests without a rebuild.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export const coreSource = fileURLToPath(new URL("./packages/core/src/index.ts", import.meta.url));

export default defineConfig({
  resolve: { alias: { "@slurmpipe/core": coreSource } },
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    testTimeout: 20_000,
    pool: "forks",
  },
});
