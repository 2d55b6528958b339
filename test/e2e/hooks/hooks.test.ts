/**
 * Inbound hooks end to end: an admin adds hooks in a Telegram group (the secret arrives in a DM), real HTTP
 * requests post to `/hooks/<id>`, and the stand-in shows what reached the chat. Refused requests (bad signature,
 * stale timestamp, replayed delivery, oversized payload, over the rate) post nothing: a valid delivery sent after
 * them is the barrier, and the chat then holds exactly the messages that should be there.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatEvent } from "../../../bot/index.ts";
import { hmacHex, signTimestamped } from "../../../hooks/index.ts";
import { addHookInGroup, type HooksBot, postHook, startHooksBot } from "./bot.ts";

const FIXTURES = join(import.meta.dirname, "../../fixtures/hooks");
const GROUP = -100_200;
const ADMIN = 4_242;

describe("inbound hooks through Telegram", { timeout: 60_000 }, () => {
  let bot: HooksBot;
  let github: { id: string; secret: string };
  let alerts: { id: string; secret: string };
  let generic: { id: string; secret: string };
  const inGroup = () => bot.standIn.messagesIn(GROUP).map((m) => m.text);
  const waitGroup = (n: number, what: string) => bot.standIn.waitFor(() => inGroup().length >= n, 10_000, what);

  beforeAll(async () => {
    bot = await startHooksBot({
      "hooks.ratePerMinute": 30,
      "hooks.maxPayloadBytes": 16_384,
      "bot.owners": [`telegram:${ADMIN}`],
      // The admin sends every command of the file (over twenty): the inbound limit is not what these tests are about.
      "limits.perUser": { burst: 1_000, perMinute: 100_000 },
      "limits.perChat": { burst: 1_000, perMinute: 100_000 },
    });
    github = await addHookInGroup(bot, { chatId: GROUP, userId: ADMIN, line: "/hooks add ci --template github" });
    alerts = await addHookInGroup(bot, {
      chatId: GROUP,
      userId: ADMIN,
      line: "/hooks add alerts --template alertmanager",
    });
    generic = await addHookInGroup(bot, {
      chatId: GROUP,
      userId: ADMIN,
      line: "/hooks add deploys --format Deployed {{service}} by {{who}}",
    });
  });
  afterAll(() => bot?.stop());

  it("answers the URL and secret in a DM, never in the group", () => {
    const dm = bot.standIn.messagesIn(ADMIN).map((m) => m.text);
    expect(dm.some((t) => t.includes(github.secret))).toBe(true);
    expect(inGroup().some((t) => t.includes(github.secret) || t.includes(alerts.secret))).toBe(false);
  });

  it("posts a signed GitHub push to the group, rendered, with mass mentions neutralised", async () => {
    const body = readFileSync(join(FIXTURES, "github-push.json"), "utf8");
    const n = inGroup().length;
    const events: ChatEvent[] = [];
    const unsubscribe = bot.app.core.events.subscribe((e) => events.push(e));
    const res = await postHook(bot, {
      id: github.id,
      body,
      headers: {
        "x-github-event": "push",
        "x-github-delivery": "d-1",
        "x-hub-signature-256": hmacHex(github.secret, body),
      },
    });
    expect(res.status).toBe(202);
    await waitGroup(n + 1, "the push message");
    const text = inGroup()[n]!;
    expect(text).toContain("acme/api");
    expect(text).toContain("octo pushed 1 commit to main");
    expect(text).toContain("Fix the *retry* loop");
    expect(text).not.toContain("Longer body");
    expect(text).not.toMatch(/(^|[^\u200b])@everyone/);
    expect(text).not.toContain("<!channel>");
    // Published for listeners once handed to the platform.
    await bot.standIn.waitFor(() => events.length > 0, 5_000, "the hook event");
    unsubscribe();
    expect(events[0]).toMatchObject({
      type: "hook",
      chatKey: `telegram:${GROUP}`,
      hook: { id: github.id, name: "ci", template: "github" },
      deliveryId: "gh:d-1",
      target: { platform: "telegram", chatId: String(GROUP) },
    });
  });

  it("posts an Alertmanager group with firing before resolved, labels and a link", async () => {
    const body = readFileSync(join(FIXTURES, "alertmanager.json"), "utf8");
    const n = inGroup().length;
    const res = await postHook(bot, { id: alerts.id, body, headers: { authorization: `Bearer ${alerts.secret}` } });
    expect(res.status).toBe(202);
    await waitGroup(n + 1, "the alert message");
    const text = inGroup()[n]!;
    expect(text).toContain("[FIRING:1] HighLatency");
    expect(text.indexOf("p99 above 2s")).toBeLessThan(text.indexOf("p99 back under 2s"));
    expect(text).toContain("instance=api-1");
    const raw = bot.standIn.messagesIn(GROUP)[n]!.raw;
    expect(raw).toContain('href="http://alertmanager.example:9093/"');
  });

  it("refuses a bad signature, a stale timestamp, a replay and an oversized payload, posting nothing", async () => {
    const n = inGroup().length;
    const body = JSON.stringify({ service: "api", who: "ci" });
    const bad = await postHook(bot, {
      id: github.id,
      body,
      headers: {
        "x-github-event": "ping",
        "x-github-delivery": "d-bad",
        "x-hub-signature-256": hmacHex("wrong", body),
      },
    });
    expect(bad.status).toBe(401);
    const noAuth = await postHook(bot, { id: generic.id, body, headers: {} });
    expect(noAuth.status).toBe(401);
    const wrongBearer = await postHook(bot, { id: generic.id, body, headers: { authorization: "Bearer nope" } });
    expect(wrongBearer.status).toBe(401);
    const stale = await postHook(bot, {
      id: generic.id,
      body,
      headers: signTimestamped(generic.secret, body, Date.now() - 6 * 60_000),
    });
    expect(stale.status).toBe(401);
    const replayBody = readFileSync(join(FIXTURES, "github-push.json"), "utf8");
    const replay = await postHook(bot, {
      id: github.id,
      body: replayBody,
      headers: {
        "x-github-event": "push",
        "x-github-delivery": "d-1",
        "x-hub-signature-256": hmacHex(github.secret, replayBody),
      },
    });
    expect(replay.status).toBe(200);
    expect(JSON.parse(replay.body)).toMatchObject({ status: "duplicate" });
    const huge = JSON.stringify({ service: "x".repeat(20_000) });
    const tooLarge = await postHook(bot, {
      id: generic.id,
      body: huge,
      headers: { authorization: `Bearer ${generic.secret}` },
    });
    expect(tooLarge.status).toBe(413);
    const unknown = await postHook(bot, { id: "AAAAAAAAAAAAAAAAAAAAAA", body, headers: {} });
    expect(unknown.status).toBe(404);
    // The barrier: a valid signed delivery after all of them.
    const ok = await postHook(bot, {
      id: generic.id,
      body,
      headers: signTimestamped(generic.secret, body, Date.now()),
    });
    expect(ok.status).toBe(202);
    await waitGroup(n + 1, "the barrier message");
    await new Promise((r) => setTimeout(r, 300));
    expect(inGroup().slice(n)).toEqual(["Deployed api by ci"]);
  });

  it("keeps template syntax and markup in values inert", async () => {
    const n = inGroup().length;
    const body = JSON.stringify({ service: "{{who}} [x](javascript:alert(1)) **b**", who: "<@U123> @here" });
    const res = await postHook(bot, {
      id: generic.id,
      body,
      headers: { authorization: `Bearer ${generic.secret}`, "idempotency-key": "inert-1" },
    });
    expect(res.status).toBe(202);
    await waitGroup(n + 1, "the inert message");
    const message = bot.standIn.messagesIn(GROUP)[n]!;
    expect(message.text).toContain("{{who}} [x](javascript:alert(1)) **b**");
    expect(message.raw).not.toContain("<a ");
    expect(message.raw).not.toContain("<b>");
    expect(message.text).not.toMatch(/(^|[^\u200b])@here/);
  });

  it("renders a generic hook through its field map", async () => {
    const mapped = await addHookInGroup(bot, {
      chatId: GROUP,
      userId: ADMIN,
      line: "/hooks add mapped --map title=event.name,text=event.detail,link=event.url",
    });
    const n = inGroup().length;
    const body = JSON.stringify({
      event: { name: "Backup done", detail: "42 GB", url: "https://backup.example/run/9" },
    });
    const res = await postHook(bot, { id: mapped.id, body, headers: { authorization: `Bearer ${mapped.secret}` } });
    expect(res.status).toBe(202);
    await waitGroup(n + 1, "the mapped message");
    const message = bot.standIn.messagesIn(GROUP)[n]!;
    expect(message.text).toContain("Backup done\n42 GB");
    expect(message.raw).toContain('href="https://backup.example/run/9"');
  });

  it("answers concurrent requests with a repeat among them once each, and posts the repeat once", async () => {
    const burst = await addHookInGroup(bot, {
      chatId: GROUP,
      userId: ADMIN,
      line: "/hooks add burst --format {{text}}",
    });
    const n = inGroup().length;
    // Sent at once, so they reach the queue in the same commits; `k3` twice.
    const keys = ["k0", "k1", "k2", "k3", "k4", "k3", "k5", "k6"];
    const answers = await Promise.all(
      keys.map((key) =>
        postHook(bot, {
          id: burst.id,
          body: JSON.stringify({ text: `burst ${key}` }),
          headers: { authorization: `Bearer ${burst.secret}`, "idempotency-key": key },
        }),
      ),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 202, 202, 202, 202, 202, 202, 202]);
    expect(JSON.parse(answers.find((a) => a.status === 200)!.body)).toEqual({
      status: "duplicate",
      deliveryId: "id:k3",
    });
    // A last delivery is the barrier: once it is in, everything before it is.
    const last = await postHook(bot, {
      id: burst.id,
      body: JSON.stringify({ text: "burst end" }),
      headers: { authorization: `Bearer ${burst.secret}`, "idempotency-key": "end" },
    });
    expect(last.status).toBe(202);
    await bot.standIn.waitFor(() => inGroup().includes("burst end"), 10_000, "the barrier");
    await new Promise((r) => setTimeout(r, 200));
    const posted = inGroup()
      .slice(n)
      .filter((t) => t.startsWith("burst "));
    expect(posted.filter((t) => t !== "burst end").sort()).toEqual(
      ["k0", "k1", "k2", "k3", "k4", "k5", "k6"].map((k) => `burst ${k}`),
    );
  });

  it("refuses a hook's requests past its rate at once, with Retry-After", async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 35; i++) {
      const body = JSON.stringify({ service: `s${i}`, who: "rate" });
      const res = await postHook(bot, {
        id: generic.id,
        body,
        headers: { authorization: `Bearer ${generic.secret}` },
      });
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get("retry-after");
    }
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);
  });

  it("shows hooks in /hooks list, /status and the metrics", async () => {
    bot.standIn.queueMessage({ chatId: GROUP, chatType: "supergroup", userId: ADMIN, text: "/hooks list" });
    await bot.standIn.waitFor(() => inGroup().some((t) => t.startsWith("alerts (alertmanager)")), 10_000, "the list");
    const list = inGroup().find((t) => t.startsWith("alerts (alertmanager)"))!;
    expect(list).toContain("last delivery");
    expect(list).not.toContain(alerts.secret);
    const metrics = await (await fetch(`${bot.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/switchboard_hook_deliveries_total\{template="github",outcome="sent"\} 1/);
    expect(metrics).toMatch(/switchboard_hook_requests_total\{template="github",outcome="unauthorized"\} 1/);
    expect(bot.hooks.status?.()).toMatchObject({ state: "ok" });
    expect(bot.hooks.status?.().detail).toContain("last delivery");
  });

  it("rotates a secret: the old one is refused, the new one works", async () => {
    const before = bot.standIn.messagesIn(ADMIN).length;
    const n = inGroup().length;
    bot.standIn.queueMessage({ chatId: GROUP, chatType: "supergroup", userId: ADMIN, text: "/hooks rotate alerts" });
    await bot.standIn.waitFor(() => bot.standIn.messagesIn(ADMIN).length > before, 10_000, "the new secret");
    await waitGroup(n + 1, "the answer in the group");
    const secret = /Secret: (\S+)/.exec(bot.standIn.messagesIn(ADMIN).at(-1)!.text)![1]!;
    const body = readFileSync(join(FIXTURES, "alertmanager.json"), "utf8");
    expect(
      (await postHook(bot, { id: alerts.id, body, headers: { authorization: `Bearer ${alerts.secret}` } })).status,
    ).toBe(401);
    expect((await postHook(bot, { id: alerts.id, body, headers: { authorization: `Bearer ${secret}` } })).status).toBe(
      200,
    );
  });

  it("removes a hook only once confirmed, after which its URL answers 404", async () => {
    const say = (text: string) =>
      bot.standIn.queueMessage({ chatId: GROUP, chatType: "supergroup", userId: ADMIN, text });
    const body = JSON.stringify({ service: "late", who: "ci" });
    const post = () => postHook(bot, { id: generic.id, body, headers: { authorization: `Bearer ${generic.secret}` } });
    let n = inGroup().length;
    say("/hooks remove deploys");
    await waitGroup(n + 1, "the confirmation request");
    expect(inGroup()[n]).toContain("/confirm");
    expect((await post()).status).not.toBe(404); // not removed before the confirmation
    n = inGroup().length;
    say("/confirm");
    await bot.standIn.waitFor(() => inGroup().some((t) => t.includes("Hook deploys is removed.")), 10_000, "removal");
    expect((await post()).status).toBe(404);
    const audit = await bot.app.core.store.audit.list(`telegram:${GROUP}`, { action: "hooks.remove" });
    const removed = audit.find((e) => e.target === "deploys");
    // Audited with what was removed (never its secret), and /audit shows it before the arrow.
    expect(removed).toMatchObject({ before: { id: generic.id, template: "generic" }, after: null });
    expect(JSON.stringify(removed)).not.toContain(generic.secret);
    n = inGroup().length;
    say("/audit");
    await waitGroup(n + 1, "the audit log");
    expect(inGroup()[n]).toMatch(
      new RegExp(`hooks\\.remove deploys: \\{[^\\n]*"id":"${generic.id}"[^\\n]*\\} → \\(none\\)`),
    );
  });

  it("refuses /hooks add to a member who is not an admin", async () => {
    bot.standIn.setMember(GROUP, 9_999, "member");
    const n = inGroup().length;
    bot.standIn.queueMessage({ chatId: GROUP, chatType: "supergroup", userId: 9_999, text: "/hooks add sneaky" });
    await waitGroup(n + 1, "the refusal");
    expect(bot.standIn.messagesIn(9_999)).toEqual([]);
    expect(inGroup()[n]).not.toContain("Secret");
  });
});
