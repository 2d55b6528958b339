/**
 * The Fastify server behind the listener, built once the bot is wired. Loaded by `HttpListener.serve()` only:
 * a bot that opens no listener never imports Fastify.
 *
 * - Raw routes (webhooks, `/metrics`) live in their own scope whose only body parser hands the handler the raw
 *   bytes, up to `maxBodyBytes` (413 beyond).
 * - Declared routes are validated and serialized from their zod schemas through fastify-type-provider-zod, and
 *   documented by @fastify/swagger at `/api/openapi.json`.
 * - A route that is not `public` needs a signed-in principal (401), holding the route's scope (403); a
 *   state-changing call made with a session cookie also needs the session's CSRF token in `x-csrf-token` (403).
 * - Every `/api` route is rate-limited per client address (@fastify/rate-limit, a bounded LRU), and routes may
 *   set a tighter limit of their own (redeeming a sign-in link).
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import cookie from "@fastify/cookie";
import rateLimit from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from "fastify-type-provider-zod";
import type { Logger } from "pino";
import { SwitchboardError } from "../errors.ts";
import type { HttpAuthenticator, RawRoute } from "./listener.ts";
import { ApiError, type ApiAnswer, type ApiRoute, type Principal, type RouteErrorInfo } from "./routes.ts";

/** What `buildServer` needs: the bound server, the routes, the limits and who signs callers in. */
export interface BuildOptions {
  server: Server;
  log: Logger;
  maxBodyBytes: number;
  apiRatePerMinute: number;
  secureCookies: boolean;
  trustProxy: boolean | string;
  raw: readonly RawRoute[];
  api: readonly ApiRoute[];
  authenticator: () => HttpAuthenticator | undefined;
}

/** The header a state-changing cookie-authenticated call carries its CSRF token in. */
export const CSRF_HEADER = "x-csrf-token";

const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** The HTTP status of the error codes a handler may throw; any other code is a 500. */
const STATUS_OF: Partial<Record<string, number>> = {
  E_PERMISSION_DENIED: 403,
  E_NO_POLICY: 403,
  E_BAD_ARGS: 400,
  E_SCHEDULE_INVALID: 400,
  E_NOT_FOUND: 404,
  E_CONFLICT: 409,
  E_RATE_LIMITED: 429,
};

/** Per-route settings read by the hooks below. */
interface RouteConfig {
  access?: ApiRoute["access"];
  rateLimit?: { max: number; timeWindow: number } | false;
  errorBody?: ApiRoute["errorBody"];
}

