/**
 * /link from the console: the real console adapter (its line reader on a stream) and a second platform in the
 * same bot. The operator is the bot owner at the console; once linked, their identity elsewhere is too.
 */
import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { startTestBot, type TestBot } from "../../helpers/app.ts";

let bot: TestBot | undefined;

afterEach(async () => {
  await bot?.stop();
  bot = undefined;
});

describe("/link at the console", () => {
  it("gives a code at the console that links the operator's identity on another platform", async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let printed = "";
    output.on("data", (d: Buffer) => {
      printed += d.toString();
    });
    bot = await startTestBot({ console: { input, output, interactive: false }, exitOnConsoleEnd: false });
    input.write("/link\n");
    await expect.poll(() => /Your link code is (\d{6})/.exec(printed)?.[1]).toBeDefined();
    const code = /Your link code is (\d{6})/.exec(printed)![1]!;
    const { router } = bot.app.core;
    await router.process(bot.adapter.inbound("/whoami", { userId: "op-elsewhere" }));
    expect(bot.adapter.textsIn().at(-1)).toMatch(/Role here: \*\*guest\*\*/);
    await router.process(bot.adapter.inbound(`/link ${code}`, { userId: "op-elsewhere" }));
    expect(bot.adapter.textsIn().at(-1)).toBe(
      "Linked: console:operator, test:op-elsewhere are one person now. /unlink undoes it.",
    );
    await router.process(bot.adapter.inbound("/whoami", { userId: "op-elsewhere" }));
    expect(bot.adapter.textsIn().at(-1)).toMatch(/Role here: \*\*owner\*\*/);
    input.write("/whoami\n");
    await expect.poll(() => printed).toContain("Linked with: test:op-elsewhere");
    input.end();
  });

  it("refuses a code after 10 minutes", async () => {
    let now = Date.UTC(2026, 0, 1);
    const input = new PassThrough();
    const output = new PassThrough();
    let printed = "";
    output.on("data", (d: Buffer) => {
      printed += d.toString();
    });
    bot = await startTestBot({
      console: { input, output, interactive: false },
      exitOnConsoleEnd: false,
      clock: { now: () => now },
    });
    input.write("/link\n");
    await expect.poll(() => /Your link code is (\d{6})/.exec(printed)?.[1]).toBeDefined();
    const code = /Your link code is (\d{6})/.exec(printed)![1]!;
    now += 10 * 60_000 + 1;
    await bot.app.core.router.process(bot.adapter.inbound(`/link ${code}`, { userId: "late" }));
    expect(bot.adapter.textsIn().at(-1)).toMatch(/unknown or has expired/);
    input.end();
  });
});
