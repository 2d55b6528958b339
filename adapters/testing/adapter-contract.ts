/**
 * The adapter contract: every platform adapter runs this suite against its stand-in platform, through the real
 * SDK. A platform provides a harness (how to make its stand-in deliver a message, what the stand-in received);
 * the suite checks what every adapter must do: id round trip, parse → render, splitting, error mapping,
 * command registration and health.
 *
 * ```ts
 * adapterContract("telegram", async () => makeTelegramHarness());
 * ```
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  conversationId,
  isSwitchboardError,
  parseConversationId,
  type ChannelAdapter,
  type ChatKind,
  type Inbound,
} from "../../bot/index.ts";

/** One message as the stand-in platform holds it. */
export interface ContractMessage {
  chatId: string;
  threadId?: string;
  messageId: string;
  /** What the adapter sent, in the platform's format. */
  raw: string;
}

/** What a platform gives the contract suite. The adapter must already be started with a recording sink. */
export interface AdapterHarness {
  adapter: ChannelAdapter;
  /** Make the stand-in deliver a message from a user; resolves with the Inbound the adapter handed to its sink. */
  deliver(input: { text: string; chatKind?: ChatKind; inThread?: boolean }): Promise<Inbound>;
  /** Messages the stand-in received from the bot, oldest first (edits change `raw` in place). */
  messages(): ContractMessage[];
  /** What a reader sees for a message in the platform's format (markup removed, entities decoded). */
  toPlain(raw: string): string;
  /** A message's length as the platform counts it against `capabilities.maxTextLength`. */
  measure(raw: string): number;
  /** The native command menu as the stand-in holds it (union of every scope). */
  registeredCommands(): Array<{ name: string; description: string }>;
  /** Make the stand-in refuse the next send: a rate limit with retry-after, or a permanent refusal. */
  failNextSend(failure: { kind: "rate-limit"; retryAfterSeconds: number } | { kind: "forbidden" }): void;
  /** How many send attempts reached the stand-in. */
  sendAttempts(): number;
  /**
   * Make the stand-in deliver a person's reaction (`added` or removed) on a message of `chatId`; resolves with
   * the Inbound the adapter handed to its sink. Left out by adapters whose platform has no reactions.
   */
  react?(input: { chatId: string; messageId: string; userId: string; emoji: string; added: boolean }): Promise<Inbound>;
  /**
   * Make the stand-in deliver a message from a user carrying a file; with `foreignUrl`, the payload points the
   * file somewhere other than the platform's file host (a crafted URL). Left out where there are no attachments.
   */
  deliverFile?(input: { name: string; mimeType: string; bytes: Uint8Array; foreignUrl?: string }): Promise<Inbound>;
  /** Files the stand-in received from the bot, oldest first. Left out by adapters that send no files. */
  files?(): Array<{ chatId: string; name: string; mimeType: string; bytes: Uint8Array }>;
  close(): Promise<void>;
}

/** Builds a fresh harness (a started adapter against a fresh stand-in). */
export type HarnessFactory = () => Promise<AdapterHarness>;

const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(" ");

