/**
 * The inbound journal on the embedded store: durable dedupe across a restart, replay of what was not finished
 * with the replies marked sent skipped, events held while a store is down, and a failed send retried.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { Journal } from "../../../bot/journal/journal.ts";
import { JOURNAL_MIGRATIONS } from "../../../bot/journal/journal-sql.ts";
import { systemClock, type Inbound, type SendHooks, type Store } from "../../../bot/index.ts";
import { openStore } from "../../../bot/storage/open.ts";

const log = pino({ level: "silent" });
const dirs: string[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function open(dir: string): Promise<Store> {
  const store = await openStore({ dataDir: dir });
  await store.migrate(JOURNAL_MIGRATIONS);
  stores.push(store);
  return store;
}

/** A platform whose events are `{ text, replies }`: each handling sends `replies` replies, recorded in `sent`. */
function platform() {
  const sent: string[] = [];
  const handled: Inbound[] = [];
  let failNext = 0;
  const revive = (payload: { text: string }): Inbound => ({
    deliveryId: payload.text,
    platform: "test",
    chat: { id: payload.text, kind: "dm" },
    user: { id: "u", displayName: "u" },
    text: payload.text,
    receivedAt: Date.now(),
    async respond(reply, hooks?: SendHooks) {
      await hooks?.beforeSend?.();
      if (failNext > 0) {
        failNext--;
        throw new Error("platform unreachable");
      }
      sent.push(reply.text);
      return { platform: "test", chatId: payload.text, messageId: String(sent.length) };
    },
  });
  return {
    sent,
    handled,
    revive,
    failNext: (n: number) => {
      failNext = n;
    },
  };
}

function journal(store: Store, handle: (inbound: Inbound) => Promise<void>, isHeld = () => false): Journal {
  return new Journal({
    sql: store.sql,
    log,
    clock: systemClock,
    handle,
    isHeld,
    leaseMs: 30_000,
    retryMaxMs: 200,
    retentionMs: 600_000,
    maxEvents: 1_000,
  });
}

