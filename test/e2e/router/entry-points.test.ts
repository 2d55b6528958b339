/**
 * Every way a command can be run goes through the one check, as the person it acts for: a typed command, a
 * button, an LLM tool call, a schedule at creation (in chat and on the web's admin API), a schedule at fire, and
 * a command typed or a button pressed in the console's web chat.
 * After `/perms set dice admin`, each of them refuses the built-in dice skill to a member, and each still lets an
 * admin through where it applies.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { pickServices } from "../../../bot/index.ts";
import { createLlmPlugin, LLM_NEEDS } from "../../../llm/index.ts";
import { createSchedulesPlugin, SCHEDULES_NEEDS } from "../../../schedules/index.ts";
import { createSkillsPlugin, SKILLS_NEEDS } from "../../../skills/index.ts";
import { startTestBot, type TestBot } from "../../helpers/app.ts";
import type { SayOptions } from "../../helpers/test-adapter.ts";
import { startOpenAiStandIn, type OpenAiStandIn } from "../../stand-ins/openai/server.ts";
import { WebChatClient } from "../../stand-ins/web/client.ts";

let bot: TestBot;
let openai: OpenAiStandIn;
let dataDir: string;
let scheduleId = "";

const MEMBER: SayOptions = { chatId: "g", userId: "mo", role: "member" };
const ADMIN: SayOptions = { chatId: "g", userId: "ann", role: "admin" };
const OWNER: SayOptions = { chatId: "g", userId: "boss" };

async function say(text: string, o: SayOptions, extra: { origin?: "button"; mentionsBot?: boolean } = {}) {
  const inbound = bot.adapter.inbound(text, { ...o, ...(extra.mentionsBot ? { mentionsBot: true } : {}) });
  if (extra.origin !== undefined) inbound.origin = extra.origin;
  const before = bot.adapter.textsIn(o.chatId).length;
  await bot.app.core.router.process(inbound);
  await bot.app.core.router.drain();
  return bot.adapter.textsIn(o.chatId).slice(before);
}

/** A console session for `userKey`, signed in through a real link: its cookie and CSRF token. */
async function signIn(userKey: string): Promise<{ base: string; cookie: string; csrfToken: string }> {
  const base = `http://127.0.0.1:${bot.app.httpAddress()!.port}`;
  const { url } = await bot.app.admin.signInLink({ userKey, displayName: userKey });
  const signedIn = await fetch(`${base}/api/auth/sign-in`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ code: new URL(url).hash.slice(6) }),
  });
  expect(signedIn.status).toBe(200);
  const cookie = signedIn.headers.get("set-cookie")!.split(";")[0]!;
  const { csrfToken } = (await signedIn.json()) as { csrfToken: string };
  return { base, cookie, csrfToken };
}

beforeAll(async () => {
  openai = await startOpenAiStandIn();
  dataDir = await mkdtemp(join(tmpdir(), "sb-entry-"));
  bot = await startTestBot({
    set: {
      "bot.owners": ["test:boss"],
      "bot.dataDir": dataDir,
      "llm.editIntervalMs": 0,
      "llm.models": [{ name: "main", provider: "openai", model: "stand-main", baseUrl: openai.baseUrl, apiKey: "k" }],
    },
    plugins: [
      async (core) => createSkillsPlugin(pickServices(core, SKILLS_NEEDS)),
      async (core) => createLlmPlugin(pickServices(core, LLM_NEEDS)),
      async (core) => createSchedulesPlugin(pickServices(core, SCHEDULES_NEEDS)),
    ],
  });
  await say("/perms platform-admins on", OWNER);
  await say("/ai on", OWNER);
  // Made while the member may still roll: the fire-time check is the one that must catch it.
  const [made] = await say("/schedule in 1h /dice 2d6", MEMBER);
  scheduleId = /#(\d+)/.exec(made ?? "")?.[1] ?? "";
  expect(scheduleId, made).not.toBe("");
  expect((await say("/perms set dice admin", OWNER))[0]).toBe("/dice now needs admin.");
}, 120_000);

