/**
 * Slack over HTTP, end to end: signed requests from the stand-in platform → the shared HTTP listener → Bolt →
 * the Slack adapter → the real router and built-in commands → Web API calls the stand-in records.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  appMention,
  directMessage,
  eventCallback,
  sendCommand,
  sendEvent,
  sendInteraction,
  sendSigned,
} from "../../stand-ins/slack/sender.ts";
import { SIGNING_SECRET, startSlackBot, type SlackBot } from "./harness.ts";

const sign = { signingSecret: SIGNING_SECRET };

describe("Slack adapter over HTTP", () => {
  let s: SlackBot;

  beforeAll(async () => {
    s = await startSlackBot({
      users: [
        { id: "U0000001", name: "alice" },
        { id: "UADMIN001", name: "ada", is_admin: true },
        { id: "UOWNER001", name: "olga", is_owner: true, is_primary_owner: true },
      ],
      set: { "permissions.newChats": "platform-admins" },
    });
    const commands = s.app.core.commands;
    commands.register({
      name: "long",
      description: "a long reply",
      defaultRole: "guest",
      source: "builtin",
      handler: () => longText(),
    });
    commands.register({
      name: "stream",
      description: "a streamed reply",
      defaultRole: "guest",
      source: "builtin",
      handler: async (ctx) => {
        const words = Array.from({ length: 30 }, (_, i) => `word${i}`);
        const sent = await ctx.reply("…");
        const edits: Promise<void>[] = [];
        for (let i = 1; i <= words.length; i++) {
          edits.push(ctx.edit(sent, words.slice(0, i).join(" ")));
          await new Promise((r) => setTimeout(r, 15));
        }
        await Promise.all(edits);
      },
    });
    commands.register({
      name: "secret",
      description: "answers only to the speaker",
      defaultRole: "guest",
      source: "builtin",
      handler: () => ({ text: "just for you", ephemeral: true }),
    });
    commands.register({
      name: "deploy",
      description: "admins only",
      defaultRole: "admin",
      source: "builtin",
      handler: () => "deployed",
    });
    commands.register({
      name: "menu",
      description: "buttons",
      defaultRole: "guest",
      source: "builtin",
      handler: () => ({ text: "pick one", buttons: [[{ label: "Who am I", data: "/whoami" }]] }),
    });
  }, 120_000);

  afterAll(async () => {
    await s?.stop();
  });

  const postedTo = (channel: string) =>
    s.slack.callsOf("chat.postMessage").filter((c) => c.body.channel === channel && c.status === 200);

  it("answers /help from a slash command through the router, in the channel", async () => {
    const res = await sendCommand(
      s.eventsUrl,
      { command: "/help", channel_id: "CHELP0001", response_url: s.slack.responseUrl() },
      sign,
    );
    expect(res.status).toBe(200);
    await s.slack.waitFor(() => postedTo("CHELP0001").length > 0, 10_000, "the /help reply");
    const text = String(postedTo("CHELP0001")[0]!.body.text);
    expect(text).toContain("*Commands you can run here*");
    expect(text).toContain("/whoami");
    expect(s.slack.callsOf("chat.postMessage")[0]!.token).toBe(s.slack.botToken);
  });

  it("echoes the url_verification challenge", async () => {
    const res = await sendEvent(s.eventsUrl, { type: "url_verification", token: "t", challenge: "chal-123" }, sign);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ challenge: "chal-123" });
  });

  it("refuses bad signatures, stale timestamps and unsigned requests with 401 and runs nothing", async () => {
    const before = s.slack.calls.length;
    const wrong = await sendCommand(
      s.eventsUrl,
      { command: "/help", channel_id: "CBAD00001" },
      { ...sign, wrongSecret: "not-the-secret" },
    );
    const stale = await sendCommand(
      s.eventsUrl,
      { command: "/help", channel_id: "CBAD00001" },
      { ...sign, timestampS: Math.floor(Date.now() / 1000) - 301 },
    );
    const unsigned = await sendCommand(
      s.eventsUrl,
      { command: "/help", channel_id: "CBAD00001" },
      { ...sign, unsigned: true },
    );
    expect([wrong.status, stale.status, unsigned.status]).toEqual([401, 401, 401]);
    await new Promise((r) => setTimeout(r, 300));
    expect(s.slack.calls.slice(before).filter((c) => c.body.channel === "CBAD00001")).toEqual([]);
  });

  it("handles a redelivered event (same event_id, X-Slack-Retry-Num) once", async () => {
    const body = eventCallback(
      appMention({ text: "<@UBOT0001> /whoami", channel: "CRETRY001", ts: "1700000300.000100" }),
      "EvRETRY0001",
    );
    const first = await sendEvent(s.eventsUrl, body, sign);
    const retry = await sendEvent(s.eventsUrl, body, { ...sign, retryNum: 1, retryReason: "http_timeout" });
    expect([first.status, retry.status]).toEqual([200, 200]);
    await s.slack.waitFor(() => postedTo("CRETRY001").length > 0, 10_000, "the /whoami reply");
    await new Promise((r) => setTimeout(r, 500));
    expect(postedTo("CRETRY001")).toHaveLength(1);
    expect(String(postedTo("CRETRY001")[0]!.body.text)).toContain("Platform: slack");
  });

  it("keeps a reply to a mention in a thread inside that thread", async () => {
    const body = eventCallback(
      appMention({
        text: "<@UBOT0001> /whoami",
        channel: "CTHREAD01",
        ts: "1700000400.000200",
        threadTs: "1700000400.000100",
      }),
    );
    await sendEvent(s.eventsUrl, body, sign);
    await s.slack.waitFor(() => postedTo("CTHREAD01").length > 0, 10_000, "the threaded reply");
    expect(postedTo("CTHREAD01")[0]!.body.thread_ts).toBe("1700000400.000100");
  });

  it("answers a DM (message.im) in the DM", async () => {
    await sendEvent(s.eventsUrl, eventCallback(directMessage({ text: "/whoami", channel: "DDM000001" })), sign);
    await s.slack.waitFor(() => postedTo("DDM000001").length > 0, 10_000, "the DM reply");
    expect(String(postedTo("DDM000001")[0]!.body.text)).toContain("dm");
  });

  it("waits out a 429 Retry-After and then delivers", async () => {
    s.slack.rateLimit("chat.postMessage", 1, 1);
    await sendCommand(s.eventsUrl, { command: "/whoami", channel_id: "C429000001" }, sign);
    await s.slack.waitFor(() => postedTo("C429000001").length > 0, 15_000, "the reply after the 429");
    const attempts = s.slack.callsOf("chat.postMessage").filter((c) => c.body.channel === "C429000001");
    expect(attempts.map((c) => c.status)).toEqual([429, 200]);
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it("splits a 10,000-character reply into ordered messages within Slack's limit, losing nothing", async () => {
    await sendCommand(s.eventsUrl, { command: "/long", channel_id: "CLONG0001" }, sign);
    const expected = longText();
    await s.slack.waitFor(
      () =>
        postedTo("CLONG0001")
          .map((c) => String(c.body.text))
          .join("\n").length >=
        expected.length - 10,
      15_000,
      "all pieces",
    );
    const pieces = postedTo("CLONG0001").map((c) => String(c.body.text));
    expect(pieces.length).toBeGreaterThanOrEqual(3);
    for (const piece of pieces) expect(piece.length).toBeLessThanOrEqual(4_000);
    expect(pieces.join("\n")).toBe(expected);
  });

  it("streams a reply as throttled chat.update edits ending in the full text", async () => {
    await sendCommand(s.eventsUrl, { command: "/stream", channel_id: "CSTREAM01" }, sign);
    const full = Array.from({ length: 30 }, (_, i) => `word${i}`).join(" ");
    await s.slack.waitFor(() => s.slack.messagesIn("CSTREAM01")[0]?.text === full, 15_000, "the final edit");
    const updates = s.slack.callsOf("chat.update").filter((c) => c.body.channel === "CSTREAM01");
    expect(updates.length).toBeGreaterThanOrEqual(1);
    expect(updates.length).toBeLessThan(30);
    // Edits start at least 200 ms apart; arrival jitter on a busy machine is allowed for in the average.
    if (updates.length > 1)
      expect((updates.at(-1)!.at - updates[0]!.at) / (updates.length - 1)).toBeGreaterThanOrEqual(150);
    expect(s.slack.messagesIn("CSTREAM01")).toHaveLength(1);
  });

  it("sends ephemeral replies through the command's response_url", async () => {
    const url = s.slack.responseUrl();
    await sendCommand(s.eventsUrl, { command: "/secret", channel_id: "CEPHEM001", response_url: url }, sign);
    const id = url.split("/").pop()!;
    await s.slack.waitFor(() => s.slack.responsePosts.some((p) => p.id === id), 10_000, "the ephemeral reply");
    const post = s.slack.responsePosts.find((p) => p.id === id)!;
    expect(post.body).toMatchObject({ response_type: "ephemeral", text: "just for you" });
    expect(postedTo("CEPHEM001")).toEqual([]);
  });

  it("answers through response_url when the bot is not in the channel", async () => {
    const url = s.slack.responseUrl();
    s.slack.failNext("chat.postMessage", "not_in_channel");
    await sendCommand(s.eventsUrl, { command: "/whoami", channel_id: "CNOTIN001", response_url: url }, sign);
    const id = url.split("/").pop()!;
    await s.slack.waitFor(() => s.slack.responsePosts.some((p) => p.id === id), 10_000, "the response_url fallback");
    expect(s.slack.responsePosts.find((p) => p.id === id)!.body).toMatchObject({ response_type: "in_channel" });
  });

  it("decides permissions with the Slack workspace role (users.info)", async () => {
    await sendCommand(s.eventsUrl, { command: "/deploy", channel_id: "CPERM0001", user_id: "U0000001" }, sign);
    await s.slack.waitFor(() => postedTo("CPERM0001").length === 1, 10_000, "the member's refusal");
    expect(String(postedTo("CPERM0001")[0]!.body.text)).toMatch(/needs the admin role/);
    await sendCommand(s.eventsUrl, { command: "/deploy", channel_id: "CPERM0001", user_id: "UADMIN001" }, sign);
    await s.slack.waitFor(() => postedTo("CPERM0001").length === 2, 10_000, "the admin's run");
    expect(String(postedTo("CPERM0001")[1]!.body.text)).toBe("deployed");
    expect(s.slack.callsOf("users.info").map((c) => c.body.user)).toContain("UADMIN001");
    expect(await s.adapter.platformRoleOf("CPERM0001", "UOWNER001")).toBe("owner");
    expect(await s.adapter.platformRoleOf("CPERM0001", "UADMIN001")).toBe("admin");
    expect(await s.adapter.platformRoleOf("CPERM0001", "U0000001")).toBe("member");
    expect(await s.adapter.platformRoleOf("CPERM0001", "UNOBODY01")).toBeUndefined();
  });

  it("runs a button's command when it is clicked", async () => {
    await sendCommand(s.eventsUrl, { command: "/menu", channel_id: "CBUTTON01" }, sign);
    await s.slack.waitFor(() => postedTo("CBUTTON01").length === 1, 10_000, "the menu");
    const blocks = JSON.parse(String(postedTo("CBUTTON01")[0]!.body.blocks)) as Array<{
      type: string;
      elements?: Array<{ value: string; action_id: string }>;
    }>;
    const button = blocks.find((b) => b.type === "actions")!.elements![0]!;
    expect(button.value).toBe("/whoami");
    const click = await sendInteraction(
      s.eventsUrl,
      {
        type: "block_actions",
        trigger_id: "trig-click-1",
        team: { id: "T0000001" },
        user: { id: "U0000001", name: "alice" },
        channel: { id: "CBUTTON01", name: "buttons" },
        api_app_id: "A0000001",
        container: { type: "message", message_ts: "1" },
        message: { ts: String(postedTo("CBUTTON01")[0]!.body.ts ?? "1") },
        response_url: s.slack.responseUrl(),
        actions: [
          {
            type: "button",
            action_id: button.action_id,
            block_id: "b",
            value: button.value,
            action_ts: "1700000500.1",
          },
        ],
      },
      sign,
    );
    expect(click.status).toBe(200);
    await s.slack.waitFor(() => postedTo("CBUTTON01").length === 2, 10_000, "the button's command reply");
    expect(String(postedTo("CBUTTON01")[1]!.body.text)).toContain("Platform: slack");
  });

  it("skips malformed payloads and unknown event types and keeps serving", async () => {
    const garbage = await sendSigned(s.eventsUrl, { rawBody: "{not json", contentType: "application/json" }, sign);
    expect(garbage.status).toBe(400);
    const unknown = await sendEvent(
      s.eventsUrl,
      eventCallback({ type: "reaction_added", user: "U0000001", reaction: "tada" }),
      sign,
    );
    expect(unknown.status).toBe(200);
    const noUser = await sendCommand(s.eventsUrl, { command: "/help", channel_id: "CMALFORM1", user_id: "" }, sign);
    expect(noUser.status).toBe(200);
    await sendCommand(s.eventsUrl, { command: "/whoami", channel_id: "CMALFORM2" }, sign);
    await s.slack.waitFor(() => postedTo("CMALFORM2").length === 1, 10_000, "a reply after bad input");
    expect(postedTo("CMALFORM1")).toEqual([]);
  });

  it("refuses oversized text politely", async () => {
    await sendCommand(s.eventsUrl, { command: "/help", text: "x".repeat(17_000), channel_id: "CBIG00001" }, sign);
    await s.slack.waitFor(() => postedTo("CBIG00001").length === 1, 10_000, "the refusal");
    expect(String(postedTo("CBIG00001")[0]!.body.text)).toMatch(/too long/i);
  });

  it("reports health from real traffic", () => {
    const health = s.adapter.health();
    expect(health.state).toBe("up");
    expect(health.lastInboundAt).not.toBeNull();
    expect(health.lastApiOkAt).not.toBeNull();
    expect(health.detail).toContain("http");
  });
});

/** About 10,000 characters of numbered lines and words. */
function longText(): string {
  const lines: string[] = [];
  for (let i = 0; lines.join("\n").length < 10_000; i++)
    lines.push(`line ${i}: ${"lorem ipsum dolor sit amet ".repeat(3).trim()}`);
  return lines.join("\n");
}
