/**
 * The Discord adapter in gateway mode, end to end: the real @discordjs/ws gateway and @discordjs/rest client inside the real adapter, the
 * real router and built-in commands behind it, and the stand-in Discord recording what it received.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RecordedRequest } from "../../stand-ins/discord/server.ts";
import { PERMISSION } from "../../stand-ins/discord/payloads.ts";
import { startDiscordBot, type DiscordBot } from "./harness.ts";

const LONG_TEXT = Array.from({ length: 1_112 }, (_, i) => `word${String(i).padStart(4, "0")}`).join(" ");

describe("Discord gateway mode", () => {
  let h: DiscordBot;

  beforeAll(async () => {
    h = await startDiscordBot({ set: { "permissions.newChats": "platform-admins" } });
    const { commands } = h.bot.app.core;
    commands.register({
      name: "long",
      description: "A very long reply",
      defaultRole: "guest",
      source: "test",
      handler: () => LONG_TEXT,
    });
    commands.register({
      name: "stream",
      description: "A streamed reply",
      defaultRole: "guest",
      source: "test",
      args: [{ name: "words", description: "How many words", type: "integer", required: true }],
      handler: async (ctx) => {
        const sent = await ctx.reply("…");
        const edits: Array<Promise<void>> = [];
        let text = "";
        for (let i = 1; i <= Number(ctx.args[0]); i++) {
          text += `token${i} `;
          edits.push(ctx.edit(sent, text.trim()));
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        await Promise.all(edits);
      },
    });
    commands.register({
      name: "slow",
      description: "Answers after the 3-second window",
      defaultRole: "guest",
      source: "test",
      handler: async () => {
        await new Promise((resolve) => setTimeout(resolve, 2_200));
        return "done slowly";
      },
    });
  });
  afterAll(async () => {
    await h?.stop();
  });

  const callbackOf = (interaction: Record<string, unknown>) =>
    h.discord.waitForRequest((r) =>
      r.path.endsWith(`/interactions/${interaction.id as string}/${interaction.token as string}/callback`),
    );

  const guildSpec = (name: string, user = h.discord.users.alice, extra: Record<string, unknown> = {}) => ({
    name,
    user,
    guildId: h.discord.guild.id,
    channelId: h.discord.channelId,
    ...extra,
  });

  it("answers /help from an application command through the router", async () => {
    const interaction = h.discord.dispatchInteraction(guildSpec("help"));
    const callback = await callbackOf(interaction);
    const body = callback.body as { type: number; data: { content: string; allowed_mentions: unknown } };
    expect(callback.status).toBe(204);
    expect(body.type).toBe(4);
    expect(body.data.content).toContain("/help");
    expect(body.data.allowed_mentions).toEqual({ parse: [] });
    expect(h.adapter.health()).toMatchObject({ platform: "discord", state: "up" });
    expect(h.adapter.health().lastApiOkAt).not.toBeNull();
  });

  it("registers every command with typed options, and re-publishes when the registry changes", async () => {
    await h.discord.until(() => (h.discord.commands.get("global") ?? []).some((c) => c.name === "stream"));
    const registered = h.discord.commands.get("global")!;
    expect(registered.map((c) => c.name)).toEqual(
      expect.arrayContaining(["help", "whoami", "perms", "long", "stream"]),
    );
    const stream = registered.find((c) => c.name === "stream")!;
    expect(stream.options).toEqual([{ type: 4, name: "words", description: "How many words", required: true }]);
    // A command tree is published as real sub-commands with their own typed options.
    type Option = { type: number; name: string; choices?: unknown[]; options?: Option[] };
    const perms = registered.find((c) => c.name === "perms")!;
    const set = (perms.options as Option[]).find((o) => o.name === "set")!;
    expect(set.type).toBe(1);
    const role = set.options!.find((o) => o.name === "role")!;
    expect(role.choices).toContainEqual({ name: "admin", value: "admin" });
    const put = await h.discord.waitForRequest(
      (r) => r.method === "PUT" && r.path.endsWith(`/applications/${h.discord.applicationId}/commands`),
    );
    expect(put.headers.authorization).toBe(`Bot ${h.discord.token}`);
  });

  it("hears a mention in a channel and answers it as a reply", async () => {
    const message = h.discord.dispatchMessage({
      content: `<@${h.discord.bot.id}> /whoami`,
      author: h.discord.users.alice,
      channelId: h.discord.channelId,
      guildId: h.discord.guild.id,
      mentions: [h.discord.bot],
    });
    const post = await h.discord.waitForRequest(
      (r) =>
        r.method === "POST" &&
        r.path.endsWith(`/channels/${h.discord.channelId}/messages`) &&
        (r.body as { message_reference?: { message_id: string } }).message_reference?.message_id === message.id,
    );
    expect((post.body as { content: string }).content).toContain("discord:" + h.discord.users.alice.id);
  });

  it("ignores channel chatter that does not mention the bot", async () => {
    const before = h.discord.requests.length;
    h.discord.dispatchMessage({
      content: "/help",
      author: h.discord.users.alice,
      channelId: h.discord.channelId,
      guildId: h.discord.guild.id,
    });
    const marker = h.discord.dispatchInteraction(guildSpec("whoami"));
    await callbackOf(marker);
    const since = h.discord.requests.slice(before);
    expect(since.filter((r) => r.path.endsWith("/messages") && r.method === "POST")).toHaveLength(0);
  });

  it("handles a redelivered interaction once", async () => {
    const interaction = h.discord.dispatchInteraction(guildSpec("help"));
    h.discord.gateway.dispatch("INTERACTION_CREATE", interaction);
    await callbackOf(interaction);
    const marker = h.discord.dispatchInteraction(guildSpec("whoami"));
    await callbackOf(marker);
    const callbacks = h.discord.requests.filter((r) => r.path.includes(`/interactions/${interaction.id as string}/`));
    expect(callbacks).toHaveLength(1);
  });

  it("honours a 429 with retry_after and then delivers", async () => {
    h.discord.rateLimitNext({
      method: "POST",
      path: new RegExp(`/channels/${h.discord.channelId}/messages$`),
      retryAfterSec: 0.4,
    });
    const started = Date.now();
    const sent = await h.adapter.send(
      { platform: "discord", chatId: h.discord.channelId },
      { text: "after the limit" },
    );
    const attempts = h.discord.requests.filter(
      (r) => r.method === "POST" && r.at >= started && r.path.endsWith(`/channels/${h.discord.channelId}/messages`),
    );
    expect(attempts.map((r) => r.status)).toEqual([429, 200]);
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(380);
    expect(h.discord.findMessage(sent.messageId)?.content).toBe("after the limit");
  });

  it("splits a 10,000-character reply into messages of at most 2000 characters, in order", async () => {
    expect(LONG_TEXT.length).toBeGreaterThanOrEqual(10_000);
    const interaction = h.discord.dispatchInteraction(guildSpec("long"));
    await callbackOf(interaction);
    const stored = h.discord.interactions.get(interaction.id as string)!;
    const contentsNow = () =>
      [stored.originalId!, ...stored.followupIds].map((id) => h.discord.findMessage(id)!.content);
    await h.discord.until(() => contentsNow().join(" ").length >= LONG_TEXT.length);
    const contents = contentsNow();
    expect(contents.length).toBeGreaterThanOrEqual(Math.ceil(LONG_TEXT.length / 2_000));
    for (const c of contents) expect(c.length).toBeLessThanOrEqual(2_000);
    expect(contents.join(" ")).toBe(LONG_TEXT);
  });

  it("streams a reply as throttled edits that end in the full text", async () => {
    const interaction = h.discord.dispatchInteraction(
      guildSpec("stream", h.discord.users.alice, { options: [{ name: "words", type: 4, value: 40 }] }),
    );
    const stored = () => h.discord.interactions.get(interaction.id as string)!;
    const full = Array.from({ length: 40 }, (_, i) => `token${i + 1}`).join(" ");
    await h.discord.until(
      () => stored().originalId !== undefined && h.discord.findMessage(stored().originalId!)?.content === full,
      15_000,
    );
    const edits = h.discord.requests.filter(
      (r: RecordedRequest) =>
        r.method === "PATCH" && r.path.includes(`/webhooks/${h.discord.applicationId}/${interaction.token as string}/`),
    );
    expect(edits.length).toBeGreaterThan(0);
    expect(edits.length).toBeLessThan(40);
    expect((edits[edits.length - 1]!.body as { content: string }).content).toBe(full);
  });

  it("defers an interaction whose handler is slower than the window, then edits the deferred answer", async () => {
    const interaction = h.discord.dispatchInteraction(guildSpec("slow"));
    const callback = await callbackOf(interaction);
    expect((callback.body as { type: number }).type).toBe(5);
    const patch = await h.discord.waitForRequest(
      (r) => r.method === "PATCH" && r.path.endsWith(`/${interaction.token as string}/messages/@original`),
    );
    expect((patch.body as { content: string }).content).toBe("done slowly");
  });

  it("uses the platform role: Manage Guild may run /audit, a plain member may not", async () => {
    const asAdmin = h.discord.dispatchInteraction(
      guildSpec("audit", h.discord.users.admin, {
        permissions: (PERMISSION.manageGuild | PERMISSION.sendMessages).toString(),
      }),
    );
    const asMember = h.discord.dispatchInteraction(guildSpec("audit", h.discord.users.alice));
    const adminAnswer = (await callbackOf(asAdmin)).body as { data: { content: string } };
    const memberAnswer = (await callbackOf(asMember)).body as { data: { content: string } };
    expect(memberAnswer.data.content).toMatch(/can't run \/audit.*admin role.*you are member/);
    expect(adminAnswer.data.content).not.toMatch(/can't run/);
    expect(await h.adapter.platformRoleOf!(h.discord.channelId, h.discord.users.owner.id)).toBe("owner");
    expect(await h.adapter.platformRoleOf!(h.discord.channelId, h.discord.users.admin.id)).toBe("admin");
    expect(await h.adapter.platformRoleOf!(h.discord.channelId, h.discord.users.alice.id)).toBe("member");
  });

  it("resumes after the gateway drops, losing and duplicating nothing", async () => {
    const resumesBefore = h.discord.gateway.resumes;
    const identifiesBefore = h.discord.gateway.identifies;
    const reconnectsBefore = h.adapter.health().reconnects!;
    h.discord.gateway.drop(4000);
    const missed = h.discord.dispatchInteraction(guildSpec("whoami"));
    await callbackOf(missed);
    expect(h.discord.gateway.resumes).toBe(resumesBefore + 1);
    expect(h.discord.gateway.identifies).toBe(identifiesBefore);
    const after = h.discord.dispatchInteraction(guildSpec("help"));
    await callbackOf(after);
    expect(h.discord.requests.filter((r) => r.path.includes(`/interactions/${missed.id as string}/`))).toHaveLength(1);
    await h.discord.until(() => h.adapter.health().state === "up");
    expect(h.adapter.health().detail).toMatch(/reconnect/);
    expect(h.adapter.health().reconnects).toBe(reconnectsBefore + 1);
  });

  it("detects a deaf connection (no heartbeat acks) and resumes it", async () => {
    const resumesBefore = h.discord.gateway.resumes;
    h.discord.gateway.goDeaf();
    const message = h.discord.dispatchMessage({
      content: `<@${h.discord.bot.id}> /whoami`,
      author: h.discord.users.alice,
      channelId: h.discord.channelId,
      guildId: h.discord.guild.id,
      mentions: [h.discord.bot],
    });
    await h.discord.waitForRequest(
      (r) =>
        (r.body as { message_reference?: { message_id: string } } | undefined)?.message_reference?.message_id ===
        message.id,
      15_000,
    );
    expect(h.discord.gateway.resumes).toBe(resumesBefore + 1);
    const replies = h.discord.requests.filter(
      (r) =>
        (r.body as { message_reference?: { message_id: string } } | undefined)?.message_reference?.message_id ===
        message.id,
    );
    expect(replies).toHaveLength(1);
  });
});
