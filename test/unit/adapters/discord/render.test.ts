import { describe, expect, it } from "vitest";
import { renderDiscordReply } from "../../../../adapters/discord/render.ts";
import { decodeMessage, encodeMessageId } from "../../../../adapters/discord/outbox.ts";
import { discordToPlain } from "../../../stand-ins/discord/plain.ts";

describe("renderDiscordReply", () => {
  it("renders Discord markdown, escapes specials and never pings", () => {
    const [body] = renderDiscordReply({ text: "**hi** @everyone <@123> a*b" }, false);
    expect(body!.content).toBe("**hi** @\u200beveryone \\<@123> a\\*b");
    expect(body!.allowed_mentions).toEqual({ parse: [] });
    expect(discordToPlain(body!.content)).toBe("hi @everyone <@123> a*b");
  });

  it("splits at 2000 characters, keeping a code block closed in each piece", () => {
    const code = Array.from({ length: 300 }, (_, i) => `line ${i}`).join("\n");
    const bodies = renderDiscordReply({ text: `\`\`\`\n${code}\n\`\`\`` }, false);
    expect(bodies.length).toBeGreaterThan(1);
    for (const b of bodies) {
      expect(b.content.length).toBeLessThanOrEqual(2_000);
      expect(b.content.startsWith("```")).toBe(true);
      expect(b.content.endsWith("```")).toBe(true);
    }
    expect(bodies.map((b) => discordToPlain(b.content)).join("\n")).toBe(code);
  });

  it("sets the ephemeral flag only on interaction replies", () => {
    expect(renderDiscordReply({ text: "x", ephemeral: true }, true)[0]!.flags).toBe(64);
    expect(renderDiscordReply({ text: "x", ephemeral: true }, false)[0]!.flags).toBeUndefined();
  });

  it("puts buttons as action rows on the last piece, or a hint line when their data does not fit", () => {
    const bodies = renderDiscordReply(
      {
        text: "pick",
        buttons: [
          [
            { label: "Yes", data: "/confirm yes" },
            { label: "No", data: "/confirm no" },
          ],
        ],
      },
      true,
    );
    expect(bodies[0]!.components).toEqual([
      {
        type: 1,
        components: [
          { type: 2, style: 2, label: "Yes", custom_id: "/confirm yes" },
          { type: 2, style: 2, label: "No", custom_id: "/confirm no" },
        ],
      },
    ]);
    const long = renderDiscordReply(
      { text: "pick", buttons: [[{ label: "Long", data: `/x ${"y".repeat(120)}` }]] },
      true,
    );
    expect(long[0]!.components).toBeUndefined();
    expect(discordToPlain(long[0]!.content)).toContain("Long: /x yyy");
  });

  it("never sends an empty message", () => {
    expect(renderDiscordReply({ text: "" }, false)[0]!.content).toBe("\u200b");
  });
});

describe("message ids", () => {
  it("round-trips channel and interaction message addresses", () => {
    const channel = { kind: "channel" as const, channelId: "1", messageId: "2" };
    const original = { kind: "interaction" as const, channelId: "1", interactionId: "3", messageId: "@original" };
    const followup = { kind: "interaction" as const, channelId: "1", interactionId: "3", messageId: "4" };
    for (const address of [channel, original, followup]) {
      expect(decodeMessage({ chatId: "1", messageId: encodeMessageId(address) })).toEqual(address);
    }
    expect(encodeMessageId(original)).toBe("ix.3.original");
  });
});
