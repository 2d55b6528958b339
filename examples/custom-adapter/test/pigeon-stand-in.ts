/**
 * A stand-in Pigeon server (node:http): holds the messages the bot sent, queues messages from users for
 * `GET /updates`, keeps the command menu, and can refuse the next send (429 with Retry-After, or 403).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { ChatKind } from "switchboard";
import type { PigeonUpdate } from "../src/pigeon-adapter.ts";

/** One message the bot sent, as Pigeon holds it. */
export interface PigeonMessage {
  chatId: string;
  threadId?: string;
  messageId: string;
  html: string;
}

/** The running stand-in. */
export interface PigeonStandIn {
  url: string;
  token: string;
  messages: PigeonMessage[];
  commands: Array<{ name: string; description: string }>;
  sendAttempts: number;
  /** Queue a message from a user; resolves with its update id. */
  push(input: { text: string; chatKind?: ChatKind; inThread?: boolean }): number;
  failNextSend(failure: { kind: "rate-limit"; retryAfterSeconds: number } | { kind: "forbidden" }): void;
  close(): Promise<void>;
}

/** Start a stand-in Pigeon on a free port. */
export async function startPigeon(): Promise<PigeonStandIn> {
  const token = "pigeon-test-token";
  const updates: PigeonUpdate[] = [];
  const waiting = new Set<() => void>();
  let nextFailure: Parameters<PigeonStandIn["failNextSend"]>[0] | undefined;
  let nextId = 0;
  const state: Omit<PigeonStandIn, "url" | "close"> = {
    token,
    messages: [],
    commands: [],
    sendAttempts: 0,
    push({ text, chatKind = "group", inThread = false }) {
      const updateId = ++nextId;
      updates.push({
        updateId,
        messageId: `in-${updateId}`,
        chat: { id: chatKind === "dm" ? "u-7" : "c-42", kind: chatKind },
        user: { id: "u-7", name: "Ada" },
        ...(inThread ? { threadId: "t-1" } : {}),
        text,
      });
      for (const wake of waiting) wake();
      return updateId;
    },
    failNextSend(failure) {
      nextFailure = failure;
    },
  };

  const server = createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk: Buffer) => (raw += chunk.toString()));
    req.on("end", () => {
      const json = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
      };
      if (req.headers.authorization !== `Bearer ${token}`) return json(401, { error: "bad token" });
      const url = new URL(req.url ?? "/", "http://pigeon");
      const body = raw === "" ? {} : JSON.parse(raw);
      if (req.method === "GET" && url.pathname === "/me") return json(200, { id: "bot", name: "switchboard" });
      if (req.method === "GET" && url.pathname === "/updates") {
        const offset = Number(url.searchParams.get("offset") ?? "0");
        const answer = (): void => {
          waiting.delete(answer);
          clearTimeout(timer);
          json(
            200,
            updates.filter((u) => u.updateId >= offset),
          );
        };
        const timer = setTimeout(answer, 1000);
        if (updates.some((u) => u.updateId >= offset)) answer();
        else waiting.add(answer);
        req.socket.once("close", () => {
          waiting.delete(answer);
          clearTimeout(timer);
        });
        return;
      }
      if (req.method === "POST" && url.pathname === "/messages") {
        state.sendAttempts++;
        const failure = nextFailure;
        nextFailure = undefined;
        if (failure?.kind === "forbidden") return json(403, { error: "the bot was removed from this chat" });
        if (failure?.kind === "rate-limit")
          return json(429, { error: "slow down" }, { "retry-after": String(failure.retryAfterSeconds) });
        const message: PigeonMessage = { chatId: body.chatId, messageId: `out-${++nextId}`, html: body.html };
        if (body.threadId !== undefined) message.threadId = body.threadId;
        state.messages.push(message);
        return json(200, { messageId: message.messageId });
      }
      if (req.method === "POST" && url.pathname === "/messages/edit") {
        const message = state.messages.find((m) => m.chatId === body.chatId && m.messageId === body.messageId);
        if (message === undefined) return json(404, { error: "no such message" });
        message.html = body.html;
        return json(200, { ok: true });
      }
      if (req.method === "PUT" && url.pathname === "/commands") {
        state.commands = body.commands;
        return json(200, { ok: true });
      }
      json(404, { error: "not found" });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const wake of waiting) wake();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}
