/**
 * The web chat's routes on the shared listener, for console sessions only (an API token has no chat): the event
 * stream, a message, a button press, and closing the chat. The person is the session's; nothing in a request
 * names who speaks.
 */
import { z } from "zod";
import { ApiError, defineRoute, isSwitchboardError, type ApiRoute, type Principal } from "../../bot/index.ts";
import type { WebChatAdapter } from "./adapter.ts";
import type { WebChat } from "./chats.ts";
import { webChatIdOf } from "./adapter.ts";

const errorSchema = z.object({ error: z.string(), message: z.string() });
const accepted = z.object({ accepted: z.literal(true) });
/** Sent when nothing else was, so proxies keep the stream open and a dead client is found. */
const KEEPALIVE_MS = 15_000;
/** A client-made id: letters, digits, `-` and `_`. */
const clientId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/)
  .describe("client-made id; the same id twice is one delivery");

/** Standard base64, as `FileReader.readAsDataURL` gives it after the comma. */
const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, "not base64");
/** A file sent with a message: its bytes as base64, decoded and counted by the adapter against its bounds. */
const upload = z.object({
  name: z.string().trim().min(1).max(255),
  mimeType: z
    .string()
    .regex(/^[\w.+-]+\/[\w.+-]+$/)
    .max(255)
    .default("application/octet-stream"),
  data: base64,
});
/** Types the browser may show rather than download; everything else goes as `application/octet-stream`. */
const INLINE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp", "text/plain", "text/csv"]);

/** The routes, bound to one adapter. */
export function webChatRoutes(adapter: WebChatAdapter): ApiRoute[] {
  const { maxUploadFiles, maxUploadBytes } = adapter.fileLimits;
  // Base64 is 4 bytes for 3; the text and the JSON around the files fit in the rest.
  const messageBodyLimit = Math.ceil((maxUploadBytes * 4) / 3) + 64 * 1024;
  return [
    defineRoute({
      method: "GET",
      url: "/api/webchat/events",
      summary: "The signed-in person's web chat as server-sent events (message, edit, said, typing)",
      tags: ["webchat"],
      access: { scope: "read" },
      raw: true,
      schema: {
        querystring: z.object({ after: z.coerce.number().int().min(0).optional() }),
        response: {
          200: z.string().describe("text/event-stream"),
          403: errorSchema,
          429: errorSchema,
          503: errorSchema,
        },
      },
      handler: async ({ principal, query, headers, signal }) => {
        const p = sessionOf(principal);
        const chat = adapter.chats.open(webChatIdOf(p.userKey));
        if (chat === "too-many-chats") throw new ApiError(503, "E_ADAPTER", "too many web chats are open");
        const lastSeen = Number(headers["last-event-id"]);
        const after = query.after ?? (Number.isSafeInteger(lastSeen) && lastSeen >= 0 ? lastSeen : 0);
        const stream = eventStream({ adapter, chat, sessionId: p.credentialId, after, signal });
        if (stream === "too-many-streams")
          throw new ApiError(429, "E_RATE_LIMITED", "too many web chat streams open for this session");
        if (stream === "closing") throw new ApiError(503, "E_ADAPTER", "the web chat is stopping");
        return {
          status: 200,
          headers: {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-store",
            "x-accel-buffering": "no",
          },
          stream,
        };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/api/webchat/commands",
      summary: "The commands the web chat offers while typing, and the bounds on files with a message",
      tags: ["webchat"],
      access: { scope: "read" },
      schema: {
        response: {
          200: z.object({
            commands: z.array(z.object({ name: z.string(), description: z.string() })),
            files: z.object({ maxUploadFiles: z.number(), maxUploadBytes: z.number() }),
          }),
        },
      },
      handler: async ({ principal }) => {
        sessionOf(principal);
        return {
          status: 200,
          body: { commands: [...adapter.commandMenu()], files: { maxUploadFiles, maxUploadBytes } },
        };
      },
    }),
    defineRoute({
      method: "POST",
      url: "/api/webchat/messages",
      summary: "Say something in the web chat, as the signed-in person",
      tags: ["webchat"],
      access: { scope: "read" },
      bodyLimit: messageBodyLimit,
      schema: {
        body: z
          .object({
            text: z.string().trim().max(20_000).default(""),
            clientId,
            files: z
              .array(upload)
              .max(maxUploadFiles, `at most ${maxUploadFiles} files go with one message`)
              .optional(),
          })
          .refine((b) => b.text !== "" || (b.files?.length ?? 0) > 0, "say something or attach a file"),
        response: { 202: accepted, 400: errorSchema, 403: errorSchema, 413: errorSchema, 503: errorSchema },
      },
      handler: async ({ principal, body }) => {
        const p = sessionOf(principal);
        await receive(adapter, {
          userKey: p.userKey,
          displayName: p.displayName,
          text: body.text,
          clientId: body.clientId,
          ...(body.files === undefined
            ? {}
            : {
                files: body.files.map((f) => ({
                  name: f.name,
                  mimeType: f.mimeType,
                  data: new Uint8Array(Buffer.from(f.data, "base64")),
                })),
              }),
        });
        return { status: 202, body: { accepted: true } };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/api/webchat/files/:id",
      summary: "Download a file the bot sent in the signed-in person's web chat (held for a while, then gone)",
      tags: ["webchat"],
      access: { scope: "read" },
      raw: true,
      schema: {
        params: z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) }),
        response: { 200: z.string().describe("the file's bytes"), 403: errorSchema, 404: errorSchema },
      },
      handler: async ({ principal, params }) => {
        const p = sessionOf(principal);
        const file = adapter.downloads.get(params.id, webChatIdOf(p.userKey));
        // Another person's file and an expired one look alike: nothing says which ids exist.
        if (file === undefined) throw new ApiError(404, "E_NOT_FOUND", "no such file, or it has expired");
        return {
          status: 200,
          headers: {
            "content-type": INLINE_TYPES.has(file.mimeType) ? file.mimeType : "application/octet-stream",
            "content-disposition": `attachment; filename="${asciiName(file.name)}"; filename*=UTF-8''${encodeURIComponent(file.name)}`,
            "content-security-policy": "sandbox; default-src 'none'",
            "cache-control": "private, no-store",
          },
          body: Buffer.from(file.data),
        };
      },
    }),
    defineRoute({
      method: "POST",
      url: "/api/webchat/buttons",
      summary: "Press a button the bot showed in the web chat",
      tags: ["webchat"],
      access: { scope: "read" },
      schema: {
        body: z.object({ messageId: z.string().min(1).max(64), data: z.string().min(1).max(2_000), clientId }),
        response: { 202: accepted, 400: errorSchema, 403: errorSchema, 503: errorSchema },
      },
      handler: async ({ principal, body }) => {
        const p = sessionOf(principal);
        await receive(adapter, {
          userKey: p.userKey,
          displayName: p.displayName,
          text: body.data,
          clientId: body.clientId,
          buttonOf: body.messageId,
        });
        return { status: 202, body: { accepted: true } };
      },
    }),
    defineRoute({
      method: "POST",
      url: "/api/webchat/close",
      summary: "Close the web chat: the bot's messages are refused until a stream opens it again",
      tags: ["webchat"],
      access: { scope: "read" },
      schema: { response: { 200: z.object({ closed: z.literal(true) }), 403: errorSchema } },
      handler: async ({ principal }) => {
        const p = sessionOf(principal);
        const chat = adapter.chats.get(webChatIdOf(p.userKey));
        if (chat !== undefined) chat.isClosed = true;
        return { status: 200, body: { closed: true } };
      },
    }),
  ];
}

