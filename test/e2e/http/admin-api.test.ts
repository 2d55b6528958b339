/**
 * The admin API against the real server: sign-in links, sessions, CSRF, API tokens, and the permission checks
 * of chat commands applied to API calls. Runs on the embedded store, and on PostgreSQL when it answers (always
 * under `CI=true`), in a fresh schema dropped afterwards.
 *
 * Chats: `test:A`, where alice is admin by the policy, and `test:B`, where she is nobody; `test:owner` is a bot
 * owner by config; bob is admin nowhere.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Store } from "../../../bot/index.ts";
import { startTestBot, type TestBot } from "../../helpers/app.ts";
import { serviceAvailable } from "../../helpers/services.ts";
import { defineOnEachStore } from "../../helpers/stores.ts";

const isPostgresUp = await serviceAvailable("postgres");

/** A clock the test moves (sessions and tokens expire by it). */
const clock = { t: Date.now(), now: () => clock.t };

interface Client {
  base: string;
  get(path: string, o?: { cookie?: string; bearer?: string }): Promise<Response>;
  /** `request` is "METHOD /path". */
  send(request: string, body: unknown, o?: { cookie?: string; bearer?: string; csrf?: string }): Promise<Response>;
}

function client(base: string): Client {
  const headers = (o: { cookie?: string; bearer?: string; csrf?: string } = {}) => ({
    ...(o.cookie === undefined ? {} : { cookie: o.cookie }),
    ...(o.bearer === undefined ? {} : { authorization: `Bearer ${o.bearer}` }),
    ...(o.csrf === undefined ? {} : { "x-csrf-token": o.csrf }),
  });
  return {
    base,
    get: (path, o) => fetch(`${base}${path}`, { headers: headers(o) }),
    send: (request, body, o) =>
      fetch(`${base}${request.slice(request.indexOf(" ") + 1)}`, {
        method: request.slice(0, request.indexOf(" ")),
        headers: { ...headers(o), "content-type": "application/json" },
        body: JSON.stringify(body),
      }),
  };
}

async function seed(bot: TestBot): Promise<void> {
  const { store, permissions } = bot.app.core;
  for (const id of ["A", "B"]) await store.chats.touch(`test:${id}`, { kind: "group", title: `chat ${id}` }, clock.t);
  await permissions.updatePolicy("test:A", { actor: "test:owner", action: "perms.role" }, (p) => {
    p.roleOverrides["test:alice"] = "admin";
  });
  await permissions.updatePolicy("test:B", { actor: "test:owner", action: "perms.set" }, (p) => {
    p.commandRoles.whoami = "member";
  });
}

/** Sign in through a fresh link; the cookie header and CSRF token. */
async function signIn(bot: TestBot, api: Client, userKey: string): Promise<{ cookie: string; csrf: string }> {
  const { url } = await bot.app.admin.signInLink({ userKey, displayName: userKey });
  const code = new URL(url).hash.replace("#code=", "");
  const res = await api.send("POST /api/auth/sign-in", { code });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { csrfToken: string };
  const cookie = res.headers.get("set-cookie")!.split(";")[0]!;
  return { cookie, csrf: body.csrfToken };
}

