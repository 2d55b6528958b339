/**
 * Loading the bot must not switch off V8's string fast paths. A library that subclasses `String` (the Redis
 * client behind `@keyv/redis` does) invalidates V8's StringWrapperToPrimitive protector for the whole process,
 * and string building on the per-message path (rendering, keys) then runs about 2.5 times slower. Such modules
 * are loaded only when their feature is configured; this checks the composition root and the CLI stay clean.
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../../..");

function protectorsInvalidatedBy(module: string, code = ""): string[] {
  const script = `await import(${JSON.stringify(resolve(ROOT, module))});${code}`;
  const run = spawnSync(process.execPath, ["--trace-protector-invalidation", "--input-type=module", "-e", script], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(run.status, run.stderr).toBe(0);
  return [...run.stdout.matchAll(/Invalidating protector cell (\w+)/g)].map((m) => m[1]!);
}

describe("V8 fast paths", () => {
  it("the probe sees a String subclass invalidate the protector", () => {
    expect(protectorsInvalidatedBy("bot/errors.ts", "class Verbatim extends String {} new Verbatim('x');")).toContain(
      "StringWrapperToPrimitive",
    );
  });

  it("loading the composition root and the CLI keeps string fast paths on", () => {
    expect(protectorsInvalidatedBy("bot/app/app.ts")).not.toContain("StringWrapperToPrimitive");
    expect(protectorsInvalidatedBy("bot/app/cli/main.ts")).not.toContain("StringWrapperToPrimitive");
  });

  it("an in-memory ephemeral store does not load the Redis client", () => {
    expect(
      protectorsInvalidatedBy(
        "bot/ephemeral.ts",
        "const m = await import(" + JSON.stringify(resolve(ROOT, "bot/ephemeral.ts")) + "); m.createEphemeral();",
      ),
    ).not.toContain("StringWrapperToPrimitive");
  });
});
