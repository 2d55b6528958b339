/** `switchboard start` with a Telegram token (API root at the stand-in) serves commands next to the console. */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TelegramStandIn } from "../../stand-ins/telegram/server.ts";

describe("switchboard start with Telegram configured", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "sb-telegram-cli-"));
  let child: ChildProcess | undefined;
  let standIn: TelegramStandIn | undefined;

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((r) => child!.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    await standIn?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("answers /help on Telegram and on the console", async () => {
    standIn = await TelegramStandIn.start();
    child = spawn(join(process.cwd(), "node_modules/.bin/node"), ["bin/switchboard.js", "start"], {
      cwd: process.cwd(),
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? tmpdir(),
        TELEGRAM_BOT_TOKEN: standIn.token,
        TELEGRAM_API_ROOT: standIn.apiRoot,
        SWITCHBOARD_DATA_DIR: dataDir,
        SWITCHBOARD_HTTP__PORT: "0",
        SWITCHBOARD_ADAPTERS__TELEGRAM__POLL_TIMEOUT_SECONDS: "1",
        SWITCHBOARD_REGISTRY: "http://127.0.0.1:9/",
        LOG_LEVEL: "warn",
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (out += c.toString()));

    await standIn.waitFor(() => standIn!.callsOf("getUpdates").length > 0, 90_000, "the bot to start polling");
    standIn.queueMessage({ chatId: 61, userId: 61, text: "/help" });
    await standIn.waitFor(() => standIn!.messagesIn(61).length === 1, 30_000, "the Telegram reply");
    expect(standIn.messagesIn(61)[0]!.text).toContain("Commands you can run here");
    // The command menu goes out once the plugins have started, side by side with the first replies.
    await standIn.waitFor(() => standIn!.callsOf("setMyCommands").length >= 1, 30_000, "the command menu");

    child.stdin!.write("/help\n");
    const deadline = Date.now() + 30_000;
    while (!out.includes("Commands you can run here") && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(out).toContain("Commands you can run here");
  }, 180_000);
});
