/**
 * Personal keys: `switchboard keys create|list|revoke` on the host against a data folder, honoured by a bot on
 * that folder; `/ai keys …` in chat (create in a DM only, the key sent in that DM only); revoked and expired
 * keys refused; every creation and revocation audited.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../../bot/index.ts";
import { runCli } from "../../helpers/cli.ts";
import { startOpenAiStandIn, type OpenAiStandIn } from "../../stand-ins/openai/server.ts";
import { type GatewayBot, startGatewayBot } from "./helpers.ts";

let work: string;
let dataDir: string;
let configFile: string;
let openai: OpenAiStandIn;
const cli = (...args: string[]) => runCli(args, { configFile });

const llm = () => ({
  models: [
    { name: "hosted", provider: "openai" as const, model: "stand-hosted", baseUrl: openai.baseUrl },
    { name: "other", provider: "openai" as const, model: "stand-other", baseUrl: openai.baseUrl },
  ],
});

beforeAll(async () => {
  openai = await startOpenAiStandIn();
  work = await mkdtemp(join(tmpdir(), "sb-gateway-keys-"));
  dataDir = join(work, "data");
  configFile = join(work, "switchboard.config.json");
  await writeFile(configFile, JSON.stringify({ bot: { dataDir }, log: { level: "silent" } }));
});
afterAll(async () => {
  await openai?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

async function withBot(fn: (bot: GatewayBot) => Promise<void>): Promise<void> {
  const store = await openStore({ dataDir });
  const bot = await startGatewayBot({ bot: { dataDir }, llm: llm() }, { store });
  try {
    await fn(bot);
  } finally {
    await bot.stop();
    await store.close();
  }
}

describe("switchboard keys", () => {
  it("creates a key for a person shown once, lists it without its secret, and revokes it; a bot honours both", async () => {
    const created = await cli(
      "keys",
      "create",
      "--user",
      "telegram:42",
      "--name",
      "ide",
      "--models",
      "hosted",
      "--expires",
      "30d",
    );
    expect(created.code, created.err).toBe(0);
    const key = created.out.trim();
    expect(key).toMatch(/^sbk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(created.err).toMatch(/shown this once/);
    const id = key.slice(4, 16);

    const listed = await cli("keys", "list", "--user", "telegram:42");
    expect(listed.out).toContain(id);
    expect(listed.out).toMatch(/telegram:42\tactive\tide\thosted\texpires 20\d\d-/);
    expect(listed.out).not.toContain(key.slice(17));

    await withBot(async (bot) => {
      openai.script.push("stand-hosted", { kind: "text", text: "hi from hosted" });
      const res = await bot
        .client(key)
        .chat.completions.create({ model: "hosted", messages: [{ role: "user", content: "x" }] });
      expect(res.choices[0]!.message.content).toBe("hi from hosted");
      const other = await bot
        .client(key)
        .chat.completions.create({ model: "other", messages: [{ role: "user", content: "x" }] })
        .catch((e: unknown) => e);
      expect((other as { status?: number }).status).toBe(403);
    });

    const revoked = await cli("keys", "revoke", id);
    expect(revoked.code, revoked.err).toBe(0);
    expect((await cli("keys", "revoke", id)).code).toBe(1);
    expect((await cli("keys", "list")).out).toMatch(new RegExp(`${id}\\t.*\\trevoked\\t`));

    await withBot(async (bot) => {
      const refused = await bot
        .client(key)
        .chat.completions.create({ model: "hosted", messages: [{ role: "user", content: "x" }] })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
      const { rows } = await bot.app.core.store.sql.query<{ action: string; via: string }>(
        "SELECT action, via FROM audit_log WHERE target = $1 ORDER BY id",
        [id],
      );
      expect(rows).toEqual([
        { action: "gateway.key.create", via: "cli" },
        { action: "gateway.key.revoke", via: "cli" },
      ]);
    });
  });

  it("refuses a person that is not platform:id and a malformed expiry", async () => {
    expect((await cli("keys", "create", "--user", "alice")).code).toBe(1);
    const bad = await cli("keys", "create", "--user", "telegram:1", "--expires", "soon");
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("--expires");
  });
});

describe("/ai keys in chat", () => {
  it("creates a key in a DM, sent in that DM only; refuses in a group; lists and revokes it; each step audited", async () => {
    await withBot(async (bot) => {
      const say = (text: string, o: Parameters<typeof bot.adapter.inbound>[1]) =>
        bot.app.core.router.process(bot.adapter.inbound(text, o));
      await say("/ai keys create laptop", { chatId: "grp", chatKind: "group", userId: "carol", role: "admin" });
      expect(bot.adapter.textsIn("grp").join("\n")).toMatch(/direct message/);
      expect(bot.adapter.textsIn("grp").join("\n")).not.toMatch(/sbk_/);

      await say("/ai keys create laptop", { chatId: "dm-carol", chatKind: "dm", userId: "carol" });
      const reply = bot.adapter.textsIn("dm-carol").join("\n");
      const key = /sbk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}/.exec(reply)?.[0];
      expect(key).toBeDefined();
      expect(bot.adapter.sent.filter((s) => s.text.includes(key!)).map((s) => s.chatId)).toEqual(["dm-carol"]);
      const [info] = await bot.gateway.keys.list("test:carol");
      expect(info).toMatchObject({ name: "laptop", userKey: "test:carol" });

      openai.script.push("stand-hosted", { kind: "text", text: "works" });
      const res = await bot
        .client(key!)
        .chat.completions.create({ model: "hosted", messages: [{ role: "user", content: "x" }] });
      expect(res.choices[0]!.message.content).toBe("works");

      await say("/ai keys list", { chatId: "dm-carol", chatKind: "dm", userId: "carol" });
      expect(bot.adapter.textsIn("dm-carol").at(-1)).toContain(`sbk_${info!.id}_…`);
      // Someone else cannot revoke it.
      await say(`/ai keys revoke ${info!.id}`, { chatId: "dm-dave", chatKind: "dm", userId: "dave" });
      expect(bot.adapter.textsIn("dm-dave").at(-1)).toMatch(/no active key/);
      await say(`/ai keys revoke ${info!.id}`, { chatId: "dm-carol", chatKind: "dm", userId: "carol" });
      expect(bot.adapter.textsIn("dm-carol").at(-1)).toMatch(/revoked/);
      // Revoked in this process: refused at once.
      const refused = await bot
        .client(key!)
        .chat.completions.create({ model: "hosted", messages: [{ role: "user", content: "x" }] })
        .catch((e: unknown) => e);
      expect((refused as { status?: number }).status).toBe(401);

      // The other /ai subcommands still reach the LLM module.
      await say("/ai usage", { chatId: "dm-carol", chatKind: "dm", userId: "carol" });
      expect(bot.adapter.textsIn("dm-carol").at(-1)).not.toMatch(/Usage: \/ai keys/);

      const { rows } = await bot.app.core.store.sql.query<{
        action: string;
        target: string;
        actor: string;
        via: string;
      }>(
        "SELECT action, target, actor, via FROM audit_log WHERE action LIKE 'gateway.key.%' AND target = $1 ORDER BY id",
        [info!.id],
      );
      expect(rows).toEqual([
        { action: "gateway.key.create", target: info!.id, actor: "test:carol", via: "chat" },
        { action: "gateway.key.revoke", target: info!.id, actor: "test:carol", via: "chat" },
      ]);
      expect(bot.logs()).not.toContain(key!.slice(17, 40));
    });
  });

  it("refuses an expired key", async () => {
    await withBot(async (bot) => {
      const now = bot.app.core.clock.now();
      const { key } = await bot.gateway.keys.create(
        { userKey: "test:erin", expiresAt: now + 300 },
        { actor: "test", via: "cli" },
      );
      // The expiry lies ahead when the key is made (a loaded machine can take
      // a few ms between reading the clock and creating it), and behind when it is used.
      await new Promise((r) => setTimeout(r, 350));
      const refused = await bot
        .client(key)
        .models.list()
        .catch((e: unknown) => e);
      expect((refused as { status?: number }).status).toBe(401);
    });
  });
});

describe("keys from the admin API", () => {
  it("creates (shown once), lists and revokes one's own keys from a console session; a token may only list", async () => {
    await withBot(async (bot) => {
      const base = bot.baseUrl.replace(/\/v1$/, "");
      const { url } = await bot.app.admin.signInLink({ userKey: "test:pia", displayName: "pia" });
      const signed = await fetch(`${base}/api/auth/sign-in`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ code: new URL(url).hash.slice(6) }),
      });
      const session = {
        cookie: signed.headers.get("set-cookie")!.split(";")[0]!,
        "x-csrf-token": ((await signed.json()) as { csrfToken: string }).csrfToken,
      };
      const created = await fetch(`${base}/api/gateway/keys`, {
        method: "POST",
        headers: { ...session, "content-type": "application/json" },
        body: JSON.stringify({ name: "ci", models: ["hosted"], expiresInDays: 7 }),
      });
      expect(created.status).toBe(201);
      const { key, info } = (await created.json()) as { key: string; info: { id: string; models: string[] } };
      expect(info.models).toEqual(["hosted"]);
      openai.script.push("stand-hosted", { kind: "text", text: "via console key" });
      const res = await bot
        .client(key)
        .chat.completions.create({ model: "hosted", messages: [{ role: "user", content: "x" }] });
      expect(res.choices[0]!.message.content).toBe("via console key");

      const { token } = await bot.app.admin.credentials.createToken(
        { userKey: "test:pia", displayName: "pia" },
        { name: "t", scopes: ["read"] },
      );
      const listed = await fetch(`${base}/api/gateway/keys`, { headers: { authorization: `Bearer ${token}` } });
      const body = await listed.text();
      expect(JSON.parse(body).keys.map((k: { id: string }) => k.id)).toEqual([info.id]);
      expect(body).not.toContain(key.slice(17));
      const byToken = await fetch(`${base}/api/gateway/keys`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: "{}",
      });
      expect(byToken.status).toBe(403);

      const revoked = await fetch(`${base}/api/gateway/keys/${info.id}`, { method: "DELETE", headers: session });
      expect(revoked.status).toBe(204);
      const refused = await bot
        .client(key)
        .models.list()
        .catch((e: unknown) => e);
      expect((refused as { status?: number }).status).toBe(401);
      const { rows } = await bot.app.core.store.sql.query<{ action: string; via: string }>(
        "SELECT action, via FROM audit_log WHERE target = $1 ORDER BY id",
        [info.id],
      );
      expect(rows).toEqual([
        { action: "gateway.key.create", via: "web" },
        { action: "gateway.key.revoke", via: "web" },
      ]);
    });
  });
});