/** Build the server; `handle` is the bound server's request listener. */
export async function buildServer(
  o: BuildOptions,
): Promise<{ handle: (req: IncomingMessage, res: ServerResponse) => void; close(): Promise<void> }> {
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const app = Fastify({
    bodyLimit: o.maxBodyBytes,
    // The listener bound the port already; Fastify gets the server and hands back its request listener.
    serverFactory: (handler) => {
      handle = handler;
      return o.server;
    },
    logger: false,
    trustProxy: o.trustProxy,
    return503OnClosing: true,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorAnswerer(o.log));
  app.setNotFoundHandler((_request, reply) => {
    void reply.code(404).type("text/plain").send("not found");
  });

  await app.register(rateLimit, {
    global: false,
    cache: 10_000,
    keyGenerator: (request) => request.ip,
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      error: "E_RATE_LIMITED",
      message: `too many requests; retry in ${Math.ceil(context.ttl / 1000)} s`,
    }),
  });
  await app.register(swagger, {
    openapi: {
      info: { title: "Switchboard admin API", version: "1" },
      components: {
        securitySchemes: {
          session: { type: "apiKey", in: "cookie", name: o.authenticator()?.cookieName ?? "sb_session" },
          token: { type: "http", scheme: "bearer" },
        },
      },
    },
    transform: jsonSchemaTransform,
  });

  // Raw routes: the body stays bytes, for the adapters' signature checks.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
    for (const route of o.raw) {
      scope.route({
        method: route.method,
        url: route.path,
        schema: { summary: `${route.method} ${route.path} (raw body)`, tags: ["webhooks"] },
        handler: async (request, reply) => {
          const answer = await route.handler({
            method: request.method,
            path: request.url.split("?", 1)[0]!,
            query: new URLSearchParams(request.url.includes("?") ? request.url.slice(request.url.indexOf("?")) : ""),
            headers: request.headers,
            rawBody: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
          });
          void reply.code(answer.status);
          if (answer.headers !== undefined) void reply.headers(answer.headers);
          return reply.send(answer.body ?? "");
        },
      });
    }
  });

  // Declared routes in a scope of their own: cookies are parsed there only, not for every webhook.
  await app.register(async (scope) => {
    await scope.register(cookie);
    for (const route of o.api) {
      const config: RouteConfig = {
        access: route.access,
        ...(route.errorBody === undefined ? {} : { errorBody: route.errorBody }),
        rateLimit:
          route.rateLimit !== undefined
            ? { max: route.rateLimit.max, timeWindow: route.rateLimit.windowMs }
            : route.url.startsWith("/api/")
              ? { max: o.apiRatePerMinute, timeWindow: 60_000 }
              : false,
      };
      scope.route({
        method: route.method,
        url: route.url,
        schema: {
          summary: route.summary,
          tags: route.tags,
          ...(route.access === "public" ? {} : { security: [{ session: [] }, { token: [] }] }),
          ...(route.schema.querystring === undefined ? {} : { querystring: route.schema.querystring }),
          ...(route.schema.params === undefined ? {} : { params: route.schema.params }),
          ...(route.schema.body === undefined ? {} : { body: route.schema.body }),
          response: route.schema.response,
        },
        // A raw route's schema documents its text; the body goes out as it is, not as JSON.
        ...(route.raw === true ? { serializerCompiler: () => (data: unknown) => String(data) } : {}),
        ...(route.bodyLimit === undefined ? {} : { bodyLimit: route.bodyLimit }),
        config: config.rateLimit === false ? { access: config.access, errorBody: config.errorBody } : config,
        // Hooks only where they do something: every hook is a step on each request's path.
        ...(route.url.startsWith("/api/") ? { onSend: apiHeaders } : {}),
        // After the rate limit (an onRequest hook: every attempt counts, bad tokens too), before the body is parsed
        // or validated: a caller who may not call gets 401/403, never a 400. A public route checks its own callers.
        ...(route.access === "public"
          ? {}
          : {
              preParsing: async (request: FastifyRequest, _reply: FastifyReply, payload: unknown) => {
                (request as SignedRequest).signedIn = await authorize(route, request, o.authenticator());
                return payload;
              },
            }),
        handler: async (request, reply) => {
          // The client leaving before the answer is complete aborts the work it asked for (a model call).
          const gone = new AbortController();
          reply.raw.once("close", () => {
            if (!reply.raw.writableFinished) gone.abort(new Error("the client went away"));
          });
          const answer = await route.handler({
            query: request.query,
            params: request.params,
            body: request.body,
            headers: request.headers,
            principal: (request as SignedRequest).signedIn?.principal,
            ...((request as SignedRequest).signedIn?.csrfToken === undefined
              ? {}
              : { csrfToken: (request as SignedRequest).signedIn!.csrfToken! }),
            ip: request.ip,
            signal: gone.signal,
          });
          return send(reply, answer, o.secureCookies);
        },
      });
    }
  });

  app.get("/api/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  if (handle === undefined) throw new Error("Fastify did not hand over its request listener");
  return { handle, close: () => app.close() };
}

/** The API's answers are per person and never cached; nothing it sends is to be sniffed or framed. */
async function apiHeaders(_request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  void reply.header("cache-control", "no-store");
  void reply.header("x-content-type-options", "nosniff");
  void reply.header("x-frame-options", "DENY");
  void reply.header("referrer-policy", "no-referrer");
  return payload;
}

/** A request once its caller is known. */
type SignedRequest = FastifyRequest & { signedIn?: { principal: Principal; csrfToken?: string } };

