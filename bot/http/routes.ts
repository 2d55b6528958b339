/**
 * How a JSON route is declared: once, with zod schemas for its query, path parameters, body and answers. The
 * server validates requests and serializes answers from these schemas and derives the OpenAPI document
 * (`/api/openapi.json`) from them; nothing else describes a route.
 *
 * ```ts
 * http.api(
 *   defineRoute({
 *     method: "GET",
 *     url: "/api/chats/:chatKey/policy",
 *     summary: "A chat's policy",
 *     tags: ["chats"],
 *     access: { scope: "read" },
 *     schema: { params: z.object({ chatKey: z.string() }), response: { 200: policySchema } },
 *     handler: async ({ params, principal }) => ({ status: 200, body: await readPolicy(principal, params.chatKey) }),
 *   }),
 * );
 * ```
 */
import type { z } from "zod";

/** Methods a JSON route may answer. */
export type ApiMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** What a token may do: read everything it can see, or change chats, skills or schedules. */
export type ApiScope = "read" | "chats" | "skills" | "schedules";

/** Every scope, in the order the CLI and the console show them. */
export const API_SCOPES: readonly ApiScope[] = ["read", "chats", "skills", "schedules"];

/**
 * Who is calling, once signed in: a person on a platform (`platform:userId`), through a browser session (`web`)
 * or an API token (`api`). Tokens carry scopes; a session may do whatever its person may.
 */
export interface Principal {
  /** `platform:userId`: the identity the sign-in link or token was bound to. */
  userKey: string;
  platform: string;
  userId: string;
  displayName: string;
  via: "web" | "api";
  /** Scopes of an API token; a session has them all. */
  scopes: readonly ApiScope[];
  /** The session or token id (for listing and revoking). */
  credentialId: string;
}

/**
 * Who may call a route. `public`: anyone (health, the OpenAPI document, redeeming a sign-in link). Otherwise a
 * signed-in principal holding `scope`; state-changing methods also need the CSRF token when called with a cookie.
 */
export type RouteAccess = "public" | { scope: ApiScope };

/** The parts of a request a handler sees, typed by the route's schemas. */
export interface ApiRequest<Q, P, B> {
  query: Q;
  params: P;
  body: B;
  headers: Record<string, string | string[] | undefined>;
  /** Set on every route that is not `public`. */
  principal: Principal | undefined;
  /** The session's CSRF token, when signed in through a browser session. */
  csrfToken?: string;
  /** The client's address, for rate limits and the audit trail. */
  ip: string;
  /** Aborted when the client goes away before the answer is complete (stop the work it asked for). */
  signal: AbortSignal;
}

/** What a handler answers: a status with a body that matches the route's schema for that status. */
export interface ApiAnswer {
  status: number;
  /** JSON per the route's schema; a string, Buffer or stream (server-sent events) on a `raw` route. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Cookies to set (sign-in) or clear (`value: ""` with `maxAgeSeconds: 0`). */
  cookies?: { name: string; value: string; maxAgeSeconds: number; httpOnly: boolean }[];
  /**
   * A body written as it is produced (server-sent events), instead of `body`: each piece is written and flushed
   * as the iterable yields it. When the client goes away the iterable is closed (`return()`), so a generator's
   * `finally` runs, and the request's `signal` is aborted.
   */
  stream?: AsyncIterable<string>;
}

/** An error answer as a route shapes it: the status, the stable code, a safe message, the field at fault. */
export interface RouteErrorInfo {
  status: number;
  code: string;
  message: string;
  /** The request field at fault (`body.messages.0.role`), for validation errors. */
  field?: string;
}

/** The schemas of a route. `response` maps each status the route may answer to its body's schema. */
export interface RouteSchema<Q extends z.ZodType, P extends z.ZodType, B extends z.ZodType> {
  querystring?: Q;
  params?: P;
  body?: B;
  response: Record<number, z.ZodType>;
}

/** One JSON route, declared once. */
export interface ApiRoute<
  Q extends z.ZodType = z.ZodType,
  P extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
> {
  method: ApiMethod;
  /** Fastify's path syntax: `/api/chats/:chatKey`. */
  url: string;
  summary: string;
  tags: string[];
  access: RouteAccess;
  schema: RouteSchema<Q, P, B>;
  /** A tighter limit than the `/api` default for this route (redeeming a sign-in link). */
  rateLimit?: { max: number; windowMs: number };
  /** Answers with a raw string or Buffer (text, CSV) instead of serializing JSON from the schema. */
  raw?: boolean;
  /** A larger body than the listener's `maxBodyBytes` for this route (a message with files); 413 past it. */
  bodyLimit?: number;
  /**
   * The body of this route's error answers (validation, unparsable JSON, thrown `ApiError`s), when it speaks
   * another API's error shape (the model gateway's OpenAI-shaped `{ error: { message, type, param, code } }`).
   * Default `{ error, message }`.
   */
  errorBody?: (error: RouteErrorInfo) => unknown;
  handler(req: ApiRequest<z.output<Q>, z.output<P>, z.output<B>>): Promise<ApiAnswer>;
}

/** Declare a route, inferring the handler's types from its schemas. */
export function defineRoute<Q extends z.ZodType, P extends z.ZodType, B extends z.ZodType>(
  route: ApiRoute<Q, P, B>,
): ApiRoute {
  return route as unknown as ApiRoute;
}

/** An error a handler throws to answer with a status and a stable code (`{ error, message }`). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}
