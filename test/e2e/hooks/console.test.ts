/**
 * Hooks from the console: `/hooks add` answers the URL and secret there (the console has no DM, and it says so),
 * and a signed Grafana alert posted to the hook is printed in the console, rendered, with its panel link.
 */
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signTimestamped } from "../../../hooks/index.ts";
import { type HooksBot, postHook, startHooksBot } from "./bot.ts";

describe("hooks in the console", { timeout: 60_000 }, () => {
  let bot: HooksBot;
  const input = new PassThrough();
  const output = new PassThrough();
  let printed = "";
  output.on("data", (d: Buffer) => {
    printed += d.toString();
  });
  const waitPrinted = async (pattern: RegExp, what: string) => {
    const deadline = Date.now() + 10_000;
    while (!pattern.test(printed)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; printed:\n${printed}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  beforeAll(async () => {
    bot = await startHooksBot({}, { input, output });
  });
  afterAll(() => bot?.stop());

  it("answers the secret in the console, saying it has no DM, and prints a signed Grafana alert", async () => {
    input.write("/hooks add panels --template grafana\n");
    await waitPrinted(/Secret: \S+/, "the secret");
    expect(printed).toContain("The console has no direct messages");
    const id = /\/hooks\/([A-Za-z0-9_-]+)/.exec(printed)![1]!;
    const secret = /Secret: (\S+)/.exec(printed)![1]!;
    const body = JSON.stringify({
      status: "firing",
      title: "[FIRING:1] Disk full",
      alerts: [
        {
          status: "firing",
          labels: { alertname: "DiskFull", host: "db-1" },
          annotations: { summary: "disk 97% on db-1 @everyone" },
          valueString: "[ var='A' value=97 ]",
          panelURL: "https://grafana.example/d/abc?viewPanel=2",
        },
      ],
    });
    const res = await postHook(bot, { id, body, headers: signTimestamped(secret, body, Date.now()) });
    expect(res.status).toBe(202);
    await waitPrinted(/Disk full/, "the alert");
    const alert = printed.slice(printed.indexOf("Disk full") - 20);
    expect(alert).toContain("disk 97% on db-1");
    expect(alert).toContain("https://grafana.example/d/abc?viewPanel=2");
    expect(alert).toContain("@\u200beveryone");
  });
});