/** A router stand-in that answers each message with `n` replies, then settles it. */
function answering(n: number, p: ReturnType<typeof platform>) {
  return async (inbound: Inbound): Promise<void> => {
    p.handled.push(inbound);
    void (async () => {
      for (let i = 0; i < n; i++) await inbound.respond({ text: `${inbound.text}#${i}` }).catch(() => undefined);
      inbound.journal?.settle();
    })();
  };
}

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("inbound journal", () => {
  it("journals a delivery once, and still knows it after a restart, before the journal's start", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-journal-unit-"));
    dirs.push(dir);
    const p = platform();
    const first = journal(await open(dir), answering(1, p));
    first.attach("test", (e) => p.revive(e.payload as { text: string }));
    await first.start();
    await first.intake("test", [
      { deliveryId: "a", payload: { text: "a" } },
      { deliveryId: "a", payload: { text: "a" } },
    ]);
    await first.intake("test", [{ deliveryId: "a", payload: { text: "a" } }]);
    await until(() => p.sent.length === 1);
    await first.stop();
    await stores.pop()!.close();

    const again = journal(await open(dir), answering(1, p));
    again.attach("test", (e) => p.revive(e.payload as { text: string }));
    // Adapters take deliveries before the journal's start: the redelivery is known already.
    expect(await again.append("test", [{ deliveryId: "a", payload: { text: "a" } }])).toEqual([undefined]);
    await again.start();
    await new Promise((r) => setTimeout(r, 100));
    expect(p.sent).toEqual(["a#0"]);
    await again.stop();
  });

  it("knows a numbered delivery (Telegram's update_id) after a restart too", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-journal-unit-"));
    dirs.push(dir);
    const p = platform();
    const first = journal(await open(dir), answering(1, p));
    first.attach("test", (e) => p.revive(e.payload as { text: string }));
    await first.start();
    await first.intake("test", [{ deliveryId: "41", payload: { text: "n41" }, sequence: 41 }]);
    await until(() => p.sent.length === 1);
    await first.stop();
    await stores.pop()!.close();

    const again = journal(await open(dir), answering(1, p));
    again.attach("test", (e) => p.revive(e.payload as { text: string }));
    await again.start();
    const [redelivered, fresh] = await again.append("test", [
      { deliveryId: "41", payload: { text: "n41" }, sequence: 41 },
      { deliveryId: "42", payload: { text: "n42" }, sequence: 42 },
    ]);
    expect(redelivered).toBeUndefined();
    expect(fresh?.deliveryId).toBe("42");
    await again.stop();
  });

  it("replays an unfinished event at start and skips the replies already marked sent", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-journal-unit-"));
    dirs.push(dir);
    const p = platform();
    // The first process sends one of three replies and dies before settling.
    const first = journal(await open(dir), async (inbound) => {
      p.handled.push(inbound);
      await inbound.respond({ text: `${inbound.text}#0` });
    });
    first.attach("test", (e) => p.revive(e.payload as { text: string }));
    await first.start();
    await first.intake("test", [{ deliveryId: "b", payload: { text: "b" } }]);
    await until(() => p.sent.length === 1);
    await first.stop(); // its marks are written; the event stays open, as after a kill
    await stores.pop()!.close();

    const again = journal(await open(dir), answering(3, p));
    again.attach("test", (e) => p.revive(e.payload as { text: string }));
    await again.start();
    await until(() => p.sent.length === 3);
    expect(p.sent).toEqual(["b#0", "b#1", "b#2"]);
    expect(again.stats).toMatchObject({ replayed: 1, skippedReplies: 1 });
    await again.stop();
  });

  it("replays a batch claimed while a replay is running (an adapter attached late)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-journal-unit-"));
    dirs.push(dir);
    const p = platform();
    // The first process journals one event per platform and dies before handling either.
    const first = journal(await open(dir), async () => undefined);
    first.attach("a", (e) => p.revive(e.payload as { text: string }));
    first.attach("b", (e) => p.revive(e.payload as { text: string }));
    await first.start();
    await first.append("a", [{ deliveryId: "a1", payload: { text: "a1" } }]);
    await first.append("b", [{ deliveryId: "b1", payload: { text: "b1" } }]);
    await first.stop();
    await stores.pop()!.close();

    const store = await open(dir);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const again = journal(store, async (inbound) => {
      p.handled.push(inbound);
      if (inbound.text === "a1") await gate; // the replay pass waits here, as on a router at its bound
      inbound.journal?.settle();
    });
    again.attach("a", (e) => p.revive(e.payload as { text: string }));
    await again.start();
    await until(() => p.handled.length === 1);
    // Platform b comes up while the pass replaying a's event runs: its batch is claimed then.
    again.attach("b", (e) => p.revive(e.payload as { text: string }));
    const owners = async () =>
      (await store.sql.query<{ owner: string }>("SELECT owner FROM journal_open WHERE platform = 'b'")).rows;
    const deadline = Date.now() + 5_000;
    while ((await owners())[0]?.owner !== again.owner && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect((await owners())[0]?.owner).toBe(again.owner);
    release();
    await until(() => p.handled.length === 2);
    expect(p.handled.map((inbound) => inbound.text)).toEqual(["a1", "b1"]);
    await again.stop();
  });

  it("holds events while a store is down and dispatches them once it is back", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-journal-unit-"));
    dirs.push(dir);
    const p = platform();
    let isDown = true;
    const j = journal(await open(dir), answering(1, p), () => isDown);
    j.attach("test", (e) => p.revive(e.payload as { text: string }));
    await j.start();
    await j.intake("test", [
      { deliveryId: "c1", payload: { text: "c1" } },
      { deliveryId: "c2", payload: { text: "c2" } },
    ]);
    await new Promise((r) => setTimeout(r, 300));
    expect(p.sent).toEqual([]);
    isDown = false;
    await until(() => p.sent.length === 2);
    expect(p.sent.sort()).toEqual(["c1#0", "c2#0"]);
    await j.stop();
  });

  it("sends a reply again when its platform call failed, and only that one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-journal-unit-"));
    dirs.push(dir);
    const p = platform();
    const j = journal(await open(dir), answering(1, p));
    j.attach("test", (e) => p.revive(e.payload as { text: string }));
    await j.start();
    p.failNext(1);
    await j.intake("test", [{ deliveryId: "d", payload: { text: "d" } }]);
    await until(() => p.sent.length === 1);
    await new Promise((r) => setTimeout(r, 500));
    expect(p.sent).toEqual(["d#0"]);
    expect(p.handled).toHaveLength(2);
    await j.stop();
  });

  it("drops an event its adapter cannot read after a few attempts, and goes on with the others", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-journal-unit-"));
    dirs.push(dir);
    const p = platform();
    let attempts = 0;
    const j = journal(await open(dir), answering(1, p));
    j.attach("test", (e) => {
      const payload = e.payload as { text: string };
      if (payload.text === "poison") {
        attempts++;
        throw new Error("the SDK cannot read this");
      }
      return p.revive(payload);
    });
    await j.start();
    await j.intake("test", [{ deliveryId: "p", payload: { text: "poison" } }]);
    await until(() => attempts === 5, 10_000);
    await j.intake("test", [{ deliveryId: "e", payload: { text: "e" } }]);
    await until(() => p.sent.length === 1);
    await new Promise((r) => setTimeout(r, 800));
    expect(attempts).toBe(5);
    expect(p.sent).toEqual(["e#0"]);
    await j.stop();
  });
});
