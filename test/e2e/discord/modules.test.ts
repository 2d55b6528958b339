/**
 * The Discord adapter loads the discord.js project's gateway and REST packages, never discord.js itself: its
 * `Client` (caches and handlers the adapter does not use, and a copy of undici of its own) cost about 0.25 s of
 * CPU at every start with Discord configured (docs/architecture.md, start by phase).
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../../..");

describe("Discord adapter modules", () => {
  it("imports @discordjs/ws and @discordjs/rest, and not discord.js", () => {
    const script = `
      import { registerHooks } from "node:module";
      const seen = new Set();
      registerHooks({ resolve(specifier, context, next) {
        if (/^(discord\\.js|@discordjs\\/[^/]+)(\\/|$)/.test(specifier)) seen.add(specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/"));
        return next(specifier, context);
      } });
      await import(${JSON.stringify(resolve(ROOT, "adapters/discord/index.ts"))});
      console.log(JSON.stringify([...seen].sort()));
    `;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 90_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const loaded = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as string[];
    expect(loaded).toContain("@discordjs/ws");
    expect(loaded).toContain("@discordjs/rest");
    expect(loaded).not.toContain("discord.js");
  }, 120_000);
});
