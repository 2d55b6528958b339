import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunResult, runPiped } from "./run.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sb-console-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Run `switchboard <args>` as a user would, with `input` on stdin (the shared launcher in `run.ts`). */
function run(args: string[], input: string, env: Record<string, string> = {}): Promise<RunResult> {
  return runPiped({ args, input, cwd: dir, env });
}

describe("switchboard start with the console adapter", () => {
  it("answers /help and /whoami from piped input, then exits 0 at end of input", async () => {
    const { code, stdout, stderr } = await run(["start"], "/help\n/whoami\n");
    expect(stderr).not.toMatch(/ERROR|FATAL/);
    expect(code).toBe(0);
    expect(stdout).toMatch(/Commands you can run here[\s\S]*\/whoami — /);
    expect(stdout).toMatch(/Role here: owner/);
    expect(stdout.indexOf("Commands you can run here")).toBeLessThan(stdout.indexOf("Role here"));
  }, 120_000);

  it("keeps what the operator changed across runs in the data folder", async () => {
    await run(["start"], "/perms set status admin\n");
    const { stdout } = await run(["start"], "/audit\n");
    expect(stdout).toMatch(/console:operator perms\.set status/);
  }, 180_000);

  it("stops start-up with the bad key named when the config is invalid", async () => {
    const { code, stderr } = await run(["start"], "", { SWITCHBOARD_HTTP__PORT: "not-a-port" });
    expect(code).toBe(2);
    expect(stderr).toMatch(
      /Invalid configuration:\n {2}- http\.port: .*\(from environment SWITCHBOARD_HTTP__PORT\)\. Example: http\.port: 8080/,
    );
  }, 60_000);

  it("doctor masks tokens and says what each platform needs", async () => {
    const { code, stdout } = await run(["doctor"], "", {
      TELEGRAM_BOT_TOKEN: "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ",
      SLACK_BOT_TOKEN: "xoxb-1-2-3-secretsecret",
    });
    expect(stdout).not.toContain("ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    // An incomplete Slack set-up is a configuration error, named with what it needs.
    expect(stdout).toMatch(
      /adapters\.slack\.signingSecret: Slack HTTP mode needs signingSecret \(SLACK_SIGNING_SECRET\)/,
    );
    expect(code).toBe(1);
  }, 60_000);
});
