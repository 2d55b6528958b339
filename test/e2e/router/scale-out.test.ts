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

  it("enforces one sender's rate limit across both processes", async () => {
    const userId = `flood-${randomUUID().slice(0, 8)}`;
    const here = Array.from({ length: 10 }, (_, i) =>
      bot.app.core.router.process(
        bot.adapter.inbound("/whoami", { userId, chatId: "flood", deliveryId: `here-${userId}-${i}` }),
      ),
    );
    const [there] = await Promise.all([peer.ask(`burst ${userId} flood 10 there-${userId}`), ...here]);
    const texts = bot.adapter.textsIn("flood");
    const answeredHere = texts.filter((t) => t.includes("Platform:")).length;
    const refusedHere = texts.filter((t) => t.includes("too fast")).length;
    // Burst 6 with no refill to speak of: 6 answers in all, of 20 messages; "slow down" said once in all.
    expect(answeredHere + (there.answered as number)).toBe(6);
    expect(refusedHere + (there.refused as number)).toBe(1);
  });
});
