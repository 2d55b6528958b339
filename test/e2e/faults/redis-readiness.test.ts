/** `/readyz` follows Redis: 503 with the reason while it does not answer, 200 again once it does. */
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { startTestBot, type TestBot } from "../../helpers/app.ts";

/** A TCP proxy to the shared Redis that the test can cut and restore (never the shared server itself). */
async function redisProxy(): Promise<{ port: number; cut(): void; restore(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let isCut = false;
  const server: Server = createServer((client) => {
    if (isCut) return void client.destroy();
    const upstream = connect(6379, "127.0.0.1");
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    cut() {
      isCut = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      isCut = false;
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

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
