import { existsSync } from "node:fs";
import { defineConfig } from "vitest/config";

// The network guard (test/helpers/network-guard.ts) fails any non-loopback connection from a test.
const setupFiles = ["test/helpers/network-guard.ts"].filter((f) => existsSync(f));

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["node_modules/**", "test/fixtures/**", "test/bench/**", "test/stand-ins/**"],
    setupFiles,
    // Shared, noisy 2-core machines: generous timeouts, a bounded number of workers.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 3,
  },
});
