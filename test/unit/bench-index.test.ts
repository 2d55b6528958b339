import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BENCHES } from "../bench/run-all.ts";

const folder = new URL("../bench/", import.meta.url);
const HELPERS = ["base-tree", "baseline-http-listener", "hooks-load", "packed", "paired", "run-all"];

describe("the benchmark index", () => {
  const scripts = readdirSync(folder)
    .filter((f) => f.endsWith(".ts"))
    .map((f) => f.slice(0, -3))
    .filter((n) => !HELPERS.includes(n))
    .sort();
  const readme = readFileSync(new URL("README.md", folder), "utf8");
  const tableNames = [...readme.matchAll(/^\| `([a-z0-9-]+)`\s+\|/gm)].map((m) => m[1]!).sort();

  it("run-all lists every benchmark script in the folder, and only those", () => {
    expect(BENCHES.map((b) => b.name).sort()).toEqual(scripts);
  });

  it("the README's table names the same scripts", () => {
    expect(tableNames).toEqual(scripts);
  });
});
