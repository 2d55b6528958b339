/**
 * From the operator's console, through the real CLI: `switchboard skills link` a hostile fixture, then
 * `switchboard start` with commands on stdin. Built-in skills answer, /help lists skill commands, and the hostile
 * skill is contained, reported in the chat and the log, while the bot goes on.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSwitchboard } from "../../helpers/spawn-bot.ts";

const ROOT = resolve(import.meta.dirname, "../../..");

const run = runSwitchboard;

describe("skills from the console", () => {
  let dir: string;
  let config: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "sb-console-skills-"));
    config = join(dir, "switchboard.config.yaml");
    writeFileSync(
      config,
      `bot:\n  dataDir: ${join(dir, "data")}\nhttp:\n  enabled: false\nlog:\n  level: warn\n  format: json\n`,
    );
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("links a skill folder after checking it, and refuses an invalid one", async () => {
    const linked = await run(["-c", config, "skills", "link", join(ROOT, "test/fixtures/skills/hostile")], "", dir);
    expect(linked.code, linked.err).toBe(0);
    expect(linked.out).toContain("linked hostile@1.0.0");
    expect(JSON.parse(readFileSync(join(dir, "data", "skills-linked.json"), "utf8"))).toEqual({
      paths: [join(ROOT, "test/fixtures/skills/hostile")],
    });
    const bad = await run(["-c", config, "skills", "link", join(ROOT, "test/fixtures/skills/bad-manifest")], "", dir);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain("switchboard.entry");
    const list = await run(["-c", config, "skills", "linked"], "", dir);
    expect(list.out.trim()).toBe(join(ROOT, "test/fixtures/skills/hostile"));
  }, 120_000);

  it("answers /dice 2d6, lists skill commands in /help, and contains a linked hostile skill", async () => {
    const result = await run(
      ["-c", config, "start"],
      "/dice 2d6\n/help\n/evil loop\n/evil ok\n/evil probe\n/dice 1d6\n",
      dir,
    );
    expect(result.code, result.err).toBe(0);
    const lines = result.out.split("\n");
    expect(lines.find((l) => l.includes("2d6:"))).toMatch(/🎲 2d6: \d \+ \d = \*?\*?\d+/);
    expect(result.out).toMatch(/\/dice — Roll dice/);
    expect(result.out).toMatch(/\/poll — /);
    expect(result.out).toMatch(/\/evil — /);
    expect(result.out).toContain("The skill hostile went over its CPU time limit and was stopped.");
    expect(result.out).toContain("still here");
    expect(result.out).toContain('"process":"undefined"');
    expect(lines.find((l) => l.includes("1d6:"))).toMatch(/1d6: \d/);
    // Reported in the log as well (stderr, JSON lines).
    const stopped = result.err.split("\n").filter((l) => l.includes("skill invocation stopped"));
    expect(stopped.length).toBeGreaterThanOrEqual(1);
    expect(stopped[0]).toContain('"failure":"cpu"');
  }, 180_000);
});