/** A file name for the plain `filename=` parameter: ASCII letters, digits and `._-` only. */
function asciiName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 100) || "file";
}

/** The web chat is a person's, in a browser: a console session, not an API token. */
function sessionOf(principal: Principal | undefined): Principal {
  if (principal === undefined) throw new ApiError(401, "E_UNAUTHENTICATED", "sign in first");
  if (principal.via !== "web") throw new ApiError(403, "E_SCOPE", "the web chat is for console sessions");
  return principal;
}

async function receive(adapter: WebChatAdapter, post: Parameters<WebChatAdapter["receive"]>[0]): Promise<void> {
  try {
    await adapter.receive(post);
  } catch (error) {
    if (isSwitchboardError(error) && error.code === "E_BAD_ARGS")
      throw new ApiError(400, error.code, error.chatMessage);
    if (isSwitchboardError(error) && error.code === "E_FILE_TOO_LARGE")
      throw new ApiError(413, error.code, error.chatMessage);
    if (isSwitchboardError(error)) throw new ApiError(503, error.code, error.chatMessage);
    throw error;
  }
}

/**
 * The events of a chat after `after`, then each new one as it comes, with a comment line when idle. Holds one of
 * the session's stream slots until the client goes away (the iterable is closed, its `finally` runs).
 */
function eventStream(o: {
  adapter: WebChatAdapter;
  chat: WebChat;
  sessionId: string;
  after: number;
  signal: AbortSignal;
}): AsyncIterable<string> | "too-many-streams" | "closing" {
  let wake: (() => void) | undefined;
  const reader = {
    wake: () => {
      const w = wake;
      wake = undefined;
      w?.();
    },
  };
  const taken = o.adapter.chats.attach(o.sessionId, o.chat, reader);
  if (taken !== "ok") return taken;
  const { chat, signal } = o;
  signal.addEventListener("abort", reader.wake, { once: true });
  return (async function* () {
    try {
      yield "retry: 2000\n\n";
      let cursor = o.after;
      while (!signal.aborted && !o.adapter.chats.isClosing) {
        const events = chat.after(cursor);
        for (const event of events) {
          yield `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
          cursor = event.id;
          if (event.id > chat.readUpTo) chat.readUpTo = event.id;
        }
        if (events.length > 0) continue;
        let timer: NodeJS.Timeout | undefined;
        const woken = await new Promise<boolean>((resolve) => {
          wake = () => resolve(true);
          timer = setTimeout(() => resolve(false), KEEPALIVE_MS);
        });
        clearTimeout(timer);
        if (!woken) yield ": keep-alive\n\n";
      }
    } finally {
      signal.removeEventListener("abort", reader.wake);
      o.adapter.chats.detach(o.sessionId, chat, reader);
    }
  })();
}
