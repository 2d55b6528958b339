/**
 * The web chat in a whole bot (router, permissions, rate limits), over loopback without a browser, on the
 * embedded store and on PostgreSQL when it answers (always under `CI=true`): a person signed in through a link
 * speaks as themselves, the router's per-user limit refuses a flood in the chat, a repeated post is answered
 * once, and the DM policy of the bot applies to the web chat as to any DM.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SESSION_COOKIE } from "../../../bot/admin/index.ts";
import type { Store } from "../../../bot/index.ts";
import { startTestBot, type TestBot } from "../../helpers/app.ts";
import { serviceAvailable } from "../../helpers/services.ts";
import { WebChatClient } from "../../stand-ins/web/client.ts";
import { defineOnEachStore } from "../../helpers/stores.ts";

const isPostgresUp = await serviceAvailable("postgres");

/** A stream client for a person, signed in through a real link and `POST /api/auth/sign-in`. */
async function signIn(bot: TestBot, userKey: string): Promise<WebChatClient> {
  const base = `http://127.0.0.1:${bot.app.httpAddress()!.port}`;
  const { url } = await bot.app.admin.signInLink({ userKey, displayName: userKey.split(":")[1]! });
  const res = await fetch(`${base}/api/auth/sign-in`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ code: new URL(url).hash.slice("#code=".length) }),
  });
  expect(res.status).toBe(200);
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  const cookie = res.headers.get("set-cookie")!.split(";")[0]!;
  expect(cookie.startsWith(`${SESSION_COOKIE}=`)).toBe(true);
  return new WebChatClient({ base, cookie, csrfToken });
}

const botText = (c: WebChatClient) =>
  c.events.filter((e) => e.type === "message").map((e) => String(e.data.html ?? ""));

function defineSuite(name: string, openStoreFn: () => Promise<Store>, cleanup: () => Promise<void>): void {
  describe(`web chat in a bot on ${name}`, () => {
    let bot: TestBot;
    const clients: WebChatClient[] = [];

    beforeAll(async () => {
      bot = await startTestBot({
        store: await openStoreFn(),
        set: {
          "bot.owners": ["test:owner"],
          "limits.perUser": { burst: 3, perMinute: 1 },
          "http.apiRatePerMinute": 10_000,
        },
      });
    });
    afterAll(async () => {
      await Promise.all(clients.map((c) => c.close()));
      await bot?.stop();
      await bot?.app.core.store.close();
      await cleanup();
    });

    const open = async (userKey: string) => {
      const client = await signIn(bot, userKey);
      clients.push(client);
      expect(await client.connect()).toBe(200);
      return client;
    };

    it("answers /whoami as the signed-in person, an owner as an owner", async () => {
      const client = await open("test:owner");
      await client.say("/whoami");
      const answer = await client.waitFor((e) => e.type === "message");
      expect(String(answer.data.html)).toContain("web:test.owner");
      expect(String(answer.data.html)).toMatch(/owner/);
    });

    it("shows the web chat's health in /api/adapters: up, its last inbound event, what it holds", async () => {
      const before = Date.now();
      const client = await open("test:owner");
      await client.say("/whoami");
      await client.waitFor((e) => e.type === "message");
      const base = `http://127.0.0.1:${bot.app.httpAddress()!.port}`;
      const token = await bot.app.admin.credentials.createToken(
        { userKey: "test:owner", displayName: "owner" },
        { name: "health", scopes: ["read"] },
      );
      const res = await fetch(`${base}/api/adapters`, { headers: { authorization: `Bearer ${token.token}` } });
      expect(res.status).toBe(200);
      const { adapters } = (await res.json()) as {
        adapters: { platform: string; state: string; lastInboundAt: number | null; detail?: string }[];
      };
      expect(adapters.map((a) => a.platform).sort()).toEqual(["test", "web"]);
      const web = adapters.find((a) => a.platform === "web")!;
      expect(web.state).toBe("up");
      expect(web.lastInboundAt).toBeGreaterThanOrEqual(before);
      expect(web.detail).toMatch(/\d+ chats, \d+ open streams/);
    });

    it("refuses a flood past the per-user limit in the chat, and answers a repeated post once", async () => {
      const client = await open("test:bob");
      await client.say("/whoami", "repeat-1");
      await client.waitFor((e) => e.type === "message");
      await client.say("/whoami", "repeat-1");
      for (let i = 0; i < 4; i++) await client.say(`/whoami`);
      await client.waitFor((e) => e.type === "message" && /too (many|fast)|slow down|limit/i.test(String(e.data.html)));
      await bot.app.core.router.drain();
      const answers = botText(client).filter((t) => t.includes("web:test.bob"));
      // Three in the burst: the first post, its repeat dropped, two more; the rest refused.
      expect(answers.length).toBe(3);
    });

    it("keeps the bot's DM policy: with DMs closed, a person who is not an owner is told so, an owner is served", async () => {
      await bot.app.core.permissions.updatePolicy("*", { actor: "test:owner", action: "perms.dm" }, (p) => {
        p.dm = "closed";
      });
      try {
        const client = await open("test:carol");
        await client.say("/whoami");
        await bot.app.core.router.drain();
        await client.waitFor((e) => e.type === "message" && /closed/i.test(String(e.data.html)));
        expect(botText(client).some((t) => t.includes("web:test.carol"))).toBe(false);
        const owner = await open("test:owner");
        await owner.say("/whoami");
        await owner.waitFor((e) => e.type === "message" && String(e.data.html).includes("web:test.owner"));
      } finally {
        await bot.app.core.permissions.updatePolicy("*", { actor: "test:owner", action: "perms.dm" }, (p) => {
          p.dm = "open";
        });
      }
    });
  });
}

defineOnEachStore(defineSuite, isPostgresUp);
