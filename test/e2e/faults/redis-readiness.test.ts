/** `/readyz` follows Redis: 503 with the reason while it does not answer, 200 again once it does. */
import { afterAll, describe, expect, it } from "vitest";
import { startTestBot, type TestBot } from "../../helpers/app.ts";
import { redisProxy } from "../../helpers/redis-proxy.ts";

async function readyz(bot: TestBot): Promise<{ status: number; reasons: string[] }> {
  const { port } = bot.app.httpAddress()!;
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, reasons: ((await res.json()) as { reasons: string[] }).reasons };
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

describe("readiness with Redis", () => {
  let bot: TestBot | undefined;
  let proxy: Awaited<ReturnType<typeof redisProxy>> | undefined;
  afterAll(async () => {
    await bot?.stop();
    await proxy?.close();
  });

  it("is 503 naming Redis while Redis does not answer, and 200 again after", async () => {
    proxy = await redisProxy();
    bot = await startTestBot({ set: { "storage.redisUrl": `redis://127.0.0.1:${proxy.port}` } });
    expect((await readyz(bot)).status).toBe(200);
    proxy.cut();
    let last = { status: 0, reasons: [] as string[] };
    expect(
      await until(async () => {
        last = await readyz(bot!);
        return last.status === 503;
      }, 20_000),
    ).toBe(true);
    expect(last.reasons.join("; ")).toMatch(/redis is down/);
    proxy.restore();
    expect(await until(async () => (await readyz(bot!)).status === 200, 30_000)).toBe(true);
  }, 120_000);
});
