/**
 * The one HTTP listener, owned by the composition root. It binds its port early (a busy port fails start-up in
 * moments) and collects routes while the bot is wired: raw routes for webhooks (adapters get the raw body, for
 * signature checks) and declared JSON routes (`bot/http/routes.ts`). `serve()` then builds the Fastify server
 * from them. Fastify is imported there and only there, so a bot that opens no listener never loads it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { SwitchboardError } from "../errors.ts";
import type { HttpHandler, HttpMount } from "../model.ts";
import type { ApiRoute, Principal } from "./routes.ts";

/** A raw route: method, path and a handler of raw body and headers. */
export interface RawRoute {
  method: "GET" | "POST";
  path: string;
  handler: HttpHandler;
}

/** What the listener asks of sign-in: who holds these credentials, and the CSRF token bound to a session. */
export interface HttpAuthenticator {
  /** Resolve a bearer token or session cookie; undefined when neither is valid (expired, revoked, unknown). */
  authenticate(credentials: {
    bearer: string | undefined;
    sessionCookie: string | undefined;
  }): Promise<{ principal: Principal; csrfToken?: string } | undefined>;
  /** The session cookie's name. */
  readonly cookieName: string;
}

/** Limits of the server, from the `http` config section. */
export interface ListenerOptions {
  log: Logger;
  maxBodyBytes: number;
  /** Requests per minute each client address may make to `/api`. Default 300. */
  apiRatePerMinute?: number;
  /** Trust a reverse proxy's forwarded headers (Fastify's `trustProxy`). Default false. */
  trustProxy?: boolean | string;
  /** Mark cookies `Secure` (the listener is reached over HTTPS, `http.publicUrl`). Default: when the request is. */
  secureCookies?: boolean;
}

/** The listener and its route table. */
export class HttpListener implements HttpMount {
  readonly #raw: RawRoute[] = [];
  readonly #api: ApiRoute[] = [];
  readonly #options: ListenerOptions;
  #authenticator: HttpAuthenticator | undefined;
  #server: Server | undefined;
  #closeServer: (() => Promise<void>) | undefined;
  #serving: Promise<void> | undefined;

  constructor(options: ListenerOptions) {
    this.#options = options;
  }

  /** Add a raw route (webhooks, `/metrics`). A second route on the same method and path is an error. */
  route(method: "GET" | "POST", path: string, handler: HttpHandler): void {
    this.#checkFree(method, path);
    this.#raw.push({ method, path, handler });
  }

  /** Add a declared JSON route. */
  api(route: ApiRoute): void {
    this.#checkFree(route.method, route.url);
    this.#api.push(route);
  }

  /** Who signs callers in; without one every non-public route answers 401. */
  setAuthenticator(authenticator: HttpAuthenticator): void {
    this.#authenticator = authenticator;
  }

  /** The declared JSON routes (the OpenAPI document's source; tests). */
  apiRoutes(): readonly ApiRoute[] {
    return this.#api;
  }

  /**
   * Bind the port. Until `serve()` every request is answered 503: the bot is starting. Resolves with the bound
   * address; a busy port is a config error naming the key to change.
   */
  async listen(host: string, port: number): Promise<AddressInfo> {
    const server = createServer(answerStarting);
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

  /**
   * Build the server from the routes mounted so far and start answering on the bound port. Does nothing when
   * the listener was not bound. Routes mounted afterwards are refused.
   */
  serve(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return Promise.resolve();
    this.#serving ??= (async () => {
      const { buildServer } = await import("./server.ts");
      const built = await buildServer({
        server,
        log: this.#options.log,
        maxBodyBytes: this.#options.maxBodyBytes,
        apiRatePerMinute: this.#options.apiRatePerMinute ?? 300,
        secureCookies: this.#options.secureCookies ?? false,
        trustProxy: this.#options.trustProxy ?? false,
        raw: this.#raw,
        api: this.#api,
        authenticator: () => this.#authenticator,
      });
      server.removeListener("request", answerStarting);
      server.on("request", built.handle);
      this.#closeServer = built.close;
    })();
    return this.#serving;
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
    await this.#serving?.catch(() => undefined);
    await this.#closeServer?.();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  #checkFree(method: string, path: string): void {
    if (this.#serving !== undefined) throw new Error(`HTTP route ${method} ${path} mounted after the server started`);
    const taken =
      this.#raw.some((r) => r.method === method && r.path === path) ||
      this.#api.some((r) => r.method === method && r.url === path);
    if (taken) throw new Error(`HTTP route ${method} ${path} is already mounted`);
  }
}

function answerStarting(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(503, { "content-type": "text/plain", "retry-after": "1" });
  res.end("starting");
}
