import { describe, expect, it } from "vitest";
import {
  chatKindOf,
  commandFromSlash,
  decodeSlackText,
  fromButton,
  fromEvent,
  fromSlashCommand,
} from "../../../../adapters/slack/normalise.ts";
import { appMention, commandPayload, directMessage, eventCallback } from "../../../stand-ins/slack/sender.ts";

const options = { botUserId: "UBOT0001", commandPrefix: "", umbrellaCommand: "switchboard", nowMs: 1_000 };

describe("Slack payloads → Inbound", () => {
  it("normalises a slash command with its trigger id as the delivery id", () => {
    const n = fromSlashCommand(
      commandPayload({
        command: "/perms",
        text: "set deploy admin",
        channel_id: "C1",
        channel_name: "ops",
        trigger_id: "trig-1",
        response_url: "http://127.0.0.1/r",
      }),
      options,
    )!;
    expect(n.inbound).toMatchObject({
      deliveryId: "slack:cmd:trig-1",
      platform: "slack",
      chat: { id: "C1", kind: "group", title: "ops" },
      user: { id: "U0000001", displayName: "alice" },
      text: "/perms set deploy admin",
      command: { name: "perms", args: ["set", "deploy", "admin"], rawArgs: "set deploy admin" },
    });
    expect(n.reply).toEqual({ channel: "C1", userId: "U0000001", responseUrl: "http://127.0.0.1/r" });
  });

  it("treats D channels and directmessage as DMs", () => {
    expect(
      fromSlashCommand(commandPayload({ command: "/help", channel_id: "D1", channel_name: "directmessage" }), options)!
        .inbound.chat,
    ).toEqual({ id: "D1", kind: "dm" });
    expect(chatKindOf("G123")).toBe("group");
    expect(chatKindOf("C123", "im")).toBe("dm");
  });

  it("resolves the umbrella command, the configured prefix and Slack-reserved names", () => {
    expect(commandFromSlash("/switchboard", "whoami", options)).toMatchObject({
      text: "/whoami",
      command: { name: "whoami" },
    });
    expect(commandFromSlash("/switchboard", "", options)).toMatchObject({ text: "/help", command: { name: "help" } });
    expect(commandFromSlash("/sb-help", "", { ...options, commandPrefix: "sb-" })).toMatchObject({
      command: { name: "help" },
    });
    expect(commandFromSlash("/sb-status", "", options)).toMatchObject({ text: "/status", command: { name: "status" } });
  });

  it("returns undefined for a command without user or channel (the adapter logs and skips it)", () => {
    expect(fromSlashCommand({ command: "/help", channel_id: "C1" }, options)).toBeUndefined();
    expect(fromSlashCommand({ user_id: "U1", channel_id: "C1" }, options)).toBeUndefined();
  });

  it("decodes Slack's escaped text and link forms", () => {
    expect(decodeSlackText("a &lt;b&gt; &amp; <https://x.dev|x.dev> <#C1|ops> <!here> <@U42|bob>")).toBe(
      "a <b> & https://x.dev #ops @here <@U42>",
    );
  });

  it("turns a mention into conversation text without the bot's own mention, in its thread", () => {
    const n = fromEvent(
      eventCallback(appMention({ text: "<@UBOT0001> deploy &amp; check", ts: "2.0", threadTs: "1.0" }), "Ev1"),
      options,
    )!;
    expect(n.inbound).toMatchObject({
      deliveryId: "slack:Ev1",
      text: "deploy & check",
      mentionsBot: true,
      threadId: "1.0",
      messageId: "2.0",
      chat: { kind: "group" },
    });
    expect(n.inbound.command).toBeUndefined();
    expect(n.reply.threadTs).toBe("1.0");
    expect(
      fromEvent(eventCallback(appMention({ text: "<@UBOT0001> /whoami" }), "Ev2"), options)!.inbound.command?.name,
    ).toBe("whoami");
  });

  it("takes DMs and skips edits, bot posts, its own messages and channel chatter", () => {
    expect(fromEvent(eventCallback(directMessage({ text: "hi" }), "Ev3"), options)!.inbound.chat.kind).toBe("dm");
    const skip = (event: Record<string, unknown>) => fromEvent(eventCallback(event, "Ev4"), options);
    expect(skip({ ...directMessage({ text: "x" }), subtype: "message_changed" })).toBeUndefined();
    expect(skip({ ...directMessage({ text: "x" }), bot_id: "B1" })).toBeUndefined();
    expect(skip(directMessage({ text: "x", user: "UBOT0001" }))).toBeUndefined();
    expect(
      skip({ type: "message", channel: "C1", channel_type: "channel", user: "U1", text: "x", ts: "1.0" }),
    ).toBeUndefined();
    expect(skip({ type: "reaction_added", user: "U1" })).toBeUndefined();
    expect(fromEvent({ event: directMessage({ text: "x" }) }, options)).toBeUndefined();
  });

  it("turns a button click into the command it carries", () => {
    const n = fromButton(
      {
        trigger_id: "t1",
        user: { id: "U1", name: "alice" },
        channel: { id: "C1" },
        message: { ts: "5.0", thread_ts: "4.0" },
        response_url: "http://127.0.0.1/r",
        actions: [{ value: "/poll close 3", action_ts: "9.9" }],
      },
      options,
    )!;
    expect(n.inbound).toMatchObject({
      deliveryId: "slack:act:t1:9.9",
      origin: "button",
      text: "/poll close 3",
      threadId: "4.0",
      command: { name: "poll", args: ["close", "3"] },
    });
    expect(fromButton({ user: { id: "U1" }, channel: { id: "C1" }, actions: [] }, options)).toBeUndefined();
  });
});
