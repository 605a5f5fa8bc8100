import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { coreAliases } from "../vitest.shared.ts";

// Cross-package tests: pipelines of the BUILT commands (dist/cli.mjs) against the local Slurm
// (scripts/slurm-dev up). Run with `pnpm test:integration` after `pnpm build`.
export default defineConfig({
  root: fileURLToPath(new URL("..", import.meta.url)),
  resolve: { alias: coreAliases },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: "forks",
    // Two files at a time: most of a test's time is spent waiting for jobs, and the cluster has
    // 16 slots. The controller-outage chaos test stops slurmctld, so package.json runs it alone
    // after the others.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
