/**
 * The stand-in's REST routes (API v10): gateway discovery, command registration, interaction callbacks and
 * webhook edits, channel messages, and the guild/channel/member reads the role lookup makes.
 */
import type { IncomingMessage } from "node:http";
import type { DiscordStandIn, StoredInteraction, StoredMessage, UploadedFile } from "./server.ts";
import { snowflake } from "./payloads.ts";

/** A request as the routes see it. */
export interface RestRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  body: unknown;
  /** Files of a multipart request. */
  files?: UploadedFile[];
}

/** Discord's upload limit for a server without boosts. */
const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

/** A route's answer (204 is sent with no body and no content-type, as Discord does). */
export interface RestAnswer {
  status: number;
  body?: unknown;
}

const notFound = (): RestAnswer => ({ status: 404, body: { message: "404: Not Found", code: 0 } });
const unknownInteraction = (): RestAnswer => ({ status: 404, body: { message: "Unknown interaction", code: 10062 } });

interface MessageBody {
  content?: string;
  flags?: number;
  allowed_mentions?: unknown;
}

function asMessageBody(body: unknown): MessageBody {
  return typeof body === "object" && body !== null ? (body as MessageBody) : {};
}

function tooLong(body: MessageBody): RestAnswer | undefined {
  if ((body.content ?? "").length > 2_000) {
    return {
      status: 400,
      body: {
        message: "Invalid Form Body",
        code: 50035,
        errors: {
          content: { _errors: [{ code: "BASE_TYPE_MAX_LENGTH", message: "Must be 2000 or fewer in length." }] },
        },
      },
    };
  }
  return undefined;
}

function interactionByToken(standIn: DiscordStandIn, token: string): StoredInteraction | undefined {
  for (const i of standIn.interactions.values()) if (i.token === token) return i;
  return undefined;
}

/** Route one request. */
export function handleRest(standIn: DiscordStandIn, req: RestRequest): RestAnswer {
  const parts = req.path
    .replace(/^\/api\/v10/, "")
    .split("/")
    .filter(Boolean);
  const { method } = req;
  const isBotAuthed = req.headers.authorization === `Bot ${standIn.token}`;
  const key = `${method} /${parts.map((p) => (/^\d+$/.test(p) ? ":x" : p)).join("/")}`;

  // Interaction callbacks and webhook routes authenticate by the interaction token, not the bot token.
  if (parts[0] === "interactions" && parts[3] === "callback" && method === "POST") {
    return callback(standIn, req, { id: parts[1]!, token: parts[2]! });
  }
  if (parts[0] === "webhooks" && parts[1] === standIn.applicationId && parts[2] !== undefined) {
    return webhook(standIn, req, { token: parts[2], rest: parts.slice(3) });
  }
  if (!isBotAuthed) return { status: 401, body: { message: "401: Unauthorized", code: 0 } };

  switch (key) {
    case "GET /gateway/bot":
      return {
        status: 200,
        body: {
          url: standIn.url.replace(/^http/, "ws") + "/gateway",
          shards: 1,
          session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 },
        },
      };
    case "GET /users/@me":
      return { status: 200, body: standIn.bot };
    case "PUT /applications/:x/commands":
    case "PUT /applications/:x/guilds/:x/commands": {
      if (parts[1] !== standIn.applicationId) return notFound();
      const scope = parts[2] === "guilds" ? parts[3]! : "global";
      const list = Array.isArray(req.body) ? (req.body as Array<Record<string, unknown>>) : [];
      const saved = list.map((c) => ({
        ...c,
        id: snowflake(),
        application_id: standIn.applicationId,
        version: snowflake(),
        type: c.type ?? 1,
      }));
      standIn.commands.set(scope, saved);
      return { status: 200, body: saved };
    }
    case "POST /channels/:x/messages": {
      const body = asMessageBody(req.body);
      const refused = tooLong(body);
      if (refused !== undefined) return refused;
      const files = req.files ?? [];
      if (files.some((f) => f.bytes.length > MAX_UPLOAD_BYTES))
        return { status: 413, body: { message: "Request entity too large", code: 40005 } };
      if ((body.content ?? "").length === 0 && files.length === 0)
        return { status: 400, body: { message: "Cannot send an empty message", code: 50006 } };
      // enforce_nonce: a create with a nonce this channel saw lately answers with the message made the first time.
      const nonce = (req.body as { nonce?: unknown; enforce_nonce?: unknown } | undefined) ?? {};
      const nonceKey =
        nonce.enforce_nonce === true && typeof nonce.nonce === "string" ? `${parts[1]}:${nonce.nonce}` : undefined;
      const earlier = nonceKey === undefined ? undefined : standIn.nonces.get(nonceKey);
      if (earlier !== undefined) return { status: 200, body: earlier };
      const created = standIn.addMessage(parts[1]!, {
        content: body.content ?? "",
        flags: body.flags ?? 0,
        attachments: files.map((f, i) => ({
          id: `${i}`,
          filename: f.name,
          size: f.bytes.length,
          content_type: f.contentType,
        })),
      });
      for (const file of files) standIn.uploads.push({ channelId: parts[1]!, messageId: created.id, file });
      if (nonceKey !== undefined) standIn.nonces.set(nonceKey, created);
      return { status: 200, body: created };
    }
    case "PATCH /channels/:x/messages/:x": {
      const message = standIn.findMessage(parts[3]!);
      if (message === undefined || message.channel_id !== parts[1])
        return { status: 404, body: { message: "Unknown Message", code: 10008 } };
      return editMessage(message, asMessageBody(req.body));
    }
    case "DELETE /channels/:x/messages/:x": {
      const list = standIn.messages.get(parts[1]!) ?? [];
      if (!list.some((m) => m.id === parts[3]))
        return { status: 404, body: { message: "Unknown Message", code: 10008 } };
      standIn.messages.set(
        parts[1]!,
        list.filter((m) => m.id !== parts[3]),
      );
      return { status: 204 };
    }
    case "POST /channels/:x/typing":
      return { status: 204 };
    case "GET /channels/:x": {
      if (parts[1] === standIn.channelId)
        return { status: 200, body: { id: parts[1], type: 0, guild_id: standIn.guild.id, name: "general" } };
      if (parts[1] === standIn.dmChannelId)
        return { status: 200, body: { id: parts[1], type: 1, recipients: [standIn.users.alice] } };
      return { status: 404, body: { message: "Unknown Channel", code: 10003 } };
    }
    case "GET /guilds/:x":
      if (parts[1] !== standIn.guild.id) return { status: 404, body: { message: "Unknown Guild", code: 10004 } };
      return { status: 200, body: { ...standIn.guild } };
    case "GET /guilds/:x/members/:x": {
      const member = parts[1] === standIn.guild.id ? standIn.members.get(parts[3]!) : undefined;
      if (member === undefined) return { status: 404, body: { message: "Unknown Member", code: 10007 } };
      return { status: 200, body: member };
    }
    default:
      return notFound();
  }
}

