/**
 * The Discord adapter in HTTP interactions mode, end to end: signed interactions POSTed to the bot's shared
 * HTTP listener (as Discord does), answers in the HTTP response, later replies over REST to the stand-in.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createInteractionSigner } from "../../stand-ins/discord/signing.ts";
import { startDiscordBot, type DiscordBot } from "./harness.ts";

interface Answer {
  status: number;
  body: { type?: number; data?: { content?: string; flags?: number } } & Record<string, unknown>;
}

describe("Discord HTTP interactions mode", () => {
  let h: DiscordBot;
  let counted = 0;

  beforeAll(async () => {
    h = await startDiscordBot({ mode: "interactions" });
    const { commands } = h.bot.app.core;
    commands.register({
      name: "count",
      description: "Counts how often it ran",
      defaultRole: "guest",
      source: "test",
      handler: () => `ran ${++counted}`,
    });
    commands.register({
      name: "secret",
      description: "An ephemeral answer",
      defaultRole: "guest",
      source: "test",
      handler: () => ({ text: "only you can see this", ephemeral: true }),
    });
    commands.register({
      name: "slow",
      description: "Answers after the window",
      defaultRole: "guest",
      source: "test",
      handler: async () => {
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        return "done slowly";
      },
    });
  });
  afterAll(async () => {
    await h?.stop();
  });

  /** POST a payload as Discord would (signed unless headers are given), and tell the stand-in the answer. */
  async function post(payload: Record<string, unknown> | string, headers?: Record<string, string>): Promise<Answer> {
    const raw = typeof payload === "string" ? payload : JSON.stringify(payload);
    const res = await fetch(h.interactionsUrl, {
      method: "POST",
      headers: headers ?? h.signer.headers(raw),
      body: raw,
    });
    const text = await res.text();
    const body = text === "" ? {} : (JSON.parse(text) as Answer["body"]);
    if (res.status === 200 && typeof payload !== "string") {
      h.discord.acceptHttpAnswer(payload.id as string, body as { type: number });
    }
    return { status: res.status, body };
  }

  const spec = (name: string, extra: Record<string, unknown> = {}) => ({
    name,
    user: h.discord.users.alice,
    guildId: h.discord.guild.id,
    channelId: h.discord.channelId,
    ...extra,
  });

  it("answers PING with PONG", async () => {
    const answer = await post({ id: "1", type: 1, application_id: h.discord.applicationId, token: "t", version: 1 });
    expect(answer).toEqual({ status: 200, body: { type: 1 } });
  });

  it("refuses a missing or bad signature with 401 and runs nothing", async () => {
    const payload = h.discord.makeInteraction(spec("count"));
    const raw = JSON.stringify(payload);
    const missing = await post(payload, { "content-type": "application/json" });
    const otherKey = await post(payload, createInteractionSigner().headers(raw));
    const tampered = await post(payload, h.signer.headers(raw.replace("count", "count ")));
    expect([missing.status, otherKey.status, tampered.status]).toEqual([401, 401, 401]);
    expect(counted).toBe(0);
  });

  it("refuses a validly signed interaction stamped outside the 5-minute window with 401, and runs nothing", async () => {
    const nowS = Math.floor(Date.now() / 1000);
    const statuses: number[] = [];
    for (const offsetS of [-3_600, -86_400, 600]) {
      const payload = h.discord.makeInteraction(spec("count"));
      const raw = JSON.stringify(payload);
      statuses.push((await post(payload, h.signer.headers(raw, String(nowS + offsetS)))).status);
    }
    expect(statuses).toEqual([401, 401, 401]);
    expect(counted).toBe(0);
    // Inside the window (four minutes old) it is answered.
    const fresh = h.discord.makeInteraction(spec("help"));
    const answer = await post(fresh, h.signer.headers(JSON.stringify(fresh), String(nowS - 240)));
    expect(answer.status).toBe(200);
  });

  it("answers /help in the HTTP response", async () => {
    const answer = await post(h.discord.makeInteraction(spec("help")));
    expect(answer.status).toBe(200);
    expect(answer.body.type).toBe(4);
    expect(answer.body.data?.content).toContain("/help");
  });

  it("handles a redelivered interaction once, giving both deliveries the same answer", async () => {
    const before = counted;
    const payload = h.discord.makeInteraction(spec("count"));
    const [first, second] = await Promise.all([post(payload), post(payload)]);
    const third = await post(payload);
    expect(first).toEqual(second);
    expect(third).toEqual(first);
    expect(counted).toBe(before + 1);
  });

  it("sends ephemeral replies with flag 64", async () => {
    const answer = await post(h.discord.makeInteraction(spec("secret")));
    expect(answer.body).toMatchObject({ type: 4, data: { content: "only you can see this", flags: 64 } });
  });

  it("defers within the 3-second window and then edits the deferred answer over REST", async () => {
    const payload = h.discord.makeInteraction(spec("slow"));
    const started = Date.now();
    const answer = await post(payload);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(answer.body).toEqual({ type: 5 });
    const patch = await h.discord.waitForRequest(
      (r) =>
        r.method === "PATCH" &&
        r.path.endsWith(`/webhooks/${h.discord.applicationId}/${payload.token as string}/messages/@original`),
    );
    expect((patch.body as { content: string }).content).toBe("done slowly");
    expect(patch.headers.authorization).toBeUndefined();
  });

  it("refuses an oversized command politely, without running it", async () => {
    const before = counted;
    const answer = await post(
      h.discord.makeInteraction(spec("count", { options: [{ name: "text", type: 3, value: "x".repeat(20_000) }] })),
    );
    expect(answer.body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(answer.body.data?.content).toMatch(/too long/);
    expect(counted).toBe(before);
  });

  it("answers malformed bodies with 400 and unsupported interaction types with a notice", async () => {
    expect((await post("{not json")).status).toBe(400);
    const noChannel = await post({
      id: "77",
      type: 2,
      application_id: h.discord.applicationId,
      token: "t",
      data: { name: "help" },
    });
    expect(noChannel.status).toBe(400);
    const modal = await post({
      id: "78",
      type: 5,
      application_id: h.discord.applicationId,
      token: "t",
      data: { custom_id: "m" },
    });
    expect(modal.body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(h.adapter.health().state).toBe("up");
  });
});
