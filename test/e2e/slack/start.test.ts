/** `switchboard start` with a Slack token (Socket Mode, API URL at the stand-in) serves Slack next to the console. */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandPayload } from "../../stand-ins/slack/sender.ts";
import { SlackStandIn } from "../../stand-ins/slack/server.ts";

const ROOT = resolve(import.meta.dirname, "../../..");

describe("switchboard start with Slack configured", () => {
  let dir: string;
  let standIn: SlackStandIn;
  let child: ChildProcessWithoutNullStreams;
  let stdout = "";
  let stderr = "";

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sb-slack-start-"));
    standIn = await new SlackStandIn({ socketPingIntervalMs: 500 }).start();
    child = spawn(process.execPath, [join(ROOT, "bin/switchboard.js"), "start"], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? dir,
        SWITCHBOARD_HTTP__PORT: "0",
        SWITCHBOARD_DATA_DIR: join(dir, "data"),
        LOG_LEVEL: "warn",
        SLACK_BOT_TOKEN: standIn.botToken,
        SLACK_APP_TOKEN: standIn.appToken,
        SLACK_API_URL: standIn.apiUrl,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
  });

  afterAll(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once("close", r));
      child.kill("SIGTERM");
      await exited;
    }
    await standIn.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it("answers a Slack slash command over Socket Mode and the console at the same time", async () => {
    await standIn.waitFor(() => standIn.openSockets === 1, 90_000, `a socket connection (stderr: ${stderr})`);
    standIn.deliver("slash_commands", commandPayload({ command: "/whoami", channel_id: "CSTART001" }));
    await standIn.waitFor(() => standIn.messagesIn("CSTART001").length === 1, 20_000, "the Slack reply");
    expect(standIn.messagesIn("CSTART001")[0]!.text).toContain("Platform: slack");
    child.stdin.write("/whoami\n");
    for (let waitedMs = 0; !stdout.includes("Platform: console") && waitedMs < 20_000; waitedMs += 50)
      await new Promise((r) => setTimeout(r, 50));
    expect(stdout).toContain("Platform: console");
    expect(stderr).not.toMatch(/ERROR|FATAL/);
  }, 120_000);
});