/** Who a route runs as, or the reason it may not run (401, 403). */
async function authorize(
  route: ApiRoute,
  request: FastifyRequest,
  authenticator: HttpAuthenticator | undefined,
): Promise<{ principal: Principal; csrfToken?: string } | undefined> {
  if (route.access === "public") return undefined;
  const authorization = request.headers.authorization;
  const bearer = authorization?.startsWith("Bearer ") === true ? authorization.slice(7).trim() : undefined;
  const sessionCookie = authenticator === undefined ? undefined : request.cookies[authenticator.cookieName];
  const found =
    authenticator === undefined || (bearer === undefined && sessionCookie === undefined)
      ? undefined
      : await authenticator.authenticate({ bearer, sessionCookie });
  if (found === undefined) throw new ApiError(401, "E_UNAUTHENTICATED", "sign in first, or send a valid API token");
  const { principal } = found;
  if (!principal.scopes.includes(route.access.scope))
    throw new ApiError(403, "E_SCOPE", `this token lacks the "${route.access.scope}" scope`);
  if (principal.via === "web" && STATE_CHANGING.has(request.method)) {
    const sent = request.headers[CSRF_HEADER];
    if (typeof sent !== "string" || found.csrfToken === undefined || !sameToken(sent, found.csrfToken))
      throw new ApiError(403, "E_CSRF", `missing or wrong ${CSRF_HEADER} header`);
  }
  return found;
}

function sameToken(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function send(reply: FastifyReply, answer: ApiAnswer, isSecure: boolean): FastifyReply {
  void reply.code(answer.status);
  if (answer.headers !== undefined) void reply.headers(answer.headers);
  for (const c of answer.cookies ?? []) {
    void reply.setCookie(c.name, c.value, {
      path: "/",
      httpOnly: c.httpOnly,
      sameSite: "strict",
      secure: isSecure ? true : "auto",
      maxAge: c.maxAgeSeconds,
    });
  }
  // A streamed body is piped as it is produced; Fastify destroys it (closing the iterable) if the client leaves.
  if (answer.stream !== undefined) return reply.send(Readable.from(answer.stream, { objectMode: false }));
  return reply.send(answer.body);
}

/** Fastify's error handler: one body shape (`{ error, message }`), the details in the log only. */
function errorAnswerer(log: Logger) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply): void =>
    answerError({ log, error, request, reply });
}

function answerError({
  log,
  error,
  request,
  reply,
}: {
  log: Logger;
  error: unknown;
  request: FastifyRequest;
  reply: FastifyReply;
}): void {
  const shape = (request.routeOptions.config as RouteConfig | undefined)?.errorBody;
  const body = (info: RouteErrorInfo): unknown =>
    shape === undefined ? { error: info.code, message: info.message } : shape(info);
  if (error instanceof ApiError) {
    void reply.code(error.status).send(body({ status: error.status, code: error.code, message: error.message }));
    return;
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    const first = error.validation[0];
    const where = (v: (typeof error.validation)[number]): string =>
      `${error.validationContext ?? "request"}${(v.instancePath || "").replaceAll("/", ".")}`;
    void reply.code(400).send(
      body({
        status: 400,
        code: "E_BAD_ARGS",
        message: error.validation.map((v) => `${where(v)}: ${v.message ?? "invalid"}`).join("; "),
        ...(first === undefined ? {} : { field: where(first) }),
      }),
    );
    return;
  }
  if (error instanceof SwitchboardError) {
    const status = STATUS_OF[error.code] ?? 500;
    if (status === 500) log.error({ err: error, path: request.url }, "http handler failed");
    void reply.code(status).send(body({ status, code: error.code, message: error.chatMessage }));
    return;
  }
  const statusCode = (error as { statusCode?: number }).statusCode;
  if (statusCode === 413) {
    void reply.code(413).header("connection", "close").type("text/plain").send("request body too large");
    return;
  }
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) {
    const code = (error as { error?: unknown }).error;
    void reply.code(statusCode).send(
      body({
        status: statusCode,
        code: typeof code === "string" ? code : "E_BAD_REQUEST",
        message: (error as Error).message,
      }),
    );
    return;
  }
  log.error({ err: error, path: request.url }, "http handler failed");
  if (shape !== undefined) {
    void reply.code(500).send(shape({ status: 500, code: "E_INTERNAL", message: "internal error" }));
    return;
  }
  void reply.code(500).type("text/plain").send("internal error");
}