/** Run the adapter contract for one platform. */
export function adapterContract(platform: string, makeHarness: HarnessFactory): void {
  describe(`adapter contract: ${platform}`, () => {
    let h: AdapterHarness;
    beforeAll(async () => {
      h = await makeHarness();
    });
    afterAll(async () => {
      await h?.close();
    });

    const lastMessage = () => {
      const all = h.messages();
      expect(all.length).toBeGreaterThan(0);
      return all[all.length - 1]!;
    };

    it("normalises a delivered command into an Inbound", async () => {
      const inbound = await h.deliver({ text: "/help me now" });
      expect(inbound.platform).toBe(platform);
      expect(inbound.deliveryId).not.toBe("");
      expect(inbound.chat.id).not.toBe("");
      expect(inbound.user.id).not.toBe("");
      expect(inbound.command).toEqual({ name: "help", args: ["me", "now"], rawArgs: "me now" });
      expect(typeof inbound.receivedAt).toBe("number");
    });

    it("gives each delivery its own delivery id", async () => {
      const a = await h.deliver({ text: "/help" });
      const b = await h.deliver({ text: "/help" });
      expect(a.deliveryId).not.toBe(b.deliveryId);
    });

    it("round-trips a conversation id: send reaches the chat the message came from", async () => {
      const inbound = await h.deliver({ text: "/ping" });
      const id = conversationId({
        platform: inbound.platform,
        chatId: inbound.chat.id,
        ...(inbound.threadId === undefined ? {} : { threadId: inbound.threadId }),
      });
      const target = parseConversationId(id);
      expect(target).toEqual({
        platform,
        chatId: inbound.chat.id,
        ...(inbound.threadId === undefined ? {} : { threadId: inbound.threadId }),
      });
      const sent = await h.adapter.send(target, { text: "round trip" });
      expect(sent).toMatchObject({ platform, chatId: inbound.chat.id });
      const got = lastMessage();
      expect(got.chatId).toBe(inbound.chat.id);
      expect(got.messageId).toBe(sent.messageId);
      expect(h.toPlain(got.raw)).toBe("round trip");
    });

    it("normalises a reaction added to and removed from a bot message into reaction Inbounds", async (ctx) => {
      if (h.react === undefined) return ctx.skip();
      const inbound = await h.deliver({ text: "/ping" });
      const sent = await inbound.respond({ text: "rate me" });
      const added = await h.react({
        chatId: sent.chatId,
        messageId: sent.messageId,
        userId: "5151",
        emoji: "👍",
        added: true,
      });
      expect(added).toMatchObject({
        platform,
        chat: { id: sent.chatId },
        user: { id: "5151" },
        text: "",
        reaction: { emoji: "👍", added: true, messageId: sent.messageId },
      });
      expect(added.command).toBeUndefined();
      const removed = await h.react({
        chatId: sent.chatId,
        messageId: sent.messageId,
        userId: "5151",
        emoji: "👍",
        added: false,
      });
      expect(removed.reaction).toMatchObject({ emoji: "👍", added: false, messageId: sent.messageId });
      expect(removed.deliveryId).not.toBe(added.deliveryId);
    });

    it("sends a file with a reply, within the platform's maxFileBytes, byte for byte", async (ctx) => {
      if (h.files === undefined) return ctx.skip();
      expect(h.adapter.capabilities.maxFileBytes).toBeGreaterThan(0);
      const inbound = await h.deliver({ text: "/report" });
      const data = new Uint8Array(3000).map((_, i) => (i * 7) % 256);
      const before = h.files().length;
      await inbound.respond({ text: "Here is the report.", file: { name: "report.bin", data, mimeType: "text/csv" } });
      const files = h.files();
      expect(files).toHaveLength(before + 1);
      expect(files.at(-1)).toMatchObject({ chatId: inbound.chat.id, name: "report.bin" });
      expect(Buffer.from(files.at(-1)!.bytes).equals(Buffer.from(data))).toBe(true);
      expect(h.toPlain(lastMessage().raw)).toBe("Here is the report.");
    });

    it("refuses a file over maxFileBytes with E_FILE_TOO_LARGE and sends nothing of the reply", async (ctx) => {
      if (h.files === undefined) return ctx.skip();
      const max = h.adapter.capabilities.maxFileBytes!;
      const inbound = await h.deliver({ text: "/report" });
      const [files, attempts] = [h.files().length, h.sendAttempts()];
      const data = new Uint8Array(max + 1);
      await expect(inbound.respond({ text: "too big", file: { name: "huge.iso", data } })).rejects.toMatchObject({
        code: "E_FILE_TOO_LARGE",
        chatMessage: expect.stringMatching(/huge\.iso/),
      });
      expect(h.files()).toHaveLength(files);
      expect(h.sendAttempts()).toBe(attempts);
    });

    it("puts a file on an inbound message as an attachment, read within maxBytes and refused past it", async (ctx) => {
      if (h.deliverFile === undefined) return ctx.skip();
      const bytes = new Uint8Array(2048).map((_, i) => (i * 13) % 256);
      const inbound = await h.deliverFile({ name: "notes.txt", mimeType: "text/plain", bytes });
      expect(inbound.attachments).toHaveLength(1);
      const [attachment] = inbound.attachments!;
      expect(attachment).toMatchObject({ name: "notes.txt", mimeType: "text/plain", size: 2048 });
      expect(Buffer.from(await attachment!.fetch({ maxBytes: 4096 })).equals(Buffer.from(bytes))).toBe(true);
      await expect(attachment!.fetch({ maxBytes: 1000 })).rejects.toMatchObject({ code: "E_FILE_TOO_LARGE" });
    });

    it("refuses to read an attachment whose URL points away from the platform's file host", async (ctx) => {
      if (h.deliverFile === undefined) return ctx.skip();
      let hits = 0;
      const foreign = createServer((_req, res) => {
        hits += 1;
        res.end("instance credentials");
      });
      await new Promise<void>((resolve) => foreign.listen(0, "127.0.0.1", resolve));
      try {
        const { port } = foreign.address() as AddressInfo;
        const inbound = await h.deliverFile({
          name: "x.txt",
          mimeType: "text/plain",
          bytes: new Uint8Array(4),
          foreignUrl: `http://127.0.0.1:${port}/latest/meta-data`,
        });
        // Refused, or read from the platform's own host (where the crafted path finds nothing of the foreign one's).
        const read = await inbound.attachments![0]!.fetch({ maxBytes: 1000 }).then(
          (bytes) => Buffer.from(bytes).toString("utf8"),
          (error: unknown) => error,
        );
        expect(read).not.toBe("instance credentials");
        expect(hits).toBe(0);
      } finally {
        foreign.close();
      }
    });

    it("answers with respond where the message came from", async () => {
      const inbound = await h.deliver({ text: "/ping" });
      const sent = await inbound.respond({ text: "pong" });
      expect(sent.chatId).toBe(inbound.chat.id);
      expect(h.toPlain(lastMessage().raw)).toBe("pong");
    });

    it("renders the Markdown subset so a reader sees the text without markers, with specials escaped", async () => {
      const inbound = await h.deliver({ text: "/ping" });
      await inbound.respond({ text: "**bold** _it_ `a<b>&c` [docs](https://example.com/x?a=1&b=2) 1 < 2 & 3 > 2" });
      const got = lastMessage();
      expect(h.toPlain(got.raw)).toBe("bold it a<b>&c docs 1 < 2 & 3 > 2");
      expect(got.raw).not.toBe(h.toPlain(got.raw)); // formatting is present
    });

    it("sends plain-format text verbatim", async () => {
      const inbound = await h.deliver({ text: "/ping" });
      await inbound.respond({ text: "**not bold** <b>", format: "plain" });
      expect(h.toPlain(lastMessage().raw)).toBe("**not bold** <b>");
    });

    it("splits a reply longer than the platform limit into messages within it, losing nothing", async () => {
      const inbound = await h.deliver({ text: "/ping" });
      const max = h.adapter.capabilities.maxTextLength;
      const text = `**start** ${words(Math.ceil((max * 2.5) / 5))}`;
      const before = h.messages().length;
      await inbound.respond({ text });
      const parts = h.messages().slice(before);
      expect(parts.length).toBeGreaterThanOrEqual(3);
      for (const p of parts) expect(h.measure(p.raw)).toBeLessThanOrEqual(max);
      expect(
        parts
          .map((p) => h.toPlain(p.raw))
          .join(" ")
          .split(/\s+/),
      ).toEqual(`start ${words(Math.ceil((max * 2.5) / 5))}`.split(" "));
    }, 60_000);

    it("edits a sent message", async () => {
      const inbound = await h.deliver({ text: "/ping" });
      const sent = await inbound.respond({ text: "working…" });
      await h.adapter.edit(sent, { text: "**done**" });
      const got = h.messages().find((m) => m.messageId === sent.messageId && m.chatId === sent.chatId)!;
      expect(h.toPlain(got.raw)).toBe("done");
    });

    it("maps a platform refusal to an E_ADAPTER SwitchboardError", async () => {
      const inbound = await h.deliver({ text: "/ping" });
      h.failNextSend({ kind: "forbidden" });
      const error = await inbound.respond({ text: "nope" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isSwitchboardError(error)).toBe(true);
      expect((error as { code: string }).code).toBe("E_ADAPTER");
    });

    it("honours a rate limit's retry-after and then delivers", async () => {
      const inbound = await h.deliver({ text: "/ping" });
      const attempts = h.sendAttempts();
      h.failNextSend({ kind: "rate-limit", retryAfterSeconds: 1 });
      const started = Date.now();
      await inbound.respond({ text: "after the wait" });
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(h.sendAttempts() - attempts).toBe(2);
      expect(h.toPlain(lastMessage().raw)).toBe("after the wait");
    });

    it("registers commands in the platform's native menu", async () => {
      await h.adapter.registerCommands([
        { name: "help", description: "Show what I can do" },
        {
          name: "deploy",
          description: "Deploy a service",
          args: [{ name: "service", description: "Which one", type: "string", required: true }],
        },
      ]);
      const menu = h.registeredCommands();
      expect(menu).toEqual(
        expect.arrayContaining([
          { name: "help", description: "Show what I can do" },
          { name: "deploy", description: "Deploy a service" },
        ]),
      );
    });

    it("reports health from real traffic", async () => {
      const health = h.adapter.health();
      expect(health.platform).toBe(platform);
      expect(health.state).toBe("up");
      expect(health.lastInboundAt).not.toBeNull();
      expect(health.lastApiOkAt).not.toBeNull();
    });
  });
}
