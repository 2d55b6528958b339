/**
 * Everything the adapter sends after the first answer: channel messages, interaction follow-ups, and edits.
 * A reply longer than one message becomes a chain (first message + continuations); an edit re-renders the
 * whole reply and edits, adds or deletes chain members so a streamed reply always ends as its full text.
 * Edits are throttled per message (`EditThrottles`). Interaction messages are addressed through the
 * interaction's webhook token, kept for its 15-minute life (in memory and in the shared keyv, so another
 * process can edit too).
 *
 * Message ids: a channel message is its Discord id; an interaction message is `ix.<interactionId>.<original|id>`.
 */
import type Keyv from "keyv";
import { SwitchboardError, type Reply, type SendHooks, type SentMessage } from "../../bot/index.ts";
import { EditThrottles } from "../shared/edit-throttle.ts";
import { assertFileFits, mimeTypeOf } from "../shared/files.ts";
import type { ApiMessage, DiscordApi, MessageBody } from "./api.ts";
import { RecentMap } from "./recent.ts";
import { renderDiscordReply } from "./render.ts";

/** Discord's upload limit for a bot in a server without boosts (10 MB); boosted servers take more. */
export const DISCORD_MAX_FILE_BYTES = 10 * 1024 * 1024;

/** How long Discord accepts an interaction token, in ms. */
export const INTERACTION_TOKEN_TTL_MS = 15 * 60_000;
/** Least time between two edits of one message, in ms (Discord allows about 5 edits per 5 s per channel). */
export const DISCORD_EDIT_INTERVAL_MS = 1_000;

/** Where a sent message lives. */
export type MessageAddress =
  | { kind: "channel"; channelId: string; messageId: string }
  | { kind: "interaction"; channelId: string; interactionId: string; messageId: string };

/** The `SentMessage.messageId` for an address. */
export function encodeMessageId(address: MessageAddress): string {
  if (address.kind === "channel") return address.messageId;
  return `ix.${address.interactionId}.${address.messageId === "@original" ? "original" : address.messageId}`;
}

/** The address a `SentMessage` points to. */
export function decodeMessage(message: Pick<SentMessage, "chatId" | "messageId">): MessageAddress {
  const m = /^ix\.(\d+)\.(original|\d+)$/.exec(message.messageId);
  if (m === null) return { kind: "channel", channelId: message.chatId, messageId: message.messageId };
  return {
    kind: "interaction",
    channelId: message.chatId,
    interactionId: m[1]!,
    messageId: m[2] === "original" ? "@original" : m[2]!,
  };
}

interface Chain {
  /** Every message of the reply after the first, in order. */
  rest: MessageAddress[];
  /** Content last written to each member (first included), to skip no-op edits. */
  contents: string[];
  expiresAt: number;
}

const MAX_CHAINS = 10_000;

/** Options for the outbox. */
export interface OutboxOptions {
  api: DiscordApi;
  kv: Keyv;
  /** Share interaction tokens through `kv` (several processes behind one endpoint); off: this process only. */
  isShared: boolean;
  now(): number;
  editIntervalMs?: number;
}

/** Sends, chains and edits messages. */
export class Outbox {
  readonly #o: OutboxOptions;
  readonly #tokens = new RecentMap<string, { token: string; expiresAt: number }>(MAX_CHAINS);
  readonly #chains = new Map<string, Chain>();
  readonly #throttles: EditThrottles;

  constructor(options: OutboxOptions) {
    this.#o = options;
    this.#throttles = new EditThrottles(options.editIntervalMs ?? DISCORD_EDIT_INTERVAL_MS);
  }

  /** True when this process holds the interaction's token already: it has seen the interaction. */
  knowsInteraction(interactionId: string): boolean {
    return this.#tokens.has(interactionId);
  }

  /**
   * Keep an interaction's token so its messages can be edited and followed up. Returns a promise only when the
   * token is also written to the shared keyv.
   */
  rememberToken(interactionId: string, token: string): Promise<unknown> | undefined {
    const expiresAt = this.#o.now() + INTERACTION_TOKEN_TTL_MS;
    this.#tokens.set(interactionId, { token, expiresAt });
    return this.#o.isShared
      ? this.#o.kv.set(`discord:itok:${interactionId}`, token, INTERACTION_TOKEN_TTL_MS)
      : undefined;
  }

  async #tokenOf(interactionId: string): Promise<string> {
    const hit = this.#tokens.get(interactionId);
    if (hit !== undefined && hit.expiresAt > this.#o.now()) return hit.token;
    const shared = this.#o.isShared ? await this.#o.kv.get<string>(`discord:itok:${interactionId}`) : undefined;
    if (typeof shared === "string") return shared;
    throw new SwitchboardError(
      "E_ADAPTER",
      `interaction ${interactionId} has expired; its messages can no longer be edited`,
      {
        chatMessage: "That reply is too old to update.",
      },
    );
  }

