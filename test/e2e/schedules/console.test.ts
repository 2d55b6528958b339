/**
 * The acceptance path from the console: `/schedule add "*\/1 * * * *" /dice 1d6` fires every minute through the
 * real bot (default plugins: the dice skill runs in its isolate) and `/schedule list` shows it in words with its
 * next run. Once the bot is up, its clock is the real one shifted so that a minute boundary is three seconds away.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { createApp, type App } from "../../../bot/app/app.ts";
import { createLogger } from "../../../bot/logger.ts";
import { parseConfig } from "../../../config/index.ts";

const dir = mkdtempSync(join(tmpdir(), "sb-schedules-console-"));
let app: App | undefined;
afterAll(async () => {
  await app?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("schedules from the console", () => {
  it("fires /dice 1d6 every minute and lists it in words with its next run", async () => {
    let offset = 0;
    const clock = { now: () => Date.now() + offset };
    const input = new PassThrough();
    const output = new PassThrough();
    let text = "";
    output.on("data", (c: Buffer) => (text += c.toString("utf8")));
    app = await createApp({
      config: parseConfig({
        bot: { dataDir: join(dir, "data") },
        http: { enabled: false },
        log: { level: "silent" },
        schedules: { defaultTimeZone: "UTC" },
      }),
      log: createLogger({ level: "silent", format: "json" }),
      clock,
      console: { input, output, interactive: false },
      platformAdapters: false,
      exitOnConsoleEnd: false,
    });
    await app.start();
    const realNow = Date.now();
    offset = (Math.ceil(realNow / 60_000) + 1) * 60_000 - 3_000 - realNow;
    const waitFor = async (re: RegExp, timeoutMs: number) => {
      const until = Date.now() + timeoutMs;
      while (!re.test(text) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      return re.exec(text);
    };
    input.write('/schedule add "*/1 * * * *" /dice 1d6\n');
    expect(await waitFor(/Scheduled #\d+ Every minute/, 20_000)).not.toBeNull();
    const boundary = Math.ceil(clock.now() / 60_000) * 60_000;
    // The fire at the boundary: the dice answer arrives in the console as an unprompted message.
    const waitMs = boundary - clock.now() + 20_000;
    expect(await waitFor(/🎲 1d6: \d/, waitMs), text).not.toBeNull();
    input.write("/schedule list\n");
    const listed = await waitFor(
      /- #\d+ Every minute \(`?\*\/1 \* \* \* \*`?\), UTC: `?\/dice 1d6`? — next (\d{4}-\d{2}-\d{2} \d{2}:\d{2}); last: ok/,
      20_000,
    );
    expect(listed, text).not.toBeNull();
    const next = new Date(`${listed![1]!.replace(" ", "T")}:00Z`).getTime();
    expect(next).toBe(boundary + 60_000);
  }, 90_000);
});
