/**
 * Scripts for the stand-in LLM servers: what the next request for a model gets. Steps are queued per model
 * (or for any model) and consumed in order; when a queue is empty the fallback step answers (`"ok"` by default).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One scripted answer. */
export type Step =
  | {
      kind: "text";
      text: string;
      chunks?: string[];
      usage?: { input: number; output: number };
      delayMs?: number;
      /** Streamed: the wait between two chunks (none by default: every chunk is written at once). */
      gapMs?: number;
    }
  | {
      kind: "tools";
      calls: Array<{ name: string; arguments: string | Record<string, unknown> }>;
      text?: string;
      delayMs?: number;
    }
  | { kind: "error"; status: number; message?: string; headers?: Record<string, string> }
  /** Send the headers and the first chunk, then hang until the client gives up. */
  | { kind: "hang"; text?: string }
  /** Answer from the request (e.g. echo the last tool result). */
  | { kind: "fn"; fn: (req: RecordedRequest) => Step };

/** What the stand-in received. */
export interface RecordedRequest {
  model: string;
  stream: boolean;
  body: Record<string, unknown>;
  messages: Array<Record<string, unknown>>;
  /** Names of the tools offered. */
  tools: string[];
  headers: Record<string, string | string[] | undefined>;
}

/** Per-model queues of steps plus a record of requests. */
export class Script {
  readonly requests: RecordedRequest[] = [];
  readonly #queues = new Map<string, Step[]>();
  fallback: Step = { kind: "text", text: "ok" };

  /** Queue steps for a model (`*` for any model). */
  push(model: string, ...steps: Step[]): this {
    const q = this.#queues.get(model) ?? [];
    q.push(...steps);
    this.#queues.set(model, q);
    return this;
  }

  /** Requests for one model. */
  for(model: string): RecordedRequest[] {
    return this.requests.filter((r) => r.model === model);
  }

  /** Take the step for a request and record it. */
  next(req: RecordedRequest): Step {
    this.requests.push(req);
    const step = this.#queues.get(req.model)?.shift() ?? this.#queues.get("*")?.shift() ?? this.fallback;
    return step.kind === "fn" ? step.fn(req) : step;
  }

  /** Forget queued steps and recorded requests. */
  clear(): void {
    this.requests.length = 0;
    this.#queues.clear();
    this.fallback = { kind: "text", text: "ok" };
  }
}

/** Split text into n roughly equal chunks (at least one). */
export function chunk(text: string, n: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / n));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length === 0 ? [""] : out;
}

/** Sleep that a closing server can cut short. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A stand-in HTTP server on 127.0.0.1:0 whose `close` also cuts open (streaming) responses. */
export interface LoopbackServer {
  port: number;
  close(): Promise<void>;
}

/** Listen on a free loopback port; a handler that throws answers 500 with `errorBody(error)` as JSON. */
export async function listenLoopback(
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  errorBody: (error: unknown) => unknown,
): Promise<LoopbackServer> {
  const open = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    open.add(res);
    res.on("close", () => open.delete(res));
    handler(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify(errorBody(error)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of open) res.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Read a request body as a JSON object (an empty body is `{}`). */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return JSON.parse(Buffer.concat(parts).toString("utf8") || "{}") as Record<string, unknown>;
}

/**
 * The images a request carried, as each wire format sends them: OpenAI `image_url` content parts (data URLs) and
 * Ollama `images` (base64), decoded to bytes with their declared type (`undefined` for Ollama, which has none).
 */
export function recordedImages(req: RecordedRequest): Array<{ mimeType: string | undefined; bytes: Buffer }> {
  const out: Array<{ mimeType: string | undefined; bytes: Buffer }> = [];
  for (const m of req.messages) {
    if (Array.isArray(m.images))
      for (const b64 of m.images) out.push({ mimeType: undefined, bytes: Buffer.from(String(b64), "base64") });
    if (!Array.isArray(m.content)) continue;
    for (const part of m.content as Array<{ type?: string; image_url?: { url?: string } }>) {
      const match = part.type === "image_url" ? /^data:([^;]+);base64,(.*)$/.exec(part.image_url?.url ?? "") : null;
      if (match !== null) out.push({ mimeType: match[1], bytes: Buffer.from(match[2]!, "base64") });
    }
  }
  return out;
}
