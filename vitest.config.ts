import { existsSync } from "node:fs";
import { defineConfig } from "vitest/config";

// The network guard (test/helpers/network-guard.ts) fails any non-loopback connection from a test.
const setupFiles = ["test/helpers/network-guard.ts"].filter((f) => existsSync(f));

// The skill SDK workspace resolves to its TypeScript sources in tests, as it does for npm scripts (.npmrc): in
// this process's resolver, and in every child process a test starts.
const SOURCE_CONDITION = "switchboard-source";
if (!(process.env.NODE_OPTIONS ?? "").includes(`--conditions=${SOURCE_CONDITION}`))
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --conditions=${SOURCE_CONDITION}`.trim();

export default defineConfig({
  resolve: { conditions: [SOURCE_CONDITION, "module", "node", "development|production"] },
  ssr: { resolve: { conditions: [SOURCE_CONDITION, "module", "node", "development|production"] } },
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
