/**
 * The router scaled out: two bot processes on one PostgreSQL and one Redis. A policy change made in one process
 * reaches the other's cache at once (pub/sub), long before the cache's TTL; and one sender's inbound rate limit
 * is one budget across both processes, not one per process.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CachedPermissionService } from "../../../bot/router/permission-service.ts";
import { startTestBot, type TestBot } from "../../helpers/app.ts";
import { POSTGRES_URL, REDIS_URL, serviceAvailable } from "../../helpers/services.ts";
import { openStore } from "../../../bot/storage/open.ts";

const servicesUp = (await serviceAvailable("postgres")) && (await serviceAvailable("redis"));
const ROOT = join(import.meta.dirname, "../../..");
const LIMITS = {
  "limits.perUser": { burst: 6, perMinute: 0.001 },
  "limits.perChat": { burst: 1_000, perMinute: 1_000 },
};

/** A bot in a child process, driven line by line (`test/helpers/router-peer.ts`). */
class Peer {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;
  constructor(set: Record<string, unknown>) {
    this.#child = spawn(
      process.execPath,
      [
        join(ROOT, "test/helpers/router-peer.ts"),
        JSON.stringify({ databaseUrl: POSTGRES_URL, redisUrl: REDIS_URL, set }),
      ],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    this.#child.stderr.on("data", (chunk: Buffer) => process.stderr.write(chunk));
    this.#lines = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }
  async next(): Promise<Record<string, unknown>> {
    const { value, done } = await this.#lines.next();
    if (done) throw new Error("the peer process ended");
    return JSON.parse(value as string) as Record<string, unknown>;
  }
  async ask(line: string): Promise<Record<string, unknown>> {
    this.#child.stdin.write(`${line}\n`);
    return this.next();
  }
  async quit(): Promise<void> {
    const exited = new Promise((resolve) => this.#child.once("exit", resolve));
    this.#child.stdin.write("quit\n");
    await exited;
  }
}

describe.skipIf(!servicesUp)("two bot processes on PostgreSQL and Redis", () => {
  let bot: TestBot;
  let peer: Peer;
  beforeAll(async () => {
    const store = await openStore({ dataDir: "unused", databaseUrl: POSTGRES_URL });
    bot = await startTestBot({
      store,
      set: { "storage.databaseUrl": POSTGRES_URL, "storage.redisUrl": REDIS_URL, ...LIMITS },
    });
    peer = new Peer(LIMITS);
    expect(await peer.next()).toEqual({ ready: true });
  }, 60_000);
  afterAll(async () => {
    await peer?.quit();
    await bot?.stop();
    await bot?.app.core.store.close();
  });

  it("drops a changed policy from the other process's cache at once, long before its TTL", async () => {
    const chatKey = `test:policy-${randomUUID()}`;
    expect(bot.app.core.config.storage.policyCacheTtlMs).toBeGreaterThanOrEqual(600_000);
    // The other process caches "no policy" for the chat.
    expect(await peer.ask(`load ${chatKey}`)).toEqual({ policy: "none" });
    expect(await peer.ask(`peek ${chatKey}`)).toEqual({ peek: "none" });
    const permissions = bot.app.core.permissions as CachedPermissionService;
    await permissions.updatePolicy(chatKey, { actor: "test:boss", action: "test" }, (policy) => {
      policy.commandRoles.whoami = "admin";
    });
    // The notice travels through Redis: poll the other process's cache until it has dropped the chat.
    let seen: unknown = "none";
    for (let i = 0; i < 200 && seen === "none"; i++) {
      seen = (await peer.ask(`peek ${chatKey}`)).peek;
      if (seen === "none") await new Promise((r) => setTimeout(r, 25));
    }
    expect(seen).toBeNull(); // not cached any more: the next message reads the store
    const loaded = (await peer.ask(`load ${chatKey}`)).policy as { commandRoles: Record<string, string> };
    expect(loaded.commandRoles.whoami).toBe("admin");
    // The writer keeps what it wrote cached (its own notice does not drop it).
    expect(permissions.peek(chatKey)?.commandRoles.whoami).toBe("admin");
  });

  const burstBoth = async (userId: string, round: string, count: number) => {
    const before = bot.adapter.textsIn("flood").length;
    const here = Array.from({ length: count }, (_, i) =>
      bot.app.core.router.process(
        bot.adapter.inbound("/whoami", { userId, chatId: "flood", deliveryId: `here-${userId}-${round}-${i}` }),
      ),
    );
    const [there] = await Promise.all([peer.ask(`burst ${userId} flood ${count} there-${userId}-${round}`), ...here]);
    const texts = bot.adapter.textsIn("flood").slice(before);
    return {
      here: texts.filter((t) => t.includes("Platform:")).length,
      there: there.answered as number,
    };
  };
  /** A few sync intervals (100 ms each): spent tokens reach Redis and the shared balance comes back. */
  const afterSync = () => new Promise((resolve) => setTimeout(resolve, 1_000));

  it("charges tokens spent in one process to the sender's budget in the other", async () => {
    const userId = `seq-${randomUUID().slice(0, 8)}`;
    for (let i = 0; i < 6; i++) {
      await bot.app.core.router.process(
        bot.adapter.inbound("/whoami", { userId, chatId: "seq", deliveryId: `seq-${userId}-${i}` }),
      );
    }
    expect(bot.adapter.textsIn("seq").filter((t) => t.includes("Platform:"))).toHaveLength(6); // the whole burst, here
    await afterSync();
    // The other process's own buckets are untouched, yet it has nothing left to give this sender.
    expect(await peer.ask(`burst ${userId} seq 4 there-${userId}-b`)).toEqual({ answered: 0, refused: 1 });
  });

  it("keeps a sender hitting both processes at once within the stated tolerance, then makes them pay it back", async () => {
    const userId = `flood-${randomUUID().slice(0, 8)}`;
    // Burst 6 with no refill to speak of, 10 messages to each process at once.
    const first = await burstBoth(userId, "a", 10);
    const together = first.here + first.there;
    expect(together).toBeGreaterThanOrEqual(6);
    expect(together).toBeLessThanOrEqual(12); // at most 2 processes × burst, inside one sync interval
    await afterSync();
    // The excess is owed: nothing more gets through in either process.
    const second = await burstBoth(userId, "b", 10);
    expect(second.here + second.there).toBe(0);
  });
});
