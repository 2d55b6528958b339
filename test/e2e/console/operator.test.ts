/** The operator at the console, through the real `switchboard start` process: scripted runs and a terminal. */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runInTerminal, runPiped } from "./run.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sb-operator-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ESC = "\u001b";

describe("a scripted console run", () => {
  it("answers every one of 15 piped commands: the operator is not rate-limited", async () => {
    const input = Array.from({ length: 15 }, () => "/whoami\n").join("");
    const { code, stdout, stderr } = await runPiped({ args: ["start"], input, cwd: dir });
    expect(code).toBe(0);
    expect(stdout.match(/^Role here: owner$/gm)).toHaveLength(15);
    expect(stdout).not.toMatch(/slow down|too many/i);
    expect(stderr).not.toMatch(/E_RATE_LIMITED/);
  }, 180_000);

  it("renders Markdown as plain text when piped: no backticks, no asterisks, no escape codes", async () => {
    const { stdout } = await runPiped({ args: ["start"], input: "/whoami\n/help skills\n", cwd: dir });
    expect(stdout).toContain("User: operator (console:operator)");
    expect(stdout).toMatch(/^Role here: owner$/m);
    expect(stdout).toMatch(/^\/skills: Find/m);
    expect(stdout).not.toMatch(/[`*]/);
    expect(stdout).not.toContain(ESC);
  }, 180_000);

  it("asks for a skill's permissions and approves them with /skills approve and no id", async () => {
    const input = ["/skills disable httpcheck", "/skills enable httpcheck", "/skills approve", "/skills approve"]
      .map((line) => `${line}\n`)
      .join("");
    const { code, stdout } = await runPiped({ args: ["start"], input, cwd: dir });
    expect(code).toBe(0);
    expect(stdout).toContain("httpcheck is disabled in this chat.");
    expect(stdout).toMatch(/Enable httpcheck 1\.\d+\.\d+ in this chat\? It asks for:\n- fetch from /);
    expect(stdout).toMatch(/Approve with \/skills approve [0-9a-f]{10} \(valid \d+ min\)/);
    expect(stdout).toMatch(/httpcheck 1\.\d+\.\d+ is enabled in this chat\./);
    // The approval is used up: a second bare approve finds nothing.
    expect(stdout).toContain("You have nothing waiting for approval here.");
  }, 180_000);

  it("/status names each module once, with its state", async () => {
    const { stdout } = await runPiped({ args: ["start"], input: "/status\n", cwd: dir });
    expect(stdout).toMatch(/^- skills: ok — \d+ skill\(s\) loaded/m);
    expect(stdout).toMatch(/^- marketplace: ok — 0 installed skill\(s\) loaded; registry /m);
    expect(stdout).toMatch(/^- llm: off — no model configured$/m);
    expect(stdout).toMatch(/^- schedules: ok — 0 active in this process$/m);
    expect(stdout).not.toMatch(/(\w+): \1:/);
  }, 180_000);

  it("writes the log to log.file instead of stderr when one is set", async () => {
    const file = join(dir, "logs", "switchboard.log");
    const { code, stdout, stderr } = await runPiped({
      args: ["start"],
      input: "/whoami\n",
      cwd: dir,
      env: { LOG_FILE: file },
    });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Role here: owner$/m);
    expect(stderr).not.toMatch(/INFO/);
    expect(await readFile(file, "utf8")).toMatch(/INFO {2}switchboard started/);
  }, 180_000);
});

describe("the console in a terminal", () => {
  it("styles replies with ANSI and keeps info log lines out of the conversation", async () => {
    const { code, stdout } = await runInTerminal({
      args: ["start"],
      lines: [
        { send: "/whoami", until: /Role here/ },
        { send: "/status", until: /schedules: ok/ },
      ],
      cwd: dir,
      timeoutMs: 150_000,
    });
    expect(code).toBe(0); // Ctrl-D ended the input and the bot stopped by itself
    expect(stdout).toContain(`Role here: ${ESC}[1mowner${ESC}[22m`);
    expect(stdout).toContain(`(${ESC}[7mconsole:operator${ESC}[27m)`);
    expect(stdout).toMatch(/• llm: off — no model configured/);
    // In a pipe the same run logs at info ("switchboard started", "skill loaded"); here only warnings would show.
    expect(stdout).not.toMatch(/ INFO /);
    expect(stdout).not.toContain("**");
  }, 180_000);
});