  /** Send a reply to a channel (optionally as a reply to a message). Returns the first message. */
  async sendToChannel(
    channelId: string,
    reply: Reply,
    { replyToMessageId, hooks }: { replyToMessageId?: string | undefined; hooks?: SendHooks | undefined } = {},
  ): Promise<SentMessage> {
    const file = reply.file;
    if (file !== undefined) assertFileFits(file, { maxBytes: DISCORD_MAX_FILE_BYTES, platform: "Discord" });
    const bodies = renderDiscordReply(reply, false);
    const sent: MessageAddress[] = [];
    const key = hooks?.idempotencyKey;
    for (const [i, body] of bodies.entries()) {
      let withRef: MessageBody =
        i === 0 && replyToMessageId !== undefined
          ? {
              ...body,
              message_reference: { message_id: replyToMessageId, fail_if_not_exists: false },
              allowed_mentions: { parse: [], replied_user: false },
            }
          : body;
      // Sent again after a crash with the same nonce, a piece Discord already has is not posted twice.
      if (key !== undefined) withRef = { ...withRef, nonce: `${key}:${i}`, enforce_nonce: true };
      // The file goes with the last piece of the text.
      const files =
        file !== undefined && i === bodies.length - 1
          ? [{ name: file.name, data: file.data, contentType: mimeTypeOf(file) }]
          : undefined;
      const message = await this.#o.api.createMessage(channelId, withRef, files);
      sent.push({ kind: "channel", channelId, messageId: message.id });
    }
    // The reply counts as sent once every piece went out; a crash before that sends them all again, deduped by nonce.
    if (key !== undefined) await hooks?.afterSend?.();
    return this.recordChain(
      sent,
      bodies.map((b) => b.content),
    );
  }

  /** Send follow-ups of an interaction (continuations, later replies). */
  async followup(channelId: string, interactionId: string, bodies: MessageBody[]): Promise<MessageAddress[]> {
    if (bodies.length === 0) return [];
    const token = await this.#tokenOf(interactionId);
    const out: MessageAddress[] = [];
    for (const body of bodies) {
      const message: ApiMessage = await this.#o.api.createFollowup(channelId, token, body);
      out.push({ kind: "interaction", channelId, interactionId, messageId: message.id });
    }
    return out;
  }

  /** The `SentMessage` of an interaction's own answer, when it is the whole reply. */
  original(channelId: string, interactionId: string): SentMessage {
    return { platform: "discord", chatId: channelId, messageId: `ix.${interactionId}.original` };
  }

  /** Remember the messages of one reply (first + continuations) and return the first as a `SentMessage`. */
  recordChain(members: MessageAddress[], contents: string[]): SentMessage {
    const first = members[0]!;
    const id = encodeMessageId(first);
    // A one-message reply needs no record: an edit without one edits that message (and a no-op edit is cheap).
    if (members.length > 1) {
      this.#chains.set(id, { rest: members.slice(1), contents, expiresAt: this.#o.now() + INTERACTION_TOKEN_TTL_MS });
      if (this.#chains.size > MAX_CHAINS) this.#prune(this.#chains);
    }
    return { platform: "discord", chatId: first.channelId, messageId: id };
  }

  /** Edit a sent reply to show `reply` (throttled; the last text always lands). */
  async edit(message: SentMessage, reply: Reply): Promise<void> {
    let latest = reply;
    await this.#throttles.edit(message.messageId, reply.text, async (text) => {
      latest = { ...latest, text };
      await this.#applyEdit(message, latest);
    });
  }

  async #applyEdit(message: SentMessage, reply: Reply): Promise<void> {
    const first = decodeMessage(message);
    const isInteraction = first.kind === "interaction";
    const bodies = renderDiscordReply({ ...reply, ephemeral: false }, false);
    const chain = this.#chains.get(message.messageId) ?? {
      rest: [],
      contents: [],
      expiresAt: this.#o.now() + INTERACTION_TOKEN_TTL_MS,
    };
    const members = [first, ...chain.rest];
    const contents = chain.contents.slice();
    for (const [i, body] of bodies.entries()) {
      const member = members[i];
      if (member === undefined) {
        const added =
          isInteraction && first.kind === "interaction"
            ? (await this.followup(first.channelId, first.interactionId, [body]))[0]!
            : {
                kind: "channel" as const,
                channelId: first.channelId,
                messageId: (await this.#o.api.createMessage(first.channelId, body)).id,
              };
        members.push(added);
        contents[i] = body.content;
        continue;
      }
      if (contents[i] === body.content && body.components === undefined) continue;
      await this.#editOne(member, body);
      contents[i] = body.content;
    }
    for (const extra of members.slice(bodies.length)) await this.#deleteOne(extra);
    this.#chains.set(message.messageId, {
      rest: members.slice(1, bodies.length),
      contents: contents.slice(0, bodies.length),
      expiresAt: chain.expiresAt,
    });
  }

  async #editOne(address: MessageAddress, body: MessageBody): Promise<void> {
    const patch = { content: body.content, allowed_mentions: body.allowed_mentions, components: body.components ?? [] };
    if (address.kind === "channel") await this.#o.api.editMessage(address.channelId, address.messageId, patch);
    else
      await this.#o.api.editInteractionMessage(address.channelId, {
        token: await this.#tokenOf(address.interactionId),
        messageId: address.messageId,
        body: patch,
      });
  }

  async #deleteOne(address: MessageAddress): Promise<void> {
    if (address.kind === "channel") await this.#o.api.deleteMessage(address.channelId, address.messageId);
    else
      await this.#o.api.deleteInteractionMessage(
        address.channelId,
        await this.#tokenOf(address.interactionId),
        address.messageId,
      );
  }

  /** Drop the oldest entries (insertion order is expiry order) down to 90% of the cap: amortised O(1). */
  #prune<T extends { expiresAt: number }>(map: Map<string, T>): void {
    const keep = Math.floor(MAX_CHAINS * 0.9);
    for (const key of map.keys()) {
      if (map.size <= keep) break;
      map.delete(key);
    }
  }

  /** Drop pending edits. */
  stop(): void {
    this.#throttles.cancelAll();
  }
}
