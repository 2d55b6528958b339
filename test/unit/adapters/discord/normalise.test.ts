import { describe, expect, it } from "vitest";
import type { CommandArgSpec } from "../../../../bot/index.ts";
import {
  commandFromOptions,
  MalformedPayloadError,
  parseInteraction,
  parseMessage,
} from "../../../../adapters/discord/normalise.ts";
import { interactionPayload, messagePayload, wireUser } from "../../../stand-ins/discord/payloads.ts";

const specs: Record<string, CommandArgSpec[]> = {
  remind: [
    { name: "when", description: "When", type: "string", required: true },
    { name: "text", description: "What", type: "string", rest: true },
  ],
  perms: [
    { name: "action", description: "What", type: "string" },
    { name: "arguments", description: "Args", type: "string", rest: true },
  ],
};
const argSpecsOf = (name: string) => specs[name];
const alice = wireUser("100000000000000001", "alice");
const bot = wireUser("100000000000000009", "switchboard", true);

describe("commandFromOptions", () => {
  it("reads a sub-command's options by the sub-command's own argument specs, flags typed as --name", () => {
    const uninstall: CommandArgSpec[] = [
      { name: "skill", description: "Which", type: "string", required: true },
      { name: "purge", description: "Data too", type: "boolean", flag: true },
    ];
    const byPath = (name: string, path: readonly string[]) =>
      name === "skills" && path.join(" ") === "uninstall" ? uninstall : undefined;
    const wire = (purge: boolean) => [
      {
        name: "uninstall",
        type: 1,
        options: [
          { name: "purge", type: 5, value: purge },
          { name: "skill", type: 3, value: "notes" },
        ],
      },
    ];
    expect(commandFromOptions("skills", wire(true), byPath).rawArgs).toBe("uninstall notes --purge");
    expect(commandFromOptions("skills", wire(false), byPath).rawArgs).toBe("uninstall notes");
  });

  it("orders options as declared and keeps a rest argument unquoted at the end", () => {
    const command = commandFromOptions(
      "remind",
      [
        { name: "text", type: 3, value: "buy milk now" },
        { name: "when", type: 3, value: "10m" },
      ],
      argSpecsOf,
    );
    expect(command).toEqual({ name: "remind", args: ["10m", "buy", "milk", "now"], rawArgs: "10m buy milk now" });
  });

  it("quotes a non-rest value with spaces so it stays one argument", () => {
    const command = commandFromOptions("remind", [{ name: "when", type: 3, value: "next friday" }], argSpecsOf);
    expect(command.args).toEqual(["next friday"]);
    expect(command.rawArgs).toBe('"next friday"');
  });

  it("reads subcommands as leading words and numbers and booleans as text", () => {
    const command = commandFromOptions(
      "config",
      [
        {
          name: "set",
          type: 1,
          options: [
            { name: "limit", type: 4, value: 5 },
            { name: "on", type: 5, value: true },
          ],
        },
      ],
      argSpecsOf,
    );
    expect(command).toEqual({ name: "config", args: ["set", "5", "true"], rawArgs: "set 5 true" });
  });

  it("gives a command with no options empty arguments", () => {
    expect(commandFromOptions("help", undefined, argSpecsOf)).toEqual({ name: "help", args: [], rawArgs: "" });
  });

  it("refuses options that are not a list", () => {
    expect(() => commandFromOptions("help", { name: "x" }, argSpecsOf)).toThrow(MalformedPayloadError);
  });
});

