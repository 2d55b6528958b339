import { afterEach, describe, expect, it } from "vitest";
import { startTelegram } from "../../stand-ins/telegram/harness.ts";

type Started = Awaited<ReturnType<typeof startTelegram>>;

describe("telegram polling recovery (adapter with a recording sink)", () => {
  let t: Started | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it("restarts a deaf poller on its own and then receives the update it missed, once", async () => {
    t = await startTelegram({ deafAfterMs: 1_500, watchdogIntervalMs: 200 });
    const { standIn, adapter, sink } = t;
    await standIn.waitFor(() => standIn.heldPolls > 0, 10_000, "a held poll");
    expect(standIn.deafenCurrentPolls()).toBeGreaterThan(0);
    const update = standIn.queueMessage({ chatId: 31, userId: 31, text: "/ping" });
    const inbound = await sink.waitFor(`telegram:${update.update_id}`, 15_000);
    expect(inbound.command?.name).toBe("ping");
    expect(adapter.health().detail).toMatch(/1 reconnect/);
    await new Promise((r) => setTimeout(r, 500));
    expect(sink.received.filter((i) => i.deliveryId === inbound.deliveryId)).toHaveLength(1);
  });

  it("keeps the offset across reconnects: updates before and after a drop each arrive exactly once", async () => {
    t = await startTelegram();
    const { standIn, sink } = t;
    const first = standIn.queueMessage({ chatId: 32, userId: 32, text: "/one" });
    await sink.waitFor(`telegram:${first.update_id}`);
    standIn.failNext("getUpdates", { kind: "drop" }, 2);
    const second = standIn.queueMessage({ chatId: 32, userId: 32, text: "/two" });
    const third = standIn.queueMessage({ chatId: 32, userId: 32, text: "/three" });
    await sink.waitFor(`telegram:${third.update_id}`, 15_000);
    await standIn.waitFor(() => standIn.pendingCount === 0, 15_000, "confirmation");
    const ids = sink.received.map((i) => i.deliveryId);
    expect(ids).toEqual([first, second, third].map((u) => `telegram:${u.update_id}`));
    const offsets = standIn.callsOf("getUpdates").map((c) => c.body.offset as number);
    expect(Math.max(...offsets)).toBe(third.update_id + 1);
  });

  it("goes down, not round in circles, when the token is refused", async () => {
    const { TelegramStandIn } = await import("../../stand-ins/telegram/server.ts");
    const { TelegramAdapter } = await import("../../../adapters/telegram/index.ts");
    const { testAdapterOptions, testDeps, RecordingSink } = await import("../../stand-ins/telegram/harness.ts");
    const standIn = await TelegramStandIn.start();
    const adapter = new TelegramAdapter({ ...testAdapterOptions(standIn), token: "999:wrong" }, testDeps());
    await expect(adapter.start(new RecordingSink().sink)).rejects.toThrow(/401|Unauthorized/);
    expect(adapter.health().state).toBe("down");
    await adapter.stop();
    await standIn.close();
  });
});
