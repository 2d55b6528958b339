/**
 * A listening skill from the operator's console, through the real CLI: `switchboard skills link` shows that it sees
 * every message, and `switchboard start` with lines on stdin: the skill hears a plain line, its crash on another
 * reaches the log and not the chat, and every command line is answered.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSwitchboard } from "../../helpers/spawn-bot.ts";

const ROOT = resolve(import.meta.dirname, "../../..");
const FIXTURE = join(ROOT, "test/fixtures/skills/listener");

const CLI = join(ROOT, "bin", "switchboard.js");
const run = runSwitchboard;

describe("a listening skill from the console", () => {
  let dir: string;
  let config: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "sb-console-listen-"));
    config = join(dir, "switchboard.config.yaml");
    writeFileSync(
      config,
      `bot:\n  dataDir: ${join(dir, "data")}\nhttp:\n  enabled: false\nlog:\n  level: warn\n  format: json\n`,
    );
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("hears a plain line, keeps its crash in the log, and answers every command", async () => {
    const linked = await run(["-c", config, "skills", "link", FIXTURE], "", dir);
    expect(linked.code, linked.err).toBe(0);
    expect(linked.out).toContain("sees every message in this chat");
    const child = spawn(process.execPath, [CLI, "-c", config, "start"], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "", HOME: dir, SWITCHBOARD_SECRET_KEY: "console-test" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (err += c.toString("utf8")));
    const closed = new Promise<number | null>((done) => child.on("close", done));
    const until = async (what: string, check: () => boolean): Promise<void> => {
      const end = Date.now() + 30_000;
      while (!check()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      // The command is answered; the listener that saw the same line crashes after it, into the log only.
      child.stdin.write("/heard deploy crash\n");
      await until("the command's answer", () => out.includes("heard nothing"));
      await until("the crash in the log", () => err.includes("skill invocation stopped"));
      child.stdin.write("deploy one\n");
      await until("the listener's answer", () => out.includes("Heard a deploy of one (event/message)"));
      child.stdin.write("/heard\n");
      await until("the record", () => out.includes("heard: message one from operator"));
    } finally {
      child.stdin.end();
    }
    expect(await closed, err).toBe(0);
    expect(out).not.toContain("crashed on purpose");
    const stopped = err.split("\n").filter((l) => l.includes("skill invocation stopped"));
    expect(stopped.some((l) => l.includes('"handler":"message"') && l.includes("crashed on purpose"))).toBe(true);
  }, 120_000);
});