function editMessage(message: StoredMessage, body: MessageBody): RestAnswer {
  const refused = tooLong(body);
  if (refused !== undefined) return refused;
  if (body.content !== undefined) message.content = body.content;
  message.edits += 1;
  message.edited_timestamp = new Date().toISOString();
  return { status: 200, body: message };
}

function callback(standIn: DiscordStandIn, req: RestRequest, { id, token }: { id: string; token: string }): RestAnswer {
  const interaction = standIn.interactions.get(id);
  if (interaction === undefined || interaction.token !== token) return unknownInteraction();
  if (interaction.callbacks.length > 0) {
    return { status: 400, body: { message: "Interaction has already been acknowledged.", code: 40060 } };
  }
  const body = req.body as { type?: number; data?: MessageBody } | undefined;
  const type = body?.type;
  if (type !== 4 && type !== 5) return { status: 400, body: { message: "Invalid Form Body", code: 50035 } };
  const data = body?.data ?? {};
  if (type === 4) {
    const refused = tooLong(data);
    if (refused !== undefined) return refused;
  }
  interaction.callbacks.push({ type, data });
  const message = standIn.addMessage(interaction.channelId, {
    content: type === 4 ? (data.content ?? "") : "",
    flags: (data.flags ?? 0) | (type === 5 ? 128 : 0),
    webhook_id: standIn.applicationId,
    interactionId: id,
  });
  interaction.originalId = message.id;
  if (req.query.get("with_response") === "true") {
    return { status: 200, body: { interaction: { id, type: 2 }, resource: { type, message } } };
  }
  return { status: 204 };
}

function webhook(
  standIn: DiscordStandIn,
  req: RestRequest,
  { token, rest }: { token: string; rest: string[] },
): RestAnswer {
  const interaction = interactionByToken(standIn, token);
  if (interaction === undefined) return { status: 404, body: { message: "Unknown Webhook", code: 10015 } };
  const body = asMessageBody(req.body);
  if (rest.length === 0 && req.method === "POST") {
    if (interaction.callbacks.length === 0) return { status: 404, body: { message: "Unknown Webhook", code: 10015 } };
    const refused = tooLong(body);
    if (refused !== undefined) return refused;
    const message = standIn.addMessage(interaction.channelId, {
      content: body.content ?? "",
      flags: body.flags ?? 0,
      webhook_id: standIn.applicationId,
      interactionId: interaction.id,
    });
    interaction.followupIds.push(message.id);
    return { status: 200, body: message };
  }
  if (rest[0] !== "messages" || rest[1] === undefined) return notFound();
  const messageId = rest[1] === "@original" ? interaction.originalId : rest[1];
  const message = messageId === undefined ? undefined : standIn.findMessage(messageId);
  if (message === undefined || message.interactionId !== interaction.id)
    return { status: 404, body: { message: "Unknown Message", code: 10008 } };
  if (req.method === "PATCH") {
    message.flags &= ~128; // no longer "thinking"
    return editMessage(message, body);
  }
  if (req.method === "DELETE") {
    const list = standIn.messages.get(message.channel_id) ?? [];
    standIn.messages.set(
      message.channel_id,
      list.filter((m) => m.id !== message.id),
    );
    return { status: 204 };
  }
  return notFound();
}
