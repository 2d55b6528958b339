/**
 * A web chat client as a browser page is one: signed in with a console session's cookie and CSRF token, it reads
 * the event stream (`GET /api/webchat/events`, server-sent events over fetch) and posts messages and button
 * presses. Used where a test needs the wire without Chromium (the adapter contract, the bounds).
 */
import { randomUUID } from "node:crypto";

/** One parsed server-sent event. */
export interface StreamEvent {
  id: number;
  type: string;
  data: Record<string, unknown>;
}

/** See the file comment. */
export class WebChatClient {
  readonly events: StreamEvent[] = [];
  readonly #base: string;
  readonly #cookie: string;
  readonly #csrf: string;
  /** Open streams (a page may open several, as tabs do), closed together by `disconnect`. */
  readonly #open = new Set<AbortController>();
  readonly #reading = new Set<Promise<void>>();
  #lastId = 0;
  readonly #waiters = new Set<() => void>();

  constructor(options: { base: string; cookie: string; csrfToken: string }) {
    this.#base = options.base;
    this.#cookie = options.cookie;
    this.#csrf = options.csrfToken;
  }

  /** The id of the last event read. */
  get lastId(): number {
    return this.#lastId;
  }

  /** Open the stream after the last event read; resolves with the answer's status once the headers are in. */
  async connect(): Promise<number> {
    const abort = new AbortController();
    const res = await fetch(`${this.#base}/api/webchat/events?after=${this.#lastId}`, {
      headers: { cookie: this.#cookie, accept: "text/event-stream" },
      signal: abort.signal,
    });
    if (res.status !== 200 || res.body === null) {
      await res.body?.cancel();
      return res.status;
    }
    this.#open.add(abort);
    const reading = this.#read(res.body).catch(() => undefined);
    this.#reading.add(reading);
    void reading.then(() => {
      this.#reading.delete(reading);
      this.#open.delete(abort);
    });
    return res.status;
  }

  /** Close every open stream (as tabs going away do). */
  disconnect(): void {
    for (const abort of this.#open) abort.abort();
    this.#open.clear();
  }

  /** Wait until an event matching `test` has been read. */
  async waitFor(test: (e: StreamEvent) => boolean, timeoutMs = 10_000): Promise<StreamEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.find(test);
      if (hit !== undefined) return hit;
      if (Date.now() > deadline) throw new Error(`no matching web chat event within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.#waiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Say something; answers the status and the client id used. */
  async say(text: string, clientId: string = randomUUID()): Promise<{ status: number; clientId: string }> {
    const res = await this.post("/api/webchat/messages", { text, clientId });
    return { status: res.status, clientId };
  }

  /** Say something with files, as the page sends them (base64 in the JSON); the answer's status and error code. */
  async sayWithFiles(
    text: string,
    files: Array<{ name: string; mimeType: string; bytes: Uint8Array }>,
  ): Promise<{ status: number; clientId: string; error?: string }> {
    const clientId = randomUUID();
    const res = await fetch(`${this.#base}/api/webchat/messages`, {
      method: "POST",
      headers: { cookie: this.#cookie, "content-type": "application/json", "x-csrf-token": this.#csrf },
      body: JSON.stringify({
        text,
        clientId,
        files: files.map((f) => ({
          name: f.name,
          mimeType: f.mimeType,
          data: Buffer.from(f.bytes).toString("base64"),
        })),
      }),
    });
    const body = (await res.json().catch(() => ({}))) as { error?: string };
    return { status: res.status, clientId, ...(body.error === undefined ? {} : { error: body.error }) };
  }

  /** Download a file the bot sent (`url` from a `file` event), as the page's link does. */
  async download(url: string): Promise<{ status: number; bytes: Uint8Array; headers: Headers }> {
    const res = await fetch(`${this.#base}${url}`, { headers: { cookie: this.#cookie } });
    return { status: res.status, bytes: new Uint8Array(await res.arrayBuffer()), headers: res.headers };
  }

  /** Press a button of a message. */
  async press(messageId: string, data: string): Promise<{ status: number; clientId: string }> {
    const clientId = randomUUID();
    const res = await this.post("/api/webchat/buttons", { messageId, data, clientId });
    return { status: res.status, clientId };
  }

  /** A POST with the session's cookie and CSRF token (or without the token: `csrf: false`). */
  async post(path: string, body: unknown, options: { csrf?: boolean } = {}): Promise<Response> {
    const res = await fetch(`${this.#base}${path}`, {
      method: "POST",
      headers: {
        cookie: this.#cookie,
        "content-type": "application/json",
        ...(options.csrf === false ? {} : { "x-csrf-token": this.#csrf }),
      },
      body: JSON.stringify(body),
    });
    await res.arrayBuffer();
    return res;
  }

  async close(): Promise<void> {
    this.disconnect();
    await Promise.all(this.#reading);
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of body) {
      buffer += decoder.decode(chunk, { stream: true });
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        this.#parse(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf("\n\n");
      }
    }
  }

  #parse(block: string): void {
    let id: number | undefined;
    let type = "message";
    let data = "";
    for (const line of block.split("\n")) {
      if (line.startsWith("id: ")) id = Number(line.slice(4));
      else if (line.startsWith("event: ")) type = line.slice(7);
      else if (line.startsWith("data: ")) data += line.slice(6);
    }
    if (id === undefined || data === "") return;
    this.#lastId = id;
    this.events.push({ id, type, data: JSON.parse(data) as Record<string, unknown> });
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
  }
}