function defineSuite(name: string, openStoreFn: () => Promise<Store>, cleanup: () => Promise<void>): void {
  describe(`admin API on ${name}`, () => {
    let bot: TestBot;
    let api: Client;

    beforeAll(async () => {
      bot = await startTestBot({
        store: await openStoreFn(),
        clock,
        set: { "bot.owners": ["test:owner"], "http.apiRatePerMinute": 10_000, "http.signInAttemptsPerMinute": 1_000 },
      });
      api = client(`http://127.0.0.1:${bot.app.httpAddress()!.port}`);
      await seed(bot);
    });
    afterAll(async () => {
      await bot?.stop();
      await bot?.app.core.store.close();
      await cleanup();
    });

    it("answers 401 without a session or token, and with a made-up one", async () => {
      for (const path of ["/api/chats", "/api/audit?chatKey=test:A", "/api/adapters", "/api/auth/me"]) {
        expect((await api.get(path)).status).toBe(401);
        expect((await api.get(path, { cookie: "sb_session=abc.def" })).status).toBe(401);
        expect((await api.get(path, { bearer: `sbt_${"a".repeat(12)}_${"b".repeat(43)}` })).status).toBe(401);
      }
      const res = await api.send("PUT /api/chats/test:A/policy", {});
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: string }).error).toBe("E_UNAUTHENTICATED");
    });

    it("signs in once per link, with an HttpOnly SameSite=Strict cookie that expires; a reused link is refused", async () => {
      const { url } = await bot.app.admin.signInLink({ userKey: "test:alice", displayName: "Alice" });
      expect(url).toMatch(/\/console\/sign-in#code=[A-Za-z0-9_-]{43}$/);
      const code = new URL(url).hash.replace("#code=", "");
      const first = await api.send("POST /api/auth/sign-in", { code });
      expect(first.status).toBe(200);
      const setCookie = first.headers.get("set-cookie")!;
      expect(setCookie).toMatch(/^sb_session=[^;]+;/);
      expect(setCookie).toMatch(/HttpOnly/);
      expect(setCookie).toMatch(/SameSite=Strict/);
      expect(setCookie).toMatch(/Max-Age=43200/);
      expect(setCookie).not.toMatch(/Secure/);
      const me = await api.get("/api/auth/me", { cookie: setCookie.split(";")[0]! });
      expect(((await me.json()) as { principal: { userKey: string } }).principal.userKey).toBe("test:alice");
      const again = await api.send("POST /api/auth/sign-in", { code });
      expect(again.status).toBe(401);
      expect(((await again.json()) as { error: string }).error).toBe("E_SIGN_IN");
    });

    it("refuses a link past its 10 minutes", async () => {
      const { url } = await bot.app.admin.signInLink({ userKey: "test:alice", displayName: "Alice" });
      clock.t += 10 * 60_000 + 1;
      const res = await api.send("POST /api/auth/sign-in", { code: new URL(url).hash.replace("#code=", "") });
      expect(res.status).toBe(401);
    });

    it("shows a chat admin only their chats, and answers 403 for another chat's policy and audit", async () => {
      const alice = await signIn(bot, api, "test:alice");
      const chats = (await (await api.get("/api/chats", alice)).json()) as { chats: { chatKey: string }[] };
      expect(chats.chats.map((c) => c.chatKey)).toEqual(["test:A"]);
      expect((await api.get("/api/chats/test:A/policy", alice)).status).toBe(200);
      const denied = await api.get("/api/chats/test:B/policy", alice);
      expect(denied.status).toBe(403);
      expect(((await denied.json()) as { error: string }).error).toBe("E_PERMISSION_DENIED");
      expect((await api.get("/api/audit?chatKey=test:B", alice)).status).toBe(403);
      expect((await api.get("/api/audit", alice)).status).toBe(403);
      expect((await api.get("/api/chats/test:B/members", alice)).status).toBe(403);
    });

    it("lets a bot owner see every chat and the whole audit log", async () => {
      const owner = await signIn(bot, api, "test:owner");
      const chats = (await (await api.get("/api/chats", owner)).json()) as { chats: { chatKey: string }[] };
      expect(chats.chats.map((c) => c.chatKey).sort()).toEqual(["test:A", "test:B"]);
      expect((await api.get("/api/chats/test:B/policy", owner)).status).toBe(200);
      expect((await api.get("/api/audit", owner)).status).toBe(200);
    });

    it("refuses a change without the CSRF token or with a wrong one, and audits an accepted one with via web", async () => {
      const alice = await signIn(bot, api, "test:alice");
      const policy = (
        (await (await api.get("/api/chats/test:A/policy", alice)).json()) as { policy: Record<string, unknown> }
      ).policy;
      const next = { ...policy, commandRoles: { whoami: "admin" } };
      const missing = await api.send("PUT /api/chats/test:A/policy", next, { cookie: alice.cookie });
      expect(missing.status).toBe(403);
      expect(((await missing.json()) as { error: string }).error).toBe("E_CSRF");
      const wrong = await api.send("PUT /api/chats/test:A/policy", next, {
        cookie: alice.cookie,
        csrf: `${alice.csrf.slice(0, -1)}${alice.csrf.endsWith("A") ? "B" : "A"}`,
      });
      expect(wrong.status).toBe(403);
      const other = await signIn(bot, api, "test:alice");
      const foreign = await api.send("PUT /api/chats/test:A/policy", next, {
        cookie: alice.cookie,
        csrf: other.csrf,
      });
      expect(foreign.status).toBe(403);
      expect((await bot.app.core.permissions.policy("test:A"))?.commandRoles.whoami).toBeUndefined();

      const ok = await api.send("PUT /api/chats/test:A/policy", next, alice);
      expect(ok.status).toBe(200);
      expect((await bot.app.core.permissions.policy("test:A"))?.commandRoles.whoami).toBe("admin");
      const audit = (await (await api.get("/api/audit?chatKey=test:A&action=perms.replace", alice)).json()) as {
        entries: { actor: string; via: string; before: { commandRoles: object }; after: { commandRoles: object } }[];
      };
      expect(audit.entries[0]).toMatchObject({
        actor: "test:alice",
        via: "web",
        before: { commandRoles: {} },
        after: { commandRoles: { whoami: "admin" } },
      });
    });

    it("keeps /perms' rules: no role above your own, no bot-wide policy for a chat admin", async () => {
      const alice = await signIn(bot, api, "test:alice");
      const base = { commandRoles: {}, roleOverrides: {}, allow: [], deny: [], trustPlatformAdmins: true };
      const raise = await api.send(
        "PUT /api/chats/test:A/policy",
        { ...base, commandRoles: { perms: "owner" } },
        alice,
      );
      expect(raise.status).toBe(403);
      const give = await api.send(
        "PUT /api/chats/test:A/policy",
        { ...base, roleOverrides: { "test:alice": "admin", "test:bob": "owner" } },
        alice,
      );
      expect(give.status).toBe(400);
      expect((await api.send("PUT /api/chats/*/policy", { ...base, dm: "closed" }, alice)).status).toBe(403);
      expect(
        (await api.send("PUT /api/chats/test:A/policy", { ...base, commandRoles: { nope: "guest" } }, alice)).status,
      ).toBe(400);
    });

    it("pages the audit log with a cursor and filters it by actor and time", async () => {
      const { store } = bot.app.core;
      for (let i = 0; i < 5; i++)
        await store.audit.append({
          at: clock.t + i,
          actor: "test:carol",
          chatKey: "test:A",
          action: "x.page",
          via: "api",
        });
      const owner = await signIn(bot, api, "test:owner");
      const page1 = (await (await api.get("/api/audit?chatKey=test:A&actor=test:carol&limit=2", owner)).json()) as {
        entries: { id: number; at: number }[];
        nextCursor: number | null;
      };
      expect(page1.entries.map((e) => e.at)).toEqual([clock.t + 4, clock.t + 3]);
      const page2 = (await (
        await api.get(`/api/audit?chatKey=test:A&actor=test:carol&limit=2&cursor=${page1.nextCursor}`, owner)
      ).json()) as { entries: { at: number }[] };
      expect(page2.entries.map((e) => e.at)).toEqual([clock.t + 2, clock.t + 1]);
      const since = (await (
        await api.get(`/api/audit?chatKey=test:A&actor=test:carol&since=${clock.t + 3}`, owner)
      ).json()) as { entries: unknown[]; nextCursor: unknown };
      expect(since.entries).toHaveLength(2);
      expect(since.nextCursor).toBeNull();
      const csv = await api.get("/api/audit/export?chatKey=test:A&actor=test:carol&format=csv", owner);
      expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
      const lines = (await csv.text()).trim().split("\r\n");
      expect(lines[0]).toBe("id,at,actor,chatKey,action,target,via,before,after");
      expect(lines).toHaveLength(6);
      const json = await api.get("/api/audit/export?chatKey=test:A&actor=test:carol&format=json", owner);
      expect(json.headers.get("content-type")).toMatch(/^application\/json/);
      const exported = (await json.json()) as { at: number; actor: string; action: string; via: string }[];
      expect(exported.map((e) => e.at)).toEqual([4, 3, 2, 1, 0].map((i) => clock.t + i));
      expect(exported.every((e) => e.actor === "test:carol" && e.action === "x.page" && e.via === "api")).toBe(true);
      const alice = await signIn(bot, api, "test:alice");
      expect((await api.get("/api/audit/export?chatKey=test:B&format=json", alice)).status).toBe(403);
    });

    it("shows members' effective roles in a chat, from its policy and audit trail, or for one person asked", async () => {
      const alice = await signIn(bot, api, "test:alice");
      const listed = (await (await api.get("/api/chats/test:A/members", alice)).json()) as {
        members: { userKey: string; role: string; source: string }[];
      };
      expect(listed.members).toContainEqual({ userKey: "test:alice", role: "admin", source: "override" });
      expect(listed.members).toContainEqual({ userKey: "test:owner", role: "owner", source: "audit trail" });
      const asked = async (user: string) =>
        (
          (await (await api.get(`/api/chats/test:A/members?user=${user}`, alice)).json()) as {
            members: { role: string; source: string }[];
          }
        ).members;
      expect(await asked("test:bob")).toEqual([{ userKey: "test:bob", role: "guest", source: "asked" }]);
      expect(await asked("test:owner")).toEqual([{ userKey: "test:owner", role: "owner", source: "asked" }]);
    });

    it("scopes API tokens, and answers 401 once one is revoked or expired", async () => {
      const { credentials } = bot.app.admin;
      const reader = await credentials.createToken(
        { userKey: "test:alice", displayName: "Alice" },
        { name: "r", scopes: ["read"] },
      );
      expect(reader.token).toMatch(/^sbt_/);
      expect((await api.get("/api/chats", { bearer: reader.token })).status).toBe(200);
      const policy = {
        commandRoles: {},
        roleOverrides: { "test:alice": "admin" },
        allow: [],
        deny: [],
        trustPlatformAdmins: true,
      };
      const scoped = await api.send("PUT /api/chats/test:A/policy", policy, { bearer: reader.token });
      expect(scoped.status).toBe(403);
      expect(((await scoped.json()) as { error: string }).error).toBe("E_SCOPE");
      const writer = await credentials.createToken(
        { userKey: "test:alice", displayName: "Alice" },
        { name: "w", scopes: ["read", "chats"], ttlMs: 60_000 },
      );
      const written = await api.send("PUT /api/chats/test:A/policy", policy, { bearer: writer.token });
      expect(written.status).toBe(200);
      const audit = await bot.app.core.store.audit.list("test:A", { limit: 1, action: "perms.replace" });
      expect(audit[0]?.via).toBe("api");
      // Stored hashed: the secret is nowhere in the table.
      const { rows } = await bot.app.core.store.sql.query<{ secret_hash: string }>(
        "SELECT secret_hash FROM api_tokens",
      );
      expect(rows.some((r) => reader.token.includes(r.secret_hash))).toBe(false);

      expect(await credentials.revoke(reader.info.id)).toBe(true);
      expect((await api.get("/api/chats", { bearer: reader.token })).status).toBe(401);
      clock.t += 60_001;
      expect((await api.get("/api/chats", { bearer: writer.token })).status).toBe(401);
    });

    it("lists and revokes sessions; a revoked or expired session answers 401", async () => {
      const alice = await signIn(bot, api, "test:alice");
      const listed = (await (await api.get("/api/credentials", alice)).json()) as {
        credentials: { id: string; kind: string; current: boolean; revokedAt: number | null }[];
      };
      const current = listed.credentials.find((c) => c.current)!;
      expect(current.kind).toBe("session");
      const second = await signIn(bot, api, "test:alice");
      expect((await api.send(`DELETE /api/credentials/${current.id}`, {}, second)).status).toBe(200);
      expect((await api.get("/api/auth/me", alice)).status).toBe(401);
      expect((await api.get("/api/auth/me", second)).status).toBe(200);
      clock.t += 12 * 3_600_000 + 1;
      expect((await api.get("/api/auth/me", second)).status).toBe(401);
    });

    it("gives /console links in a DM to owners and chat admins only", async () => {
      const { adapter, app } = bot;
      const ask = async (userId: string, chatKind: "dm" | "group") => {
        const chatId = chatKind === "dm" ? `dm-${userId}` : "A";
        await app.core.router.process(adapter.inbound("/console", { userId, chatId, chatKind }));
        return adapter.textsIn(chatId).at(-1) ?? "";
      };
      expect(await ask("alice", "dm")).toMatch(/sign-in link.*\/console\/sign-in#code=/s);
      expect(await ask("owner", "dm")).toMatch(/#code=/);
      expect(await ask("bob", "dm")).toMatch(/bot owners and chat admins/);
      expect(await ask("alice", "group")).toMatch(/direct message/);
    });

    it("counts messages per platform per day for bot owners", async () => {
      const { adapter, app } = bot;
      for (let i = 0; i < 3; i++)
        await app.core.router.process(
          adapter.inbound("/whoami", { userId: "dave", chatId: "dm-dave", chatKind: "dm" }),
        );
      const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
      const range = `from=${day(clock.t - 3 * 86_400_000)}&to=${day(clock.t + 3 * 86_400_000)}`;
      const owner = await signIn(bot, api, "test:owner");
      const res = await api.get(`/api/usage/messages?${range}`, owner);
      expect(res.status).toBe(200);
      const { rows } = (await res.json()) as { rows: { platform: string; messagesIn: number; messagesOut: number }[] };
      const test = rows.filter((r) => r.platform === "test");
      expect(test.reduce((n, r) => n + r.messagesIn, 0)).toBeGreaterThanOrEqual(3);
      expect(test.reduce((n, r) => n + r.messagesOut, 0)).toBeGreaterThanOrEqual(3);
      const alice = await signIn(bot, api, "test:alice");
      expect((await api.get(`/api/usage/messages?${range}`, alice)).status).toBe(403);
    });

    it("documents every admin route in the OpenAPI document, with its security", async () => {
      const doc = (await (await api.get("/api/openapi.json")).json()) as {
        paths: Record<string, Record<string, { security?: unknown[]; tags?: string[] }>>;
      };
      expect(doc.paths["/api/chats/{chatKey}/policy"]?.put?.security).toEqual([{ session: [] }, { token: [] }]);
      expect(doc.paths["/api/auth/sign-in"]?.post?.security).toBeUndefined();
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining([
          "/api/audit",
          "/api/audit/export",
          "/api/adapters",
          "/api/tokens",
          "/api/chats/{chatKey}/members",
        ]),
      );
    });

    it("lets a bot owner set the DM policy on the bot-wide policy, audited with before and after, and DMs follow it", async () => {
      const owner = await signIn(bot, api, "test:owner");
      const base = { commandRoles: {}, roleOverrides: {}, allow: [], deny: [], trustPlatformAdmins: true };
      expect((await api.send("PUT /api/chats/test:A/policy", { ...base, dm: "closed" }, owner)).status).toBe(400);
      const closed = await api.send("PUT /api/chats/*/policy", { ...base, dm: "closed" }, owner);
      expect(closed.status).toBe(200);
      try {
        const read = (await (await api.get("/api/chats/*/policy", owner)).json()) as { policy: { dm: string } };
        expect(read.policy.dm).toBe("closed");
        const [entry] = await bot.app.core.store.audit.list("*", { limit: 1, action: "perms.replace" });
        expect(entry).toMatchObject({ actor: "test:owner", via: "web", after: { dm: "closed" } });
        expect((entry?.before as { dm?: string } | null)?.dm).not.toBe("closed");
        // The bot-wide policy's audit trail, as the console's Chats page reads it: owners only.
        const trail = await api.get("/api/audit?chatKey=*&action=perms.replace", owner);
        expect(trail.status).toBe(200);
        expect(((await trail.json()) as { entries: { after: { dm: string } }[] }).entries[0]?.after.dm).toBe("closed");
        const alice = await signIn(bot, api, "test:alice");
        expect((await api.get("/api/audit?chatKey=*", alice)).status).toBe(403);
        expect((await api.get("/api/audit?chatKey=no-platform", owner)).status).toBe(400);
        await bot.app.core.router.process(
          bot.adapter.inbound("/whoami", { userId: "erin", chatId: "dm-erin", chatKind: "dm" }),
        );
        expect(bot.adapter.textsIn("dm-erin").join("\n")).toMatch(/closed/i);
        expect(bot.adapter.textsIn("dm-erin").join("\n")).not.toContain("test:erin");
      } finally {
        expect((await api.send("PUT /api/chats/*/policy", { ...base, dm: "open" }, owner)).status).toBe(200);
      }
    });
  });
}