describe("parseInteraction", () => {
  it("normalises a guild command with member permissions", () => {
    const payload = interactionPayload({
      name: "perms",
      options: [{ name: "action", type: 3, value: "show" }],
      user: alice,
      guildId: "200",
      channelId: "300",
      permissions: "32",
      applicationId: "9",
    });
    const parsed = parseInteraction(payload, argSpecsOf);
    expect(parsed).toMatchObject({
      kind: "command",
      chat: { id: "300", kind: "group" },
      guildId: "200",
      permissions: "32",
      user: { id: alice.id, displayName: "alice", isBot: false },
      command: { name: "perms", args: ["show"], rawArgs: "show" },
      text: "/perms show",
      origin: "user",
    });
  });

  it("normalises a DM command with no member", () => {
    const parsed = parseInteraction(
      interactionPayload({ name: "help", user: alice, channelId: "301", applicationId: "9" }),
      argSpecsOf,
    );
    expect(parsed).toMatchObject({
      kind: "command",
      chat: { id: "301", kind: "dm" },
      guildId: undefined,
      permissions: undefined,
      user: { id: alice.id },
    });
  });

  it("turns a button press into its command line", () => {
    const payload = {
      ...interactionPayload({ name: "x", user: alice, guildId: "200", channelId: "300", applicationId: "9" }),
      type: 3,
      data: { component_type: 2, custom_id: "/perms show" },
    };
    expect(parseInteraction(payload, argSpecsOf)).toMatchObject({
      kind: "command",
      origin: "button",
      text: "/perms show",
      command: { name: "perms", args: ["show"] },
    });
  });

  it("recognises PING and leaves other interaction types unsupported", () => {
    expect(parseInteraction({ id: "1", type: 1 }, argSpecsOf)).toEqual({ kind: "ping", id: "1", type: 1 });
    expect(parseInteraction({ id: "2", type: 4, data: { name: "help" } }, argSpecsOf)).toEqual({
      kind: "unsupported",
      id: "2",
      type: 4,
    });
  });

  it("throws MalformedPayloadError for payloads missing what Discord always sends", () => {
    expect(() => parseInteraction("nope", argSpecsOf)).toThrow(MalformedPayloadError);
    expect(() => parseInteraction({ id: "3" }, argSpecsOf)).toThrow(MalformedPayloadError);
    const noToken = interactionPayload({ name: "help", user: alice, channelId: "301", applicationId: "9" });
    delete noToken.token;
    expect(() => parseInteraction(noToken, argSpecsOf)).toThrow(/token/);
  });
});

describe("parseMessage", () => {
  it("takes a guild message that mentions the bot, without the mention", () => {
    const parsed = parseMessage(
      messagePayload({
        content: `<@${bot.id}> /help me`,
        author: alice,
        channelId: "300",
        guildId: "200",
        mentions: [bot],
        roles: ["7"],
      }),
      bot.id,
    );
    expect(parsed).toMatchObject({
      chat: { id: "300", kind: "group" },
      text: "/help me",
      command: { name: "help", args: ["me"] },
      mentionsBot: true,
      roleIds: ["7"],
    });
  });

  it("keeps line breaks in conversation text", () => {
    const parsed = parseMessage(
      messagePayload({ content: `<@!${bot.id}> line one\nline two`, author: alice, channelId: "300", guildId: "200" }),
      bot.id,
    );
    expect(parsed?.text).toBe("line one\nline two");
    expect(parsed?.command).toBeUndefined();
  });

  it("takes every DM, and a guild reply to the bot", () => {
    expect(parseMessage(messagePayload({ content: "hello", author: alice, channelId: "301" }), bot.id)).toMatchObject({
      chat: { kind: "dm" },
      text: "hello",
    });
    const reply = {
      ...messagePayload({ content: "and then?", author: alice, channelId: "300", guildId: "200" }),
      referenced_message: { id: "55", author: bot },
    };
    expect(parseMessage(reply, bot.id)).toMatchObject({
      replyTo: { messageId: "55", isToBot: true },
      mentionsBot: false,
    });
  });

  it("ignores guild chatter, its own messages and other bots", () => {
    expect(
      parseMessage(messagePayload({ content: "/help", author: alice, channelId: "300", guildId: "200" }), bot.id),
    ).toBeUndefined();
    expect(parseMessage(messagePayload({ content: "hi", author: bot, channelId: "301" }), bot.id)).toBeUndefined();
    expect(
      parseMessage(messagePayload({ content: "hi", author: wireUser("5", "other", true), channelId: "301" }), bot.id),
    ).toBeUndefined();
  });

  it("throws MalformedPayloadError for a message without an author", () => {
    const payload = messagePayload({ content: "hi", author: alice, channelId: "301" });
    delete payload.author;
    expect(() => parseMessage(payload, bot.id)).toThrow(MalformedPayloadError);
  });
});
