/**
 * The hand-made listener the bot used before Fastify (main at 2e10eb9, `bot/http.ts`), kept for
 * `test/bench/http.ts` only: the webhook benchmark measures the Fastify server against it in the same run.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { SwitchboardError } from "../../bot/errors.ts";
import type { HttpHandler, HttpMount } from "../../bot/model.ts";

/** The listener and its route table. */
export class BaselineHttpListener implements Pick<HttpMount, "route"> {
  readonly #routes = new Map<string, HttpHandler>();
  readonly #log: Logger;
  readonly #maxBodyBytes: number;
  #server: Server | undefined;

  constructor(options: { log: Logger; maxBodyBytes: number }) {
    this.#log = options.log;
    this.#maxBodyBytes = options.maxBodyBytes;
  }

  /** Add a route. A second route on the same method and path is an error. */
  route(method: "GET" | "POST", path: string, handler: HttpHandler): void {
    const key = `${method} ${path}`;
    if (this.#routes.has(key)) throw new Error(`HTTP route ${key} is already mounted`);
    this.#routes.set(key, handler);
  }

  /** Start listening. Resolves with the bound address. */
  async listen(host: string, port: number): Promise<AddressInfo> {
    const server = createServer((req, res) => {
      this.#serve(req, res).catch((error: unknown) => {
        this.#log.error({ err: error, path: req.url }, "http handler failed");
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end("internal error");
      });
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", (error: NodeJS.ErrnoException) => {
        reject(
          error.code === "EADDRINUSE"
            ? new SwitchboardError(
                "E_CONFIG_INVALID",
                `HTTP port ${port} on ${host} is already in use; set http.port (SWITCHBOARD_HTTP__PORT) to a free port, or 0 for any`,
              )
            : error,
        );
      });
      server.listen(port, host, () => resolve());
    });
    return server.address() as AddressInfo;
  }

  /** The bound address, once listening. */
  address(): AddressInfo | undefined {
    const a = this.#server?.address();
    return a !== null && typeof a === "object" ? a : undefined;
  }

  /** Stop accepting and close open connections. */
  async close(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const method = req.method ?? "GET";
    const handler = this.#routes.get(`${method} ${url.pathname}`);
    if (handler === undefined) {
      const known = [...this.#routes.keys()].some((k) => k.endsWith(` ${url.pathname}`));
      res.writeHead(known ? 405 : 404, { "content-type": "text/plain" });
      res.end(known ? "method not allowed" : "not found");
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > this.#maxBodyBytes) {
        res.writeHead(413, { "content-type": "text/plain", connection: "close" });
        res.end("request body too large");
        req.destroy();
        return;
      }
      chunks.push(chunk);
    }
    const answer = await handler({
      method,
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      rawBody: Buffer.concat(chunks),
    });
    res.writeHead(answer.status, answer.headers ?? {});
    res.end(answer.body);
  }
}
