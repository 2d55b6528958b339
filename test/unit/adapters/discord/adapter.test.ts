/** The Discord adapter against the stand-in with a recording sink (no router): behaviour the e2e tests do not reach. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applicationIdFromToken, createDiscordAdapter } from "../../../../adapters/discord/index.ts";
import { adapterCore, startDiscord, type StartedDiscord } from "../../../stand-ins/discord/harness.ts";

describe("createDiscordAdapter", () => {
  it("returns undefined without a token, or in interactions mode without the public key and application id", () => {
    expect(createDiscordAdapter(adapterCore({}))).toBeUndefined();
    expect(
      createDiscordAdapter(
        adapterCore({ adapters: { discord: { token: "t", mode: "interactions", applicationId: "1" } } }),
      ),
    ).toBeUndefined();
    expect(
      createDiscordAdapter(adapterCore({ adapters: { discord: { token: "t", enabled: false } } })),
    ).toBeUndefined();
    const adapter = createDiscordAdapter(adapterCore({ adapters: { discord: { token: "t" } } }));
    expect(adapter?.platform).toBe("discord");
    expect(adapter?.capabilities.maxTextLength).toBe(2_000);
  });

  it("reads the application id a bot token carries", () => {
    const token = `${Buffer.from("123456789012345678").toString("base64")}.abc.def`;
    expect(applicationIdFromToken(token)).toBe("123456789012345678");
    expect(applicationIdFromToken("not-a-token")).toBeUndefined();
  });
});

describe("Discord adapter (gateway, recording sink)", () => {
  let d: StartedDiscord;
  beforeAll(async () => {
    d = await startDiscord({}, { limits: { maxInboundChars: 100 } });
  });
  afterAll(async () => {
    await d?.close();
  });

  const guild = () => ({ guildId: d.standIn.guild.id, channelId: d.standIn.channelId });

  it("logs and skips malformed gateway payloads, and keeps serving", async () => {
    d.standIn.gateway.dispatch("INTERACTION_CREATE", { id: "1", type: 2, data: { name: "help" } });
    d.standIn.gateway.dispatch("MESSAGE_CREATE", { id: "2", channel_id: d.standIn.dmChannelId, content: "no author" });
    d.standIn.gateway.dispatch("MESSAGE_CREATE", "garbage");
    const good = d.standIn.dispatchMessage({
      content: "still here",
      author: d.standIn.users.alice,
      channelId: d.standIn.dmChannelId,
    });
    const inbound = await d.sink.waitFor(`discord:${good.id as string}`);
    expect(inbound.text).toBe("still here");
    expect(d.sink.received.map((i) => i.deliveryId)).not.toContain("discord:2");
    expect(d.adapter.health().state).toBe("up");
  });

  it("refuses an oversized message politely and does not hand it on", async () => {
    const big = d.standIn.dispatchMessage({
      content: "x".repeat(150),
      author: d.standIn.users.alice,
      channelId: d.standIn.dmChannelId,
    });
    const reply = await d.standIn.waitForRequest(
      (r) =>
        (r.body as { message_reference?: { message_id: string } } | undefined)?.message_reference?.message_id ===
        big.id,
    );
    expect((reply.body as { content: string }).content).toMatch(/too long/);
    expect(d.sink.received.map((i) => i.deliveryId)).not.toContain(`discord:${big.id as string}`);
  });

  it("sends buttons as components and hands a button press on as its command line", async () => {
    const interaction = d.standIn.dispatchInteraction({ name: "ask", user: d.standIn.users.alice, ...guild() });
    const inbound = await d.sink.waitFor(`discord:${interaction.id as string}`);
    await inbound.respond({ text: "Sure?", buttons: [[{ label: "Yes", data: "/confirm yes" }]] });
    const callback = await d.standIn.waitForRequest((r) =>
      r.path.includes(`/interactions/${interaction.id as string}/`),
    );
    expect((callback.body as { data: { components: unknown[] } }).data.components).toHaveLength(1);
    const press = d.standIn.makeInteraction({ name: "ask", user: d.standIn.users.alice, ...guild() });
    d.standIn.gateway.dispatch("INTERACTION_CREATE", {
      ...press,
      type: 3,
      data: { component_type: 2, custom_id: "/confirm yes" },
      message: { id: "1", channel_id: d.standIn.channelId, content: "Sure?", author: d.standIn.bot },
    });
    const pressed = await d.sink.waitFor(`discord:${press.id as string}`);
    expect(pressed).toMatchObject({
      origin: "button",
      text: "/confirm yes",
      command: { name: "confirm", args: ["yes"] },
    });
  });

  it("grows a channel message into a chain when an edit outgrows 2000 characters, and shrinks it back", async () => {
    const target = { platform: "discord", chatId: d.standIn.channelId };
    const sent = await d.adapter.send(target, { text: "short" });
    const long = Array.from({ length: 900 }, (_, i) => `w${i}`).join(" ");
    await d.adapter.edit(sent, { text: long });
    const inChannel = () => d.standIn.channelMessages(d.standIn.channelId);
    const firstIndex = inChannel().findIndex((m) => m.id === sent.messageId);
    const chain = inChannel().slice(firstIndex);
    expect(chain.length).toBeGreaterThanOrEqual(2);
    expect(chain.map((m) => m.content).join(" ")).toBe(long);
    await d.adapter.edit(sent, { text: "short again" });
    const after = inChannel().slice(firstIndex);
    expect(after.map((m) => m.content)).toEqual(["short again"]);
  });

  it("caches role lookups", async () => {
    const count = () => d.standIn.requests.filter((r) => r.path.includes("/members/")).length;
    const before = count();
    expect(await d.adapter.platformRoleOf!(d.standIn.channelId, d.standIn.users.admin.id)).toBe("admin");
    expect(await d.adapter.platformRoleOf!(d.standIn.channelId, d.standIn.users.admin.id)).toBe("admin");
    expect(count() - before).toBeLessThanOrEqual(1);
    expect(await d.adapter.platformRoleOf!(d.standIn.dmChannelId, d.standIn.users.alice.id)).toBe("member");
    expect(await d.adapter.platformRoleOf!("999", d.standIn.users.alice.id)).toBeUndefined();
  });

  it("gives messages a typing indicator", async () => {
    const message = d.standIn.dispatchMessage({
      content: "hi",
      author: d.standIn.users.alice,
      channelId: d.standIn.dmChannelId,
    });
    const inbound = await d.sink.waitFor(`discord:${message.id as string}`);
    await inbound.typing!();
    expect(d.standIn.requests.some((r) => r.path.endsWith(`/channels/${d.standIn.dmChannelId}/typing`))).toBe(true);
  });
});

describe("Discord command registration per guild", () => {
  it("registers in each configured guild instead of globally", async () => {
    const d = await startDiscord({}, {});
    try {
      const guildCore = adapterCore({
        adapters: {
          discord: {
            token: d.standIn.token,
            applicationId: d.standIn.applicationId,
            apiRoot: d.standIn.apiRoot,
            guildIds: [d.standIn.guild.id],
            mode: "interactions",
            publicKey: "a".repeat(64),
          },
        },
      });
      const adapter = createDiscordAdapter(guildCore)!;
      await adapter.registerCommands([{ name: "help", description: "Help" }]);
      expect(d.standIn.commands.get(d.standIn.guild.id)?.map((c) => c.name)).toEqual(["help"]);
      expect(d.standIn.commands.has("global")).toBe(false);
      await adapter.stop();
    } finally {
      await d.close();
    }
  });
});

describe("Discord gateway watchdog", () => {
  it("restarts a connection that reconnected to a silent gateway, and serves again", { timeout: 60_000 }, async () => {
    const d = await startDiscord({ watchdogIntervalMs: 100, deafAfterMs: 2_500 }); // above the 1 s heartbeat
    try {
      const identifies = d.standIn.gateway.identifies;
      d.standIn.gateway.withholdHello(1);
      d.standIn.gateway.drop(4000);
      await d.standIn.until(
        () => d.standIn.gateway.identifies > identifies && d.adapter.health().state === "up",
        20_000,
      );
      const message = d.standIn.dispatchMessage({
        content: "back",
        author: d.standIn.users.alice,
        channelId: d.standIn.dmChannelId,
      });
      expect((await d.sink.waitFor(`discord:${message.id as string}`)).text).toBe("back");
      expect(d.adapter.health().detail).toMatch(/reconnect/);
      // The old client may live on (see gateway.ts, destroyClient); its events are ignored: delivered once.
      const again = d.standIn.dispatchMessage({
        content: "once",
        author: d.standIn.users.alice,
        channelId: d.standIn.dmChannelId,
      });
      await d.sink.waitFor(`discord:${again.id as string}`);
      expect(d.sink.received.filter((i) => i.deliveryId === `discord:${again.id as string}`)).toHaveLength(1);
    } finally {
      await d.close();
    }
  });
});

describe("Discord interaction deferral", () => {
  it("keeps an ephemeral reply private after a public deferral: deletes the deferred answer and follows up with flag 64", async () => {
    const d = await startDiscord({ deferAfterMs: 100 });
    try {
      const interaction = d.standIn.dispatchInteraction({
        name: "secret",
        user: d.standIn.users.alice,
        guildId: d.standIn.guild.id,
        channelId: d.standIn.channelId,
      });
      const inbound = await d.sink.waitFor(`discord:${interaction.id as string}`);
      const callback = await d.standIn.waitForRequest((r) =>
        r.path.includes(`/interactions/${interaction.id as string}/`),
      );
      expect((callback.body as { type: number }).type).toBe(5);
      await inbound.respond({ text: "just for you", ephemeral: true });
      const token = interaction.token as string;
      const deleted = d.standIn.requests.find(
        (r) => r.method === "DELETE" && r.path.endsWith(`/${token}/messages/@original`),
      );
      const followup = d.standIn.requests.find(
        (r) => r.method === "POST" && r.path.endsWith(`/webhooks/${d.standIn.applicationId}/${token}`),
      );
      expect(deleted?.status).toBe(204);
      expect(followup?.body).toMatchObject({ content: "just for you", flags: 64 });
      expect(
        d.standIn.requests.some((r) => r.method === "PATCH" && r.path.endsWith(`/${token}/messages/@original`)),
      ).toBe(false);
    } finally {
      await d.close();
    }
  });
});
