import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { memoryStore } from "../../../bot/storage/open.ts";
import type { Store } from "../../../bot/storage/types.ts";
import { secretBox } from "../../../hooks/secrets.ts";
import { DeliveryRepo, HOOKS_MIGRATIONS } from "../../../hooks/store.ts";

describe("hook secrets at rest", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("seal and open with the configured key; another key cannot open them", () => {
    const box = secretBox({ secretKey: "ab".repeat(32), dataDir: "/nonexistent", isShared: true });
    const sealed = box.seal("top secret");
    expect(sealed).not.toContain("top secret");
    expect(box.open(sealed)).toBe("top secret");
    expect(box.seal("top secret")).not.toBe(sealed); // a fresh IV each time
    const other = secretBox({ secretKey: "cd".repeat(32), dataDir: "/nonexistent", isShared: true });
    expect(() => other.open(sealed)).toThrow();
  });

  it("keep a generated key in the data folder (0600) for the embedded store, and require one with PostgreSQL", () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-hooks-key-"));
    dirs.push(dir);
    const sealed = secretBox({ secretKey: undefined, dataDir: dir, isShared: false }).seal("x");
    expect(statSync(join(dir, "hooks.key")).mode & 0o777).toBe(0o600);
    expect(secretBox({ secretKey: undefined, dataDir: dir, isShared: false }).open(sealed)).toBe("x");
    expect(() => secretBox({ secretKey: undefined, dataDir: dir, isShared: true }).seal("x")).toThrow(
      /hooks.secretKey is required/,
    );
    expect(() => secretBox({ secretKey: "short", dataDir: dir, isShared: false })).toThrow(/32 bytes/);
  });
});

describe("the delivery queue", () => {
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
  });

  const item = (deliveryId: string) => ({
    hookId: "h1",
    deliveryId,
    payload: "{}",
    meta: {},
    at: 1_000,
    leaseUntil: 31_000,
  });

  it("queues each delivery id once, also when repeated inside one commit", async () => {
    store = await memoryStore();
    await store.migrate(HOOKS_MIGRATIONS);
    const repo = new DeliveryRepo(store.sql);
    const [a, b, c] = await Promise.all([repo.enqueue(item("x")), repo.enqueue(item("x")), repo.enqueue(item("y"))]);
    expect(a?.deliveryId).toBe("x");
    expect(b).toBeUndefined();
    expect(c?.deliveryId).toBe("y");
    expect(await repo.enqueue(item("x"))).toBeUndefined();
    expect(await repo.queued()).toBe(2);
  });

  it("leaves leased deliveries to their process, and hands out due retries and expired leases", async () => {
    store = await memoryStore();
    await store.migrate(HOOKS_MIGRATIONS);
    const repo = new DeliveryRepo(store.sql);
    const d = await repo.enqueue(item("z"));
    expect(await repo.claim({ now: 2_000, leaseUntil: 40_000, limit: 10 })).toEqual([]);
    const claimed = await repo.claim({ now: 32_000, leaseUntil: 62_000, limit: 10 });
    expect(claimed.map((x) => x.id)).toEqual([d!.id]);
    await repo.markSent(d!.id, 33_000);
    expect(await repo.queued()).toBe(0);
    await repo.markFailed(d!.id, { error: "boom", nextAt: 40_000, at: 34_000 });
    expect(await repo.claim({ now: 39_000, leaseUntil: 70_000, limit: 10 })).toEqual([]);
    expect((await repo.claim({ now: 40_000, leaseUntil: 70_000, limit: 10 })).map((x) => x.attempts)).toEqual([1]);
    expect(await repo.prune(50_000)).toBe(0); // still queued: never pruned
  });
});