defineOnEachStore(defineSuite, isPostgresUp);

describe("sign-in guessing", () => {
  let bot: TestBot;
  beforeAll(async () => {
    bot = await startTestBot({ set: { "http.publicUrl": "https://console.example.com" } });
  });
  afterAll(async () => {
    await bot?.stop();
  });

  it("counts requests with a wrong token against the address's API limit", async () => {
    const limited = await startTestBot({ set: { "http.apiRatePerMinute": 5 } });
    try {
      const api = client(`http://127.0.0.1:${limited.app.httpAddress()!.port}`);
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++)
        statuses.push(
          (await api.get("/api/chats", { bearer: `sbt_${"a".repeat(12)}_${randomBytes(32).toString("base64url")}` }))
            .status,
        );
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    } finally {
      await limited.stop();
    }
  });

  it("behind a trusted proxy, limits each forwarded client address on its own", async () => {
    const proxied = await startTestBot({ set: { "http.apiRatePerMinute": 2, "http.trustProxy": "127.0.0.1" } });
    try {
      const base = `http://127.0.0.1:${proxied.app.httpAddress()!.port}`;
      const from = async (address: string) =>
        (await fetch(`${base}/api/chats`, { headers: { "x-forwarded-for": address } })).status;
      expect([await from("203.0.113.1"), await from("203.0.113.1"), await from("203.0.113.1")]).toEqual([
        401, 401, 429,
      ]);
      expect(await from("203.0.113.2")).toBe(401);
    } finally {
      await proxied.stop();
    }
  });

  it("marks the session cookie Secure when the console is reached over HTTPS", async () => {
    const api = client(`http://127.0.0.1:${bot.app.httpAddress()!.port}`);
    const { url } = await bot.app.admin.signInLink({ userKey: "console:operator", displayName: "op" });
    expect(url.startsWith("https://console.example.com/console/sign-in#code=")).toBe(true);
    const res = await api.send("POST /api/auth/sign-in", { code: new URL(url).hash.slice(6) });
    expect(res.status).toBe(200);
    expect(res.headers.get("set-cookie")).toMatch(/; Secure/);
  });

  it("is rate-limited per address: past 10 attempts a minute, even a valid code gets 429", async () => {
    const api = client(`http://127.0.0.1:${bot.app.httpAddress()!.port}`);
    const statuses: number[] = [];
    // One attempt was spent by the test above.
    for (let i = 0; i < 9; i++)
      statuses.push((await api.send("POST /api/auth/sign-in", { code: randomBytes(32).toString("base64url") })).status);
    expect(statuses).toEqual(Array(9).fill(401));
    const { url } = await bot.app.admin.signInLink({ userKey: "console:operator", displayName: "op" });
    const limited = await api.send("POST /api/auth/sign-in", { code: new URL(url).hash.slice(6) });
    expect(limited.status).toBe(429);
    expect(((await limited.json()) as { error: string }).error).toBe("E_RATE_LIMITED");
  });
});