afterAll(async () => {
  await bot?.stop();
  await openai?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

beforeEach(() => openai.script.clear());

describe("every entry point refuses what /perms forbids", () => {
  it("a typed command", async () => {
    expect(await say("/dice 2d6", MEMBER)).toEqual([
      "You can't run /dice here: it needs the admin role and you are member.",
    ]);
    expect((await say("/dice 2d6", ADMIN))[0]).toMatch(/2d6: /);
  });

  it("a button press", async () => {
    expect(await say("/dice 2d6", MEMBER, { origin: "button" })).toEqual([
      "You can't run /dice here: it needs the admin role and you are member.",
    ]);
  });

  it("an LLM tool call: the tool is not offered, and a forged call is refused without running the skill", async () => {
    openai.script.push(
      "stand-main",
      { kind: "tools", calls: [{ name: "dice__roll", arguments: { notation: "1d6" } }] },
      { kind: "fn", fn: (req) => ({ kind: "text", text: String(req.messages.at(-1)?.content) }) },
    );
    const answer = await say("@bot roll a die", MEMBER, { mentionsBot: true });
    expect(openai.script.for("stand-main")[0]!.tools).not.toContain("dice__roll");
    expect(answer.at(-1)).toMatch(/not available to this user/);
    // An admin is offered it.
    openai.script.push("stand-main", { kind: "text", text: "fine" });
    await say("@bot hello", ADMIN, { mentionsBot: true });
    expect(openai.script.for("stand-main").at(-1)!.tools).toContain("dice__roll");
  });

  it("a schedule, when it is created", async () => {
    expect(await say("/schedule in 1m /dice 2d6", MEMBER)).toEqual([
      "You can't schedule /dice: you may not run it here (/dice needs admin; you are member here).",
    ]);
    // A subcommand forbidden by the policy is refused at creation too (every node of the path is checked).
    await say("/perms set perms.show member", OWNER);
    expect((await say("/schedule in 1m /perms show", MEMBER))[0]).toMatch(/You can't schedule \/perms/);
    expect((await say("/schedule in 1m /dice 2d6", ADMIN))[0]).toMatch(/^Scheduled #\d+/);
  });

  it("a schedule, when it fires", async () => {
    const rolls = () => bot.adapter.textsIn("g").filter((t) => t.startsWith("🎲") || /^2d6: /.test(t)).length;
    const before = rolls();
    const answer = await say(`/schedule run ${scheduleId}`, MEMBER);
    expect(answer[0]).toMatch(/Running schedule/);
    await expect
      .poll(() => bot.adapter.textsIn("g").at(-1))
      .toMatch(new RegExp(`Schedule #${scheduleId} skipped: mo may no longer run /dice here`));
    expect(rolls()).toBe(before);
  });

  it("the web: a schedule created on the admin API, as the signed-in person", async () => {
    const { store, permissions } = bot.app.core;
    // Roles by override, so the API (which sees no platform role) decides on the same roles as the chat.
    await permissions.updatePolicy("test:g", { actor: "test:boss", action: "perms.role" }, (p) => {
      p.roleOverrides["test:mo"] = "member";
      p.roleOverrides["test:ann"] = "admin";
    });
    await store.chats.touch("test:g", { kind: "group", title: "g" }, Date.now());
    const create = async (userKey: string) => {
      const { base, cookie, csrfToken } = await signIn(userKey);
      return fetch(`${base}/api/schedules`, {
        method: "POST",
        headers: { cookie, "x-csrf-token": csrfToken, "content-type": "application/json" },
        body: JSON.stringify({ chatKey: "test:g", runAt: Date.now() + 3_600_000, commandLine: "/dice 2d6" }),
      });
    };
    const refused = await create("test:mo");
    const body = (await refused.json()) as { error?: { message?: string } };
    expect(refused.status, JSON.stringify(body)).toBe(403);
    expect(JSON.stringify(body)).toContain("/dice");
    expect((await create("test:ann")).status).toBe(201);
  });

  it("the web chat: a typed command and a button press on the console's chat page, as the signed-in person", async () => {
    // The web chat is the person's own chat with the bot (web:test.mo); the same /perms refusal is set there.
    await bot.app.core.permissions.updatePolicy("web:test.mo", { actor: "test:boss", action: "perms.set" }, (p) => {
      p.commandRoles.dice = "admin";
    });
    const client = new WebChatClient(await signIn("test:mo"));
    try {
      expect(await client.connect()).toBe(200);
      const refusal = "You can't run /dice here: it needs the admin role and you are member.";
      const answers = () => client.events.filter((e) => e.type === "message").map((e) => String(e.data.html ?? ""));
      expect((await client.say("/dice 2d6")).status).toBe(202);
      await expect.poll(() => answers().length, { timeout: 10_000 }).toBe(1);
      expect(answers()[0]).toContain(refusal);
      // A button the bot showed in that chat, pressed: refused the same way.
      const shown = await bot.app.core.adapters
        .get("web")!
        .send(
          { platform: "web", chatId: "test.mo" },
          { text: "Roll?", buttons: [[{ label: "Roll", data: "/dice 2d6" }]] },
        );
      await expect.poll(() => answers().length, { timeout: 10_000 }).toBe(2);
      expect((await client.press(shown.messageId, "/dice 2d6")).status).toBe(202);
      await expect.poll(() => answers().length, { timeout: 10_000 }).toBe(3);
      expect(answers()[2]).toContain(refusal);
      expect(answers().some((t) => /2d6: /.test(t))).toBe(false);
    } finally {
      await client.close();
    }
  });
});
